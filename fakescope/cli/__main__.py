"""``python -m fakescope.cli``: the same entry point as ``fakescope`` (torchrun re-launches use it)."""

import sys

from fakescope.cli import main

sys.exit(main())
