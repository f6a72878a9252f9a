"""LiveLabel: new text each frame without a window re-layout, a new layout when it needs more
lines."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ddpm_desktop.ui.widgets.live_label import LiveLabel


class _LayoutRequests(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _shown_in_a_layout(qtbot, label):
    parent = QWidget()
    qtbot.addWidget(parent)
    QVBoxLayout(parent).addWidget(label)
    parent.resize(400, 200)
    parent.show()
    return parent


def test_same_height_text_does_not_relayout_the_window_more_lines_do(qtbot, qapp):
    label = LiveLabel()
    parent = _shown_in_a_layout(qtbot, label)
    label.setText("t=1: <b>KL</b> = 0.1")
    qapp.processEvents()
    one_line = label.sizeHint().height()
    requests = _LayoutRequests()
    parent.installEventFilter(requests)
    for t in range(2, 30):
        label.setText(f"t={t}: <b>KL</b> = {1 / t:.3g}")
        qapp.processEvents()
    assert requests.count == 0
    assert label.text() == "t=29: <b>KL</b> = 0.0345"
    label.setText("t=30: <b>KL</b> = 0.03<br>reverse t=0: KL = 1.7")
    qapp.processEvents()
    assert requests.count >= 1
    assert label.sizeHint().height() > one_line
    assert label.heightForWidth(400) > one_line
    parent.removeEventFilter(requests)


def test_a_plain_qlabel_would_relayout_every_time(qtbot, qapp):
    """The reason LiveLabel exists (if Qt stops doing this, LiveLabel can go)."""
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    label.setWordWrap(True)
    parent = _shown_in_a_layout(qtbot, label)
    requests = _LayoutRequests()
    parent.installEventFilter(requests)
    for t in range(5):
        label.setText(f"t={t}")
        qapp.processEvents()
    assert requests.count >= 5
    parent.removeEventFilter(requests)
