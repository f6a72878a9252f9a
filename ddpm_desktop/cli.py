"""The `ddpm-desktop` command line. No argument opens the app (`--theme`, `--lecture`);
subcommands run headless.

This module and ddpm_desktop.commands import no Qt: the headless path must work (and start
fast) on a machine with no display.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# Subcommand name -> module in ddpm_desktop.commands exposing add_parser(sub) and run(args).
COMMANDS = ("schedule", "kl", "train", "sample", "reconstruct", "evaluate", "inpaint",
            "experiment", "export",
            "toy")  # helper D: the 2-D diffusion (issue 14)


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments in one line and exits 2."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised via CLI tests
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ddpm-desktop", description=__doc__.splitlines()[0],
                     epilog="ddpm-desktop --install-desktop-entry adds the app to the desktop's "
                            "menu (--uninstall-desktop-entry removes it).")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name in COMMANDS:  # a command that fails to import is a bug: let it show
        importlib.import_module(f"ddpm_desktop.commands.{name}").add_parser(sub)
    return parser


APP_OPTIONS = ("--theme", "--lecture", "--no-lecture")


def _app_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ddpm-desktop", description="Open the app (no subcommand).")
    parser.add_argument("--theme", choices=("dark", "light", "system"),
                        help="colour theme (remembered)")
    lecture = parser.add_mutually_exclusive_group()
    lecture.add_argument("--lecture", action="store_true", default=None,
                         help="lecture mode: large fonts, thick lines (remembered)")
    lecture.add_argument("--no-lecture", dest="lecture", action="store_false")
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
    parser = build_parser()
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
