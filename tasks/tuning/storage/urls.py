"""Optuna storage URLs: which kind a URL names, and how to print one without its password.

The URL may carry a password, so it travels only through environment variables and
closures, never command lines or logs; use :func:`mask_url` before printing one.
"""

from __future__ import annotations

import re
from pathlib import Path

JOURNAL_PREFIX = "journal://"
STORAGE_ENV = "RETUNE_OPTUNA_STORAGE"


def journal_url(path: str | Path) -> str:
    return JOURNAL_PREFIX + str(Path(path).resolve())


def mask_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host`` URLs."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
