"""Tests wait on conditions, never on the clock: no test calls `qtbot.wait(ms)` (or Qt's
`QTest.qWait(ms)`). A fixed wait is too short on a busy machine (a flaky failure) and too long
on an idle one (a slow suite); wait for what the time stood for instead: `qtbot.waitUntil`,
`qtbot.waitSignal`, a worker's `finished`, a timer's own timeout, or tests/ui/settle.py for
deferred layout work. Read from the source, so nothing is imported."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FIXED_WAITS = {("qtbot", "wait"), ("QTest", "qWait")}


def fixed_waits(source: str, filename: str = "<test>") -> list[int]:
    """The line numbers of every `qtbot.wait(...)` / `QTest.qWait(...)` call in `source`."""
    lines = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (node.func.value.id, node.func.attr) in FIXED_WAITS):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_check_finds_a_fixed_wait():
    source = ("def test_x(qtbot):\n"
              "    qtbot.wait(50)\n"
              "    qtbot.waitUntil(lambda: True)\n"
              "    with qtbot.waitSignal(sig):\n"
              "        QTest.qWait(10)\n")
    assert fixed_waits(source) == [2, 5]


def test_no_test_waits_a_fixed_time():
    found = [f"{path.relative_to(TESTS.parent)}:{line}"
             for path in sorted(TESTS.rglob("*.py"))
             for line in fixed_waits(path.read_text(encoding="utf-8"), str(path))]
    assert found == [], (
        "fixed waits (qtbot.wait / QTest.qWait) in the tests; wait on the condition the time "
        "stood for instead (qtbot.waitUntil, qtbot.waitSignal, settle()):\n  "
        + "\n  ".join(found))
