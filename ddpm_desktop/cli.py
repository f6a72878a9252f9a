"""The `ddpm-desktop` command line: no argument opens the app (`--theme`, `--lecture`), and
each subcommand runs headless.

This module and ddpm_desktop.commands import no Qt: the headless path must work (and start
fast) on a machine with no display. Nor does `--help`, or a command that needs only numpy
(schedule, kl), import torch: only the parser of the command that runs is built in full (a
command module's `add_parser` may import torch for its defaults); the others are listed with
their one-line `HELP`.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# Subcommand name -> module in ddpm_desktop.commands exposing add_parser(sub) and run(args).
COMMANDS = ("schedule", "kl", "train", "sample", "reconstruct", "evaluate", "inpaint",
            "experiment", "export",
            "toy",  # the 2-D diffusion
            "classify",
            "copies",
            "lab",
            "invert",
            "likelihood",
            "uncertainty",
            "twins",
            )


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default as a value, unless it names it already, is a
    switch, or has none (None, an empty list: the help line says what happens without it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        none = action.default is None or action.default is False or action.default == [] \
            or action.default == argparse.SUPPRESS
        if "default" in text.lower() or not action.option_strings or action.nargs == 0 or none:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments in one line and exits 2, and shows defaults."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # pragma: no cover - exercised via CLI tests
        self.exit(2, f"{self.prog}: error: {message}\n")


DESCRIPTION = "Diffusion (DDPM) on 28x28 digits: the desktop app, and headless commands."
EPILOG = ("With no command the app opens, with the options above (both are remembered for the "
          "next start). Each command explains its own options: ddpm-desktop COMMAND --help. "
          "ddpm-desktop --install-desktop-entry adds the app to the desktop's menu "
          "(--uninstall-desktop-entry removes it).")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser (`only` None), or with only that command's options built (`only` "":
    none of them): a command module with a `HELP` line is otherwise listed by it alone."""
    parser = _Parser(prog="ddpm-desktop", description=DESCRIPTION, epilog=EPILOG)
    _add_app_options(parser.add_argument_group("app options (with no command)"))
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND",
                                title="commands")
    for name in COMMANDS:  # a command that fails to import is a bug: let it show
        module = importlib.import_module(f"ddpm_desktop.commands.{name}")
        if only is None or name == only or not hasattr(module, "HELP"):
            module.add_parser(sub)
        else:
            sub.add_parser(name, help=module.HELP)
    return parser


APP_OPTIONS = ("--theme", "--lecture", "--no-lecture")


def _add_app_options(group) -> None:
    group.add_argument("--theme", choices=("dark", "light", "system"),
                       help="colour theme (default: the last one used, at first dark)")
    lecture = group.add_mutually_exclusive_group()
    lecture.add_argument("--lecture", action="store_true", default=None,
                         help="lecture mode: large fonts and thick lines for a projector "
                              "(default: as last time, at first off)")
    lecture.add_argument("--no-lecture", dest="lecture", action="store_false",
                         help="the ordinary fonts and lines")


def _app_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ddpm-desktop", description="Open the app (no subcommand).")
    _add_app_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("--install-desktop-entry", "--uninstall-desktop-entry"):
        from ddpm_desktop import desktop_entry  # the menu entry and icon (no Qt)

        return desktop_entry.main(argv)
    if not argv or argv[0].split("=")[0] in APP_OPTIONS:
        options = _app_parser().parse_args(argv)
        try:
            from ddpm_desktop.ui.app import run_app  # the only place the CLI touches Qt
        except ImportError as exc:  # no PySide6, or Qt's system libraries (libGL, libEGL) missing
            print(f"ddpm-desktop: error: cannot start the app ({' '.join(str(exc).split())}); "
                  "the headless commands still work: ddpm-desktop --help", file=sys.stderr)
            return 2
        return run_app(theme_name=options.theme, lecture=options.lecture)
    parser = build_parser(argv[0] if argv[0] in COMMANDS else "")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handler below
        return code
    except BrokenPipeError:
        # Output piped into `head` (or any reader that stopped): end quietly, as `cat` does.
        # Point stdout at /dev/null so the interpreter's own flush at exit finds no pipe.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout is not a file (redirected in-process)
            pass
        return 0
    except KeyboardInterrupt:
        print("ddpm-desktop: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        # Every user-facing failure (bad file, bad value, unwritable path) is a ValueError or
        # OSError carrying a readable message: print it in one line, no traceback.
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"ddpm-desktop {args.command}: error: {message}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        # torch reports an allocation it cannot make as a RuntimeError (CPU) or its subclass
        # OutOfMemoryError (CUDA); any other RuntimeError is a bug and keeps its traceback.
        if "memory" not in str(exc).lower():
            raise
        print(f"ddpm-desktop {args.command}: error: not enough memory for these settings", file=sys.stderr)
        return 2
    except MemoryError:
        # e.g. a value far too large for this machine (a huge --bins or --steps)
        print(f"ddpm-desktop {args.command}: error: not enough memory for these settings", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
