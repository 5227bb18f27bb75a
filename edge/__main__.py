"""``python -m edge run --config edge.toml``."""

import sys

from edge.cli import main

sys.exit(main())
