"""Launch ddpm-desktop (the same as running `ddpm-desktop` with no arguments)."""
import sys

from ddpm_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
