"""Where embedlab reads datasets and keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path | None:
    """The benchmark data folder: `EMBEDLAB_DATA_DIR`, else `../shared/data` beside the working
    directory or beside the source checkout, else None (loaders then fall back to the hub).
    """
    configured = os.environ.get("EMBEDLAB_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    checkout_root = Path(__file__).resolve().parents[2]
    for candidate in (Path.cwd().parent / "shared" / "data", checkout_root.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return None


def cache_dir() -> Path:
    """`EMBEDLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/embedlab` (default `~/.cache/embedlab`)."""
    configured = os.environ.get("EMBEDLAB_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "embedlab"
