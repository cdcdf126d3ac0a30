"""The task contract, re-exported from :mod:`albench.contracts` (where the core owns it)."""

from albench.contracts import *  # noqa: F403  (the contract, unchanged)
from albench.contracts import __all__  # noqa: F401
