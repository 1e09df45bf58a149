"""``python -m fer`` is the ``fer`` command."""

import sys

from fer.cli import main

sys.exit(main())
