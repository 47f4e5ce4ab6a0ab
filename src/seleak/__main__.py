"""``python -m seleak`` is the ``seleak`` command."""

import sys

from seleak.cli import main

sys.exit(main())
