"""The `embedlab` command: one small function per command over the library; it parses and prints, and a
user can do in Python everything it does. Commands live by stage in the modules beside this one.
"""

from __future__ import annotations

import sys

from embedlab.cli import apps, data_eval, scale, ship, training  # noqa: F401  (importing registers the commands)
from embedlab.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    """Console entry point (`embedlab`)."""
    sys.exit(app())
