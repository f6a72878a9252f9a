"""The windows and dialogs beside the main window: the Export dialog, the Guide and the results
card, each a view built on first use and wired to the session here; the 2-D and twins windows
are composed in toy2d_window.py and twins_window.py. Each is sized for its screen
(screen_fit.fit_window) and, when asked for again, shown and raised (`show_window`)."""
from __future__ import annotations

from PySide6.QtWidgets import QWidget

from ddpm_desktop.ui import screen_fit
from ddpm_desktop.ui.help_texts import apply_help
from ddpm_desktop.ui.widgets.export_dialog import ExportDialog
from ddpm_desktop.ui.widgets.results_card import ResultsCard


def show_window(w: QWidget) -> QWidget:
    """Show `w`, bring it in front of the others and give it the keyboard; returns `w`."""
    w.show()
    w.raise_()
    w.activateWindow()
    return w


def build_export_dialog(session, parent: QWidget | None = None) -> ExportDialog:
    """The one Export dialog: a view of the export area's state, refreshed when what it
    offers changes (the chains, the model one-digit "both" needs, the sampler)."""
    s = session
    dialog = ExportDialog(s.export, s.exporter.chains_lengths, parent)
    dialog.export_requested.connect(s.exporter.start)
    dialog.cancel_requested.connect(s.exporter.cancel)
    s.reverse.run_finished.connect(lambda _ok: dialog.refresh())
    s.forward.chain_changed.connect(dialog.refresh)
    s.model_state.changed.connect(dialog.refresh)
    s.sampler.changed.connect(lambda _settings: dialog.refresh())
    apply_help(dialog)
    screen_fit.fit_window(dialog, share=screen_fit.DIALOG_SHARE)
    return dialog


def show_export_dialog(session, parent: QWidget | None,
                       existing: ExportDialog | None) -> ExportDialog:
    """Show the one Export dialog (a view of the session's export state), building it the
    first time, refreshed to what can be exported now."""
    dialog = existing if existing is not None else build_export_dialog(session, parent)
    dialog.refresh()
    return show_window(dialog)


def show_guide(parent: QWidget | None, existing: QWidget | None) -> QWidget:
    """Show Help > Guide (widgets/guide.py), building it the first time."""
    if existing is None:
        from ddpm_desktop.ui.widgets.guide import GuideDialog

        existing = GuideDialog(parent)
        screen_fit.fit_window(existing, share=screen_fit.DIALOG_SHARE)
    return show_window(existing)


def build_results_card(session, parent: QWidget | None = None) -> ResultsCard:
    """A poster experiment's numbers, beside the window, shown when the experiments area
    reports a card."""
    card = ResultsCard(parent)
    screen_fit.fit_window(card, share=screen_fit.DIALOG_SHARE)
    session.experiments.card.connect(card.show_card)
    return card
