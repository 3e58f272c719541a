"""`python3 -m bench` (with scripts/ on the path): see cli.main."""

import sys

from .cli import main

sys.exit(main())
