"""Theme: every colour of the UI and of exported frames is a named role of render/palette.py
(applied by ui/theme.py), legible in both themes.

The contrast checks use the WCAG 2 definition (relative luminance of sRGB, ratio
(L1 + 0.05) / (L2 + 0.05)): 4.5 for text, 3 for lines and marks (WCAG 1.4.3 / 1.4.11).
"""
from __future__ import annotations

import dataclasses
import io
import re
import tokenize
from pathlib import Path

import pytest

from ddpm_desktop.render.palette import (DARK_COLORS, LIGHT_COLORS, dark_palette, light_palette,
                                         plot_colors, rgb)
from ddpm_desktop.ui import theme

UI = Path(theme.__file__).resolve().parent
PACKAGE = UI.parent

# Files that may still spell colours out. render/palette.py is where they live; others are
# owned by the state-layer rework and move to roles there (then leave this list: the test
# below fails for an entry that has no literal left, so the list only shrinks).
ALLOWED = {
    "render/palette.py": "the definitions",
}

# in string literals: "#rgb", "#rrggbb", "#rrggbbaa"; CSS colour names in a style sheet
_HEX = re.compile(r"#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
_CSS_NAME = re.compile(
    r"(?:color|background|border)[\w-]*\s*:[^;{}]*\b(?:black|white|red|green|blue|gr[ae]y|"
    r"yellow|orange|purple|cyan|magenta|silver)\b", re.IGNORECASE)
# in code (strings replaced by "", comments dropped)
_CODE = [
    re.compile(r"\bQColor\(\s*(?:\d|\"\")"),  # QColor(255, 0, 0), QColor("#fff")
    re.compile(r"\bQt\.(?:GlobalColor\.)?(?:white|black|red|green|blue|cyan|magenta|yellow|"
               r"gray|darkGray|lightGray|darkRed|darkGreen|darkBlue|darkYellow)\b"),
    re.compile(r"\b(?:mkPen|mkBrush|mkColor|intColor|setBackground|setForeground|setColor|"
               r"setPen|setBrush)\(\s*(?:\(|\[|\d|\"\")"),  # pg.mkPen("w"), mkBrush((1, 2, 3))
    re.compile(r"\b(?:color|pen|brush|symbolBrush|symbolPen|fillBrush|background|foreground)"
               r"\s*=\s*(?:\(|\[|\d|\"\")"),  # brush=(90, 140, 220), color="w"
    # a bare (r, g, b[, a]) tuple: not a call's parentheses
    re.compile(r"(?<![\w\])])\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*(?:,\s*\d{1,3}\s*)?\)"),
]


def colour_literals(source: str) -> list[str]:
    """The hard-coded colours in Python source: one "line N: text" per finding."""
    found = []
    lines = source.splitlines()
    code = [list(line) for line in lines]  # the source with strings as "" and no comments
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.STRING, tokenize.COMMENT):
            continue
        if tok.type == tokenize.STRING and (_HEX.search(tok.string)
                                            or _CSS_NAME.search(tok.string)):
            found.append(f"line {tok.start[0]}: {tok.string.strip()[:60]}")
        (r0, c0), (r1, c1) = tok.start, tok.end
        for r in range(r0, r1 + 1):  # blank it in place: columns and line numbers stay put
            row = code[r - 1]
            a, b = (c0 if r == r0 else 0), (c1 if r == r1 else len(row))
            row[a:b] = " " * (b - a)
        if tok.type == tokenize.STRING:
            code[r0 - 1][c0:c0 + 2] = '""'
    for n, row in enumerate(code, 1):
        if any(p.search("".join(row)) for p in _CODE):
            found.append(f"line {n}: {lines[n - 1].strip()[:60]}")
    return found


def ui_files():
    """ui/ and the renderer's render/ (the app's views and its exported frames)."""
    return sorted(UI.rglob("*.py")) + sorted((PACKAGE / "render").rglob("*.py"))


@pytest.mark.parametrize("snippet", [
    'QColor(255, 80, 80)', 'QColor("#555")', 'x.setStyleSheet("border: 1px solid #555;")',
    'label.setStyleSheet("background: black;")', 'pg.mkPen("w")', "pg.mkPen((120, 150, 200, 90))",
    "BarGraphItem(x=x, brush=(90, 140, 220))", "BACKGROUND = (24, 24, 28)",
    "p.setBrush(Qt.GlobalColor.white)", "p.setPen(Qt.red)", 'plot.setBackground("k")',
    'f"color: #ff0000; {x}"', "item.setColor([10, 20, 30])",
])
def test_the_scan_finds_colour_literals(snippet):
    assert colour_literals(snippet + "\n"), snippet


@pytest.mark.parametrize("snippet", [
    "layout.setContentsMargins(6, 6, 6, 6)", "x.reshape(1, 1, 28, 28)",
    "pg.mkPen(colors.forward, width=2)", "QColor(colors.cursor)", "self.setBackground(None)",
    '"MNIST test #0 (label 7)"', "# a comment about #ffffff and (1, 2, 3)",
    'f"color: {fg}; border: 1px solid {fg};"', 'QLabel("w")', "np.full((3, 3), -1.0)",
    '"""Docstring: pick a colour as \'#rrggbb\'."""',
])
def test_the_scan_passes_clean_code(snippet):
    assert colour_literals(snippet + "\n") == [], snippet


def test_no_hard_coded_colours_outside_the_theme():
    offenders = {}
    for path in ui_files():
        rel = path.relative_to(PACKAGE).as_posix()
        hits = colour_literals(path.read_text(encoding="utf-8"))
        if hits and rel not in ALLOWED:
            offenders[rel] = hits
    assert not offenders, f"colours belong in render/palette.py as named roles: {offenders}"


def test_the_allow_list_only_names_files_that_still_need_it():
    stale = [rel for rel in ALLOWED
             if not colour_literals((PACKAGE / rel).read_text(encoding="utf-8"))]
    assert not stale, f"no colour literal left in {stale}: remove them from ALLOWED"


# ----------------------------------------------------------------------------- the roles


def _luminance(colour: str) -> float:
    def linear(c):
        c /= 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula_matches_wcag_reference_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # WCAG's example


COLOUR_ROLES = [f.name for f in dataclasses.fields(theme.PlotColors) if f.name != "grid_alpha"]
MARKS = ("forward", "reverse", "reverse_b", "gaussian", "exact", "floor", "cursor", "bar",
         "bar_clipped", "loss", "loss_smooth", "warn", "bad", "good")


@pytest.mark.parametrize("colors", [DARK_COLORS, LIGHT_COLORS], ids=["dark", "light"])
def test_every_role_is_a_colour_and_legible(colors):
    for role in COLOUR_ROLES:
        rgb(getattr(colors, role))  # "#rrggbb", or ValueError
    bg, inset = colors.background, colors.inset
    for surface in (bg, inset):  # plots in the app; plots inside an exported frame
        assert contrast(colors.foreground, surface) >= 7
        assert contrast(colors.muted, surface) >= 4.5
    for role in MARKS:
        assert contrast(getattr(colors, role), bg) >= 3, role
    for role in ("bar", "bar_clipped", "gaussian", "forward", "cursor"):  # drawn on the inset
        assert contrast(getattr(colors, role), inset) >= 3, role
    for role in ("brush", "eraser", "cursor", "outline"):  # drawn over a digit's black
        assert contrast(getattr(colors, role), colors.image_bg) >= 3, role
    assert contrast(colors.image_gap, colors.image_bg) >= 1.5  # tiles stay apart


def test_plot_colours_follow_the_palette():
    assert plot_colors(dark_palette()) is DARK_COLORS
    assert plot_colors(light_palette()) is LIGHT_COLORS


def test_rgb_and_qcolor():
    assert rgb("#0a10ff") == (10, 16, 255)
    with pytest.raises(ValueError, match="#rrggbb"):
        rgb("w")
    c = theme.qcolor("#0a10ff", 70)
    assert (c.red(), c.green(), c.blue(), c.alpha()) == (10, 16, 255, 70)
