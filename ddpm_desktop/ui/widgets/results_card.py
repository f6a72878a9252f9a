"""The results card of a poster experiment: a small non-modal window beside the main one.

`ResultsCard.show_card(card)` (an ui.session_experiments.ExperimentCard) shows the title, what
was set up, and then the numbers: for the digit's KL sequence (poster-digit-kl) the poster's
five values apart (their t is not given), our four KL quantities at t fixed in advance, every
one at the same t, the t at which each of our curves would reach each poster value, and what can
and cannot be inferred (core.experiments.POSTER_DIGIT_KL_READING); for the others, each number
with the poster's value beside ours where the poster has one. Every KL reads through
core.readout.format_kl; every cell says which quantity it is, its tooltip the formula. All text
is plain text.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ddpm_desktop.core import experiments
from ddpm_desktop.core.kl import indistinguishable_level
from ddpm_desktop.core.readout import POINT_MASS, POINT_MASS_TIP, Readout, format_kl, number

# The four KL quantities of a digit's forward chain (docs/KL.md): header, formula (tooltip).
EXACT = ("exact KL (pixel-value marginal)",
         "KL(p_t ‖ N(0, 1)) of the pixel-value marginal p_t = (1/784) Σᵢ N(√ᾱ_t x₀ⁱ, 1 − ᾱ_t), "
         "by quadrature (core.marginal): exact, no sampling.")
ESTIMATE = ("our estimate ± spread (one frame)",
            "The tail-keeping spacing estimate of KL(p̂ ‖ N(0, 1)) from the 784 pixel values of one "
            "frame x_t, ± its sampling standard deviation (delta method); below its resolution "
            "it cannot be told from N(0, 1) (core.kl.estimated_kl_band_batch).")
BOUND = ("upper bound (mean KL of q(x_t|x₀))",
         "(1/784) Σᵢ KL(q(x_tⁱ|x₀ⁱ) ‖ N(0, 1)) = mean of ½(ᾱ_t (x₀ⁱ)² + (1 − ᾱ_t) − 1 − "
         "ln(1 − ᾱ_t)): the KL of a mixture is at most the mixture of the KLs, so it bounds the "
         "exact KL from above (core.kl.analytic_kl_q).")
HISTOGRAM = ("histogram KL (the poster's method)",
             "Σ_b p̂_b ln(p̂_b / q_b) over the bins of one frame's 784 pixel values, q_b N(0, 1)'s "
             "mass in bin b; on N(0, 1) samples it reads (bins − 1)/2n on average, not 0 "
             "(core.kl.histogram_kl_batch).")
POSTER_TIP = ("The poster lists this KL of a digit's forward chain without its t, its digit or "
              "which quantity it is.")


def _item(text: str, tooltip: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(tooltip)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    return item


def _kl_item(reading: Readout, what: str, formula: str) -> QTableWidgetItem:
    tip = f"{what}: {formula}" + (f"\n{reading.tooltip}" if reading.tooltip else "")
    return _item(reading.text, tip)


class ResultsCard(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(False)
        self.setObjectName("resultsCard")
        self.setWindowTitle("Results")
        self.card = None
        layout = QVBoxLayout(self)
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.setup, self.poster, self.reading, self.note = QLabel(), QLabel(), QLabel(), QLabel()
        for label in (self.title, self.setup, self.poster, self.reading, self.note):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ours_title, self.crossings_title = QLabel(), QLabel()
        for label in (self.ours_title, self.crossings_title):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)
        self.ours, self.crossings = QTableWidget(), QTableWidget()
        for table in (self.ours, self.crossings):
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.verticalHeader().setVisible(False)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for label, name in ((self.title, "Experiment"), (self.setup, "What was set up"),
                            (self.poster, "The poster's values"),
                            (self.reading, "What can and cannot be inferred"),
                            (self.note, "Note"), (self.ours_title, "Our numbers, title"),
                            (self.crossings_title, "Where our curves reach the poster's, title")):
            label.setAccessibleName(name)  # read with its text by a screen reader
        self.ours.setAccessibleName("Our numbers")
        self.crossings.setAccessibleName("Where our curves reach the poster's values")
        for w in (self.title, self.setup, self.poster, self.ours_title, self.ours,
                  self.crossings_title, self.crossings, self.reading, self.note):
            layout.addWidget(w)
        self.resize(760, 620)

    # ------------------------------------------------------------------ showing a card

    def show_card(self, card) -> None:
        """Show `card` (an ExperimentCard) and raise the window."""
        self.card = card
        self.setWindowTitle(f"Results: {card.title}")
        self.title.setText(card.title)
        self.setup.setText(f"Set up: {card.setup}")
        self.poster.setText("")
        self.reading.setText("")
        for table, title in ((self.ours, self.ours_title), (self.crossings, self.crossings_title)):
            table.clear()
            table.setRowCount(0)
            table.setColumnCount(0)
            table.setVisible(False)
            title.setText("")
        if card.running:
            self.note.setText("Computing the numbers…")
        else:
            self.note.setText(card.note)
        if card.result is not None:
            if card.name == "poster-digit-kl":
                self._show_digit_kl(card.result)
            else:
                self._show_numbers(card.result)
        self.show()
        self.raise_()

    def _show_digit_kl(self, result) -> None:
        values = experiments.POSTER_DIGIT_KL
        self.poster.setText("The poster's values (no t given, listed apart from ours): "
                            + " → ".join(f"{v:g}" for v in values))
        self.poster.setToolTip(POSTER_TIP)
        ours, crossings = result.tables[0], result.tables[1]
        level = result.number("indistinguishable")
        self.ours_title.setText(ours.title)
        headers = ("t", EXACT[0], ESTIMATE[0], BOUND[0], HISTOGRAM[0])
        self.ours.setColumnCount(len(headers))
        self.ours.setHorizontalHeaderLabels(headers)
        for col, tip in enumerate(("The step of the forward chain: fixed in advance, never "
                                   "fitted to the poster's values.", EXACT[1], ESTIMATE[1],
                                   BOUND[1], HISTOGRAM[1])):
            self.ours.horizontalHeaderItem(col).setToolTip(tip)
        self.ours.setRowCount(len(ours.rows))
        for r, (t, exact, est, spread, bound, hist) in enumerate(ours.rows):
            at = f" at t = {t}"
            self.ours.setItem(r, 0, _item(str(t), "the step t of the forward chain"))
            self.ours.setItem(r, 1, _kl_item(format_kl(exact), EXACT[0] + at, EXACT[1]))
            self.ours.setItem(r, 2, _kl_item(format_kl(est, spread, level), ESTIMATE[0] + at,
                                             ESTIMATE[1]))
            self.ours.setItem(r, 3, _kl_item(format_kl(bound, infinite=POINT_MASS,
                                                       infinite_tip=POINT_MASS_TIP),
                                             BOUND[0] + at, BOUND[1]))
            self.ours.setItem(r, 4, _kl_item(format_kl(hist), HISTOGRAM[0] + at, HISTOGRAM[1]))
        self.ours.setVisible(True)
        self.crossings_title.setText(f"The {crossings.title}.")
        cheads = ("poster's value", "t where the exact KL reaches it",
                  "t where our estimate reaches it", "t where the bound reaches it",
                  "t where the histogram KL reaches it")
        tips = (POSTER_TIP, EXACT[1], ESTIMATE[1], BOUND[1], HISTOGRAM[1])
        self.crossings.setColumnCount(len(cheads))
        self.crossings.setHorizontalHeaderLabels(cheads)
        for col, tip in enumerate(tips):
            self.crossings.horizontalHeaderItem(col).setToolTip(tip)
        self.crossings.setRowCount(len(crossings.rows))
        for r, row in enumerate(crossings.rows):
            self.crossings.setItem(r, 0, _item(f"{row[0]:g}", f"the poster's value: {POSTER_TIP}"))
            for c, t in enumerate(row[1:], start=1):
                text = str(t) if t != "—" else "never"
                self.crossings.setItem(r, c, _item(text, f"{cheads[c]} ({row[0]:g}): the first "
                                                   f"t ≥ 1 with the curve at or below it. {tips[c]}"))
        self.crossings.setVisible(True)
        self.reading.setText("\n\n".join(result.notes))  # POSTER_DIGIT_KL_READING, as the CLI prints it

    def _show_numbers(self, result) -> None:
        self.ours_title.setText("Ours beside the poster's value, where the poster has one "
                                "(KL in nats per pixel value, against N(0, 1))")
        headers = ("quantity", "ours", "the poster")
        self.ours.setColumnCount(len(headers))
        self.ours.setHorizontalHeaderLabels(headers)
        self.ours.setRowCount(len(result.numbers))
        for r, n in enumerate(result.numbers):
            self.ours.setItem(r, 0, _item(n.label, n.label))
            if n.poster is not None:  # the poster's numbers are all KL values
                ours = _kl_item(format_kl(n.ours), n.label, "KL to N(0, 1) in nats")
                poster = _item(f"{n.poster:g}", f"the poster's value of {n.label}")
            else:
                ours = _item(number(float(n.ours), 4), f"{n.label}: raw value {n.ours!r}")
                poster = _item("", "the poster gives no value for this")
            self.ours.setItem(r, 1, ours)
            self.ours.setItem(r, 2, poster)
        self.ours.setVisible(True)
        self.reading.setText("\n\n".join(result.notes))  # what the numbers mean
        if result.tables:  # a KL along the chain (Poster 3): t, exact, estimate, bound, histogram
            self._show_chain_table(result.tables[0])

    def _show_chain_table(self, table) -> None:
        quantities = {"exact marginal": EXACT, "our estimate": ESTIMATE, "upper bound": BOUND,
                      "histogram": HISTOGRAM}
        self.crossings_title.setText(f"{table.title}: our KL to N(0, 1) at each t, every "
                                     "quantity at the same t")
        self.crossings.setColumnCount(len(table.columns))
        self.crossings.setHorizontalHeaderLabels(
            [quantities[c][0] if c in quantities else c for c in table.columns])
        for col, c in enumerate(table.columns):
            self.crossings.horizontalHeaderItem(col).setToolTip(
                quantities[c][1] if c in quantities else "the step t of the forward chain")
        self.crossings.setRowCount(len(table.rows))
        for r, row in enumerate(table.rows):
            t = row[0]
            self.crossings.setItem(r, 0, _item(str(t), "the step t of the forward chain"))
            for col, (c, v) in enumerate(zip(table.columns[1:], row[1:]), start=1):
                name, formula = quantities.get(c, (c, ""))
                if c == "our estimate":  # one frame of 784 values: its resolution
                    reading = format_kl(v, resolution=float(indistinguishable_level(784)))
                elif c == "upper bound":  # ∞ at t = 0 only: q(x₀|x₀) is a point mass
                    reading = format_kl(v, infinite=POINT_MASS, infinite_tip=POINT_MASS_TIP)
                else:
                    reading = format_kl(v)
                self.crossings.setItem(r, col, _kl_item(reading, f"{name} at t = {t}", formula))
        self.crossings.setVisible(True)
