"""``python -m albench`` is the ``albench`` command."""

import sys

from albench.cli import main

sys.exit(main())
