"""Every control and readout says what it is: a tooltip (with its formula) and a What's-this
text (Shift+F1) on every interactive widget and value label; Help > Guide ships offline."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDockWidget,
    QLabel,
    QLineEdit,
    QSlider,
    QTabBar,
)

from ddpm_desktop.ui.main_window import MainWindow
from ddpm_desktop.ui.widgets.guide import GuideDialog, load_guide

INTERACTIVE = (QAbstractButton, QComboBox, QAbstractSpinBox, QSlider, QLineEdit)


def _qt_internal(widget) -> bool:
    """Parts Qt builds inside its own widgets (a spin box's line edit, a dock's title
    buttons, a tab bar's scroll arrows): they are explained by their owner."""
    parent = widget.parent()
    return (isinstance(parent, (QAbstractSpinBox, QComboBox, QTabBar, QDockWidget))
            or widget.objectName().startswith("qt_"))


def _unexplained(root):
    out = []
    for cls in INTERACTIVE:
        for w in root.findChildren(cls):
            if not _qt_internal(w) and not (w.toolTip() and w.whatsThis()):
                text = w.text() if hasattr(w, "text") else ""
                out.append(f"{type(w.parent()).__name__}.{type(w).__name__}({text!r})")
    for label in root.findChildren(QLabel):
        if label.property("role") == "value" and not label.toolTip():
            out.append(f"{type(label.parent()).__name__} value label {label.text()[:30]!r}")
    return out


@pytest.fixture
def window(qtbot):
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    yield w
    w.close()


def test_every_control_and_readout_is_explained(window):
    assert _unexplained(window) == []


@pytest.mark.slow
def test_the_export_dialog_is_explained_too(window):
    window.open_export()
    assert _unexplained(window.export_dialog) == []
    window.export_dialog.close()


@pytest.mark.slow
def test_whats_this_and_the_guide_are_in_the_help_menu(window, qtbot):
    assert window.menus.whats_this_action.shortcut().toString() == "Shift+F1"
    assert window.menus.guide_action.shortcut().toString() == "F1"
    window.menus.guide_action.trigger()
    dialog = window.guide_dialog
    assert isinstance(dialog, GuideDialog) and dialog.isVisible()
    titles = [t for t, _ in load_guide()]
    for needed in ("The forward chain", "The schedule", "The KL numbers",
                   "The reverse chain and the samplers", "Guidance", "Training"):
        assert needed in titles
    dialog.index.setCurrentRow(titles.index("The KL numbers"))
    assert "upper bound" in dialog.page.toPlainText()
    dialog.close()


def test_the_guide_ships_with_the_package():
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parents[2]
    cfg = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["ddpm_desktop.resources"]
    assert "*.md" in patterns and (root / "resources" / "GUIDE.md").is_file()


@pytest.mark.slow
def test_lecture_mode_makes_fonts_large_and_lines_thick(window, qtbot):
    from PySide6.QtWidgets import QApplication

    from ddpm_desktop.ui import theme

    app = QApplication.instance()
    normal_pt = app.font().pointSizeF()
    curve = window.histogram_view.kl_marginal_curve
    normal_width = curve.opts["pen"].widthF()
    window.menus.lecture_action.trigger()
    try:
        assert theme.lecture_mode() and window.settings.value("view/lecture", type=bool)
        assert app.font().pointSizeF() >= theme.LECTURE_MIN_PT  # scaled to the screen
        assert app.font().pointSizeF() >= 1.2 * normal_pt
        assert curve.opts["pen"].widthF() == pytest.approx(normal_width * theme.LECTURE_LINE_SCALE)
    finally:
        window.menus.lecture_action.trigger()
    assert not theme.lecture_mode() and app.font().pointSizeF() == normal_pt
    assert curve.opts["pen"].widthF() == pytest.approx(normal_width)


def test_the_command_line_opens_the_app_with_a_theme_and_lecture_mode(monkeypatch):
    from ddpm_desktop import cli

    calls = []
    monkeypatch.setattr("ddpm_desktop.ui.app.run_app",
                        lambda theme_name=None, lecture=None: calls.append((theme_name, lecture)) or 0)
    assert cli.main(["--theme", "light", "--lecture"]) == 0
    assert cli.main(["--no-lecture"]) == 0
    assert calls == [("light", True), (None, False)]
    with pytest.raises(SystemExit) as info:
        cli.main(["--theme", "purple"])
    assert info.value.code == 2


@pytest.mark.slow
def test_the_2d_window_is_explained_too(window):
    window.show_toy2d()
    assert _unexplained(window.toy2d_window) == []
    window.toy2d_window.close()


def test_the_guide_explains_copies_and_likelihood_with_the_numbers_core_computes():
    from ddpm_desktop.core.lessons import LESSONS
    from ddpm_desktop.core.schedule import NoiseSchedule
    from ddpm_desktop.core.speciation import bundled_lambda_max, speciation_time

    pages = dict(load_guide())
    copies = pages["Does it copy?"]
    likelihood = pages["Likelihood, inversion, uncertainty"]
    lam = bundled_lambda_max()
    linear = speciation_time(NoiseSchedule.named("linear", 1000), lam)
    cosine = speciation_time(NoiseSchedule.named("cosine", 1000), lam)
    assert f"Λ = {lam:.1f}" in copies and f"ᾱ_S = {1 / lam:.3f}" in copies
    assert f"t_S = {linear.t} on the default" in copies and f"{cosine.t} on the cosine" in copies
    for cited in ("Gu et al. 2025", "Kadkhodaie", "Biroli et al. 2024", "d1/d2 < 1/3"):
        assert cited in copies
    for cited in ("Hutchinson", "Nalisnick", "Manor & Michaeli", "DDIM", "bits/dim"):
        assert cited in likelihood
    words = {5: "five", 6: "six", 7: "seven", 8: "eight"}
    assert f"opens {words[len(LESSONS)]} guided sequences" in pages["Lessons"]


def test_the_guide_gives_the_equations_the_maths_panel_shows_with_the_codes_constants():
    """Each of the likelihood, inversion and uncertainty equations is in the Guide, and the
    constants it names are the ones core runs with."""
    import math

    from ddpm_desktop.core import likelihood, maths
    from ddpm_desktop.core.schedule import NoiseSchedule

    page = dict(load_guide())["Likelihood, inversion, uncertainty"]
    for equation in ("dx/dλ = ½(σ² x − σ ε_θ(x, λ))",
                     "log p(x₀) = log N(x(λ_min); 0, I) − ∫ (½ σ² D − ½ σ tr ∂ε_θ/∂x) dλ",
                     "x = u/127.5 − 1 + Δ(v − ½)",
                     "bits/dim = −log p(x)/(D ln 2) − log₂ Δ = −log p(x)/(D ln 2) + log₂ 127.5",
                     "x_t = √ᾱ_t (x_s/√ᾱ_s + (σ̄_t − σ̄_s) ε_θ(x_t, t))",
                     "Cov[x₀ | x_t] = ((1 − ᾱ_t)/√ᾱ_t) ∂x̂₀/∂x_t = ((1 − ᾱ_t)/ᾱ_t) (I − √(1 − ᾱ_t) ∂ε_θ/∂x_t)",
                     "V ← orth(Cov V)", "J v ≈ (ε_θ(x_t + h v) − ε_θ(x_t − h v))/2h"):
        assert equation in page, equation
    assert likelihood.BIN == 2 / 255 and "Δ = 2/255" in page
    assert likelihood.LOG2_BIN_OFFSET == math.log2(127.5)
    assert f"{likelihood.DEFAULT_ODE_STEPS} RK4 steps" in page
    assert f"λ_max = {likelihood.DEFAULT_LOG_SNR_MAX:g}" in page
    assert {"likelihood", "inversion", "uncertainty"} <= set(maths.VIEWS)
    assert {t.view for t in maths.likelihood_terms(NoiseSchedule.default())} == {"likelihood"}
