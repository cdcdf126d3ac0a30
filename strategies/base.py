"""The strategy contract, re-exported from :mod:`albench.contracts` (where the core owns it)."""

from albench.contracts import Scan, Strategy, top_k

__all__ = ["Scan", "Strategy", "top_k"]
