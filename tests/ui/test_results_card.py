"""Experiments → Poster 2 opens a results card: the poster's values apart, our four KL
quantities at the same fixed t (checked against core's functions called here), what can and
cannot be inferred; the status bar carries one short whole sentence, not a cut description."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_desktop.core import experiments
from ddpm_desktop.core.forward import forward_chain
from ddpm_desktop.core.kl import (analytic_kl_q, estimated_kl_band_batch, histogram_kl_batch,
                                  indistinguishable_level)
from ddpm_desktop.core.marginal import marginal_kl_image_curve
from ddpm_desktop.core.readout import format_kl
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    yield w
    w.close()


def _cells(table, row):
    return [table.item(row, c) for c in range(table.columnCount())]


def test_poster_2_shows_its_results_card(qtbot, window):
    card = window.results_card
    assert not card.isVisible()
    exp = experiments.get("poster-digit-kl")
    window.menus.experiment_actions["poster-digit-kl"].trigger()
    qtbot.waitUntil(lambda: card.isVisible() and card.ours.rowCount() > 0, timeout=20_000)
    assert not card.isModal()
    assert exp.title in card.title.text() and exp.description in card.setup.text()
    for value in ("1.8643", "1.542", "0.501", "0.0993", "0.00101"):
        assert value in card.poster.text()
    assert "cannot" in card.reading.text() and "t fixed in advance" in card.reading.text()

    # our numbers at the same t, computed here from core (the bundled digit, seed 0's chain)
    schedule = NoiseSchedule.named(**exp.schedule)
    digit, _ = experiments.bundled_digit()
    exact = marginal_kl_image_curve(schedule, digit)
    upper = analytic_kl_q(schedule, digit)
    chain = forward_chain(schedule, torch.from_numpy(digit), seed=0)
    frames = chain.x.reshape(schedule.T + 1, -1).numpy()
    est, spread = estimated_kl_band_batch(frames)
    hist = histogram_kl_batch(frames)
    level = float(indistinguishable_level(frames.shape[1]))
    shown_t = [int(card.ours.item(r, 0).text()) for r in range(card.ours.rowCount())]
    assert shown_t == [t for t in experiments.POSTER_KL_GRID if t <= schedule.T]
    for r, t in enumerate(shown_t):
        t_cell, e_cell, s_cell, b_cell, h_cell = _cells(card.ours, r)
        assert e_cell.text() == format_kl(exact[t]).text
        assert s_cell.text() == format_kl(est[t], spread[t], level).text
        assert b_cell.text() == format_kl(upper[t]).text
        assert h_cell.text() == format_kl(hist[t]).text
        # every number says which quantity it is, at which t, and its formula
        for cell, words in ((e_cell, "exact KL"), (s_cell, "estimate"), (b_cell, "upper bound"),
                            (h_cell, "histogram")):
            assert words in cell.toolTip() and f"t = {t}" in cell.toolTip() and "N(0, 1)" in cell.toolTip()
    assert np.all(np.diff(upper[1:]) <= 1e-12)  # sanity: the bound falls with t
    # the crossing table lists each poster value with the t each curve would need
    assert [card.crossings.item(r, 0).text() for r in range(card.crossings.rowCount())] == \
        [f"{v:g}" for v in experiments.POSTER_DIGIT_KL]
    first = int(np.flatnonzero(exact[1:] <= 1.8643)[0]) + 1
    assert card.crossings.item(0, 1).text() == str(first)

    # the status bar: one short whole sentence, not the experiment's description cut off
    message = window.statusBar().currentMessage()
    assert message.startswith("Poster 2") and message.endswith(".")
    assert exp.description not in message
    fm = window.statusBar().fontMetrics()
    assert fm.horizontalAdvance(message) < 700


def test_poster_3_card_puts_the_poster_beside_ours(qtbot, window):
    card = window.results_card
    window.session.experiments.apply("poster-exponential")
    qtbot.waitUntil(lambda: card.isVisible() and card.ours.rowCount() > 0, timeout=20_000)
    posters = [card.ours.item(r, 2).text() for r in range(card.ours.rowCount())]
    assert "3.7697" in posters
    assert "Poster 3" in card.title.text()


def test_poster_1_card_says_where_its_result_is(qtbot, window):
    card = window.results_card
    window.session.experiments.apply("poster-noise")
    qtbot.waitUntil(card.isVisible, timeout=5_000)
    assert "reverse run" in card.note.text() and card.ours.rowCount() == 0


def test_poster_3_chain_table_reads_the_bound_at_t0_as_a_point_mass(qtbot, window):
    card = window.results_card
    window.session.experiments.apply("poster-exponential")
    qtbot.waitUntil(lambda: card.crossings.rowCount() > 0, timeout=20_000)
    headers = [card.crossings.horizontalHeaderItem(c).text() for c in range(card.crossings.columnCount())]
    bound_col = next(c for c, h in enumerate(headers) if h.startswith("upper bound"))
    assert card.crossings.item(0, 0).text() == "0"
    cell = card.crossings.item(0, bound_col)
    assert cell.text().startswith("∞") and "point mass" in cell.text()
    assert "point mass" in cell.toolTip()


def test_a_results_card_shows_what_the_numbers_mean(qtbot):
    """The result's notes (here Poster 1's unsure reading of its final x_0) are on the card, as
    `ddpm-desktop experiment` prints them."""
    from ddpm_desktop.core.classifier import reading_text
    from ddpm_desktop.core.experiment_types import ExperimentResult, Number
    from ddpm_desktop.ui.session_experiments import ExperimentCard
    from ddpm_desktop.ui.widgets.results_card import ResultsCard

    note = f"The classifier reads the final x_0 as {reading_text(8, 0.53, True)}."
    result = ExperimentResult("poster-noise", "Poster 1", [Number("confidence", "classifier confidence", 0.53)],
                              notes=[note])
    card = ResultsCard()
    qtbot.addWidget(card)
    card.show_card(ExperimentCard("poster-noise", "Poster 1", "x_T = torch.randn", result))
    assert card.reading.text() == note and "8? (p = 0.53, unsure)" in card.reading.text()
