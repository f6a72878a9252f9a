"""What a screen reader hears: an accessible name and description for every widget, and one
line that describes the current frame.

`name_widgets(root)` gives each widget under `root` that has none an accessible name (its
label's text, its own text, its tooltip's first sentence, its dock's or plot's title) and an
accessible description (its tooltip as plain text). `FrameDescription` keeps one plain-text
line about the frame on screen (t, ᾱ_t, the KL numbers, the classifier's reading and its p)
as the accessible description of the views it is attached to, announced on every change.
`make_accessible(window)` does both for the main window.
"""
from __future__ import annotations

import html
import math
import re

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAccessible, QAccessibleEvent
from PySide6.QtWidgets import (QAbstractButton, QAbstractScrollArea, QAbstractSpinBox,
                               QComboBox, QDockWidget, QFormLayout, QGroupBox, QLabel, QTabBar,
                               QTabWidget, QWidget)

from ddpm_desktop.core.classifier import UNSURE_P

_TAG = re.compile(r"<[^>]+>")
# a sentence ends at ". " (not "e.g. "), "; ", ": " before a clause, or a line break
_SENTENCE_END = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.;])\s|\n|:\s")


def plain(text: str) -> str:
    """Rich text as plain text: tags dropped, entities decoded, whitespace collapsed."""
    text = _TAG.sub(" ", text.replace("<br>", "\n"))
    return " ".join(html.unescape(text).split())


def first_sentence(text: str) -> str:
    """The first sentence of a tooltip (up to its first '. ', '; ', ': ' or line break)."""
    text = _TAG.sub(" ", text.replace("<br>", "\n"))
    head = _SENTENCE_END.split(html.unescape(text).strip(), maxsplit=1)[0]
    return " ".join(head.split()).rstrip(".;:")


def _label_names(root: QWidget) -> dict[int, str]:
    """id(widget) -> the text of the label that names it (a QLabel buddy, a form row)."""
    names: dict[int, str] = {}
    for label in root.findChildren(QLabel):
        buddy = label.buddy()
        if buddy is not None and label.text():
            names[id(buddy)] = plain(label.text()).replace("&", "")
    for form in root.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label is None or field is None or field.widget() is None:
                continue
            if isinstance(label.widget(), QLabel) and label.widget().text():
                names.setdefault(id(field.widget()), plain(label.widget().text()))
    return names


def _plot_title(widget: QWidget) -> str:
    import pyqtgraph as pg

    if isinstance(widget, pg.PlotWidget):
        item = widget.getPlotItem()
        if item.titleLabel is not None and item.titleLabel.text:
            return plain(item.titleLabel.text)
        label = item.getAxis("left").labelText
        if label:
            return f"plot of {plain(label)}"
    return ""


def _derived_name(widget: QWidget, labels: dict[int, str]) -> str:
    parent = widget.parentWidget()
    if id(widget) in labels:
        return labels[id(widget)]
    if parent is not None and parent.accessibleName() and (
            isinstance(parent, QAbstractSpinBox) and widget.objectName() == "qt_spinbox_lineedit"
            or isinstance(parent, QAbstractScrollArea) and widget is parent.viewport()
            or isinstance(parent, QComboBox)):
        return parent.accessibleName()  # the inner editor or canvas of a named control
    if isinstance(widget, QAbstractButton) and widget.text():
        return widget.text().replace("&", "")
    title = _plot_title(widget)  # a plot is named by its title; its tooltip describes it
    if title:
        return title
    if widget.toolTip():
        return first_sentence(widget.toolTip())
    if isinstance(widget, QGroupBox) and widget.title():
        return widget.title().replace("&", "")
    if isinstance(widget, QDockWidget):
        return widget.windowTitle()
    if isinstance(widget, QAbstractScrollArea) and isinstance(parent, QDockWidget):
        return f"{parent.windowTitle()} panel"
    if isinstance(widget, QTabBar) and widget.count():
        tabs = ", ".join(widget.tabText(i).replace("&", "") for i in range(widget.count()))
        return f"tabs: {tabs}"
    if isinstance(widget, QTabWidget) and widget.count():
        tabs = ", ".join(widget.tabText(i).replace("&", "") for i in range(widget.count()))
        return f"pages: {tabs}"
    if parent is not None and parent.accessibleName() and not isinstance(parent, QDockWidget):
        return parent.accessibleName()  # a plot's canvas, a strip's inner view
    return ""


def name_widgets(root: QWidget) -> int:
    """Give every widget under `root` (and `root`) without an accessible name one, and one
    without a description its tooltip. Parents come before their children, so a control's
    inner editor takes the control's name. Returns how many names were set."""
    labels = _label_names(root)
    count = 0
    for widget in [root] + root.findChildren(QWidget):
        if not widget.accessibleName():
            name = _derived_name(widget, labels)
            if name:
                widget.setAccessibleName(name)
                count += 1
        if not widget.accessibleDescription() and widget.toolTip():
            widget.setAccessibleDescription(plain(widget.toolTip()))
    return count


# ----------------------------------------------------------------------------- the frame line


def _number(value: float | None) -> str:
    if value is None:
        return "pending"
    if not math.isfinite(value):
        return "infinite"
    return f"{value:.3g}"


def describe_frame(forward, decision, reverse_index: int) -> str:
    """One line for a screen reader about the forward frame t and the reverse chain's reading:
    t and ᾱ_t, the KL to N(0, 1) per pixel (exact, estimated, histogram, bound, in nats), and
    the class the classifier reads at the reverse chain's frame with its p."""
    if forward.frames is None or forward.schedule is None:
        return "No forward chain yet."
    t = forward.t

    def at(curve):
        return None if curve is None else float(curve[t])

    parts = [f"Frame t = {t} of {forward.T}, alpha-bar t = {forward.schedule.alpha_bar(t):.3g}.",
             f"KL to N(0, 1) per pixel: exact {_number(at(forward.kl_marginal))}, "
             f"estimated {_number(at(forward.kl_estimate))}, "
             f"histogram {_number(at(forward.kl_hist))}, "
             f"bound {_number(at(forward.kl_conditional))} nats."]
    row = decision.row_for_frame(reverse_index) if len(decision.ts) else None
    if row is None:
        parts.append("No classifier reading yet.")
    else:
        probs = decision.probs[row]
        k = int(np.argmax(probs))
        if row < len(decision.digits) and not decision.digits[row]:  # the reader's verdict
            parts.append(f"Classifier: not a digit at reverse step t = {int(decision.ts[row])}.")
        else:
            unsure = ", unsure" if probs[k] < UNSURE_P else ""
            parts.append(f"Classifier reads {k} with p = {probs[k]:.2f}{unsure} "
                         f"at reverse step t = {int(decision.ts[row])}.")
    return " ".join(parts)


class FrameDescription(QObject):
    """The frame line (`describe_frame`), kept current from the forward, decision and reverse
    states and set as the accessible description of the attached widgets.

    Signal `changed(str)`: the new line."""

    changed = Signal(str)

    def __init__(self, forward, decision, reverse, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.forward, self.decision, self.reverse = forward, decision, reverse
        self._widgets: list[QWidget] = []
        self.text = ""
        for signal in (forward.frame_changed, forward.chain_changed, forward.kl_changed,
                       decision.changed, decision.reset, reverse.frame_changed):
            signal.connect(self._update)
        self._update()

    def attach(self, *widgets: QWidget) -> None:
        self._widgets.extend(widgets)
        for widget in widgets:
            widget.setAccessibleDescription(self.text)

    def _update(self, *_args) -> None:
        text = describe_frame(self.forward, self.decision, self.reverse.index)
        if text == self.text:
            return
        self.text = text
        for widget in self._widgets:
            widget.setAccessibleDescription(text)
            if QAccessible.isActive():
                QAccessible.updateAccessibility(
                    QAccessibleEvent(widget, QAccessible.Event.DescriptionChanged))
        self.changed.emit(text)


def make_accessible(window) -> FrameDescription:
    """Name every widget of the main window and attach the frame line to the forward view
    (its image and its t slider, where the keyboard is while stepping)."""
    s = window.session
    line = FrameDescription(s.forward, s.decision, s.reverse, window)
    view = window.forward_view
    line.attach(view, view.pane, view.slider)
    name_widgets(window)
    window.frame_description = line
    return line
