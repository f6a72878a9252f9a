"""Help > Guide: the guide shipped with the package (resources/GUIDE.md), one page per section,
readable offline."""
from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QDialog, QHBoxLayout, QListWidget, QTextBrowser, QWidget

from ddpm_desktop import resources_path


def guide_sections(text: str) -> list[tuple[str, str]]:
    """[(title, markdown)] for each "## " section of the guide (the "# " title dropped)."""
    sections: list[tuple[str, str]] = []
    for block in text.split("\n## ")[1:]:
        title, _, body = block.partition("\n")
        sections.append((title.strip(), f"## {title.strip()}\n{body}"))
    return sections


def load_guide() -> list[tuple[str, str]]:
    return guide_sections((resources_path() / "GUIDE.md").read_text(encoding="utf-8"))


class GuideDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DDPM Desktop guide")
        self.sections = load_guide()
        self.index = QListWidget()
        self.index.setToolTip("The guide's pages")
        self.index.addItems([title for title, _ in self.sections])
        self.index.setMaximumWidth(220)
        self.page = QTextBrowser()
        self.page.setOpenExternalLinks(False)
        layout = QHBoxLayout(self)
        layout.addWidget(self.index)
        layout.addWidget(self.page, 1)
        self.index.currentRowChanged.connect(self._on_row_changed)
        self.index.setCurrentRow(0)
        self.resize(820, 560)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)

    @Slot(int)
    def _on_row_changed(self, row: int) -> None:
        if 0 <= row < len(self.sections):
            self.page.setMarkdown(self.sections[row][1])
