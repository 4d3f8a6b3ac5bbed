"""Where the runner keeps things: the repository, the jar cache, state directories."""

from __future__ import annotations

import os
from pathlib import Path

DEPLOY_LOCAL = Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    return DEPLOY_LOCAL.parents[1]


def local_dir() -> Path:
    """Git-ignored home of caches and state (NEWSFLOW_LOCAL_DIR overrides)."""
    return Path(os.environ.get("NEWSFLOW_LOCAL_DIR", repo_root() / ".local")).resolve()


def cache_dir() -> Path:
    """Downloaded jars (NEWSFLOW_CACHE_DIR overrides), shared by every state directory."""
    return Path(os.environ.get("NEWSFLOW_CACHE_DIR", local_dir() / "cache")).resolve()
