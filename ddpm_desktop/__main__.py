import sys

from ddpm_desktop.cli import main

sys.exit(main())
