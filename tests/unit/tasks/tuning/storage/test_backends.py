"""Opening the Optuna storage: URLs masked, an unreachable or unknown one refused clearly."""

from __future__ import annotations

import pytest

from tasks.core import StorageUnreachable
from tasks.tuning.storage import mask_url, open_storage


def test_storage_url_password_is_masked() -> None:
    assert mask_url("mysql+pymysql://retune:s3cr3t@db:3306/optuna") == (
        "mysql+pymysql://retune:***@db:3306/optuna"
    )


def test_unreachable_mysql_is_one_clear_error() -> None:
    # Port 9 (discard) has no MySQL behind it on any test machine.
    with pytest.raises(StorageUnreachable) as caught:
        open_storage("mysql+pymysql://retune:hunter22@127.0.0.1:9/optuna")
    text = str(caught.value)
    assert text.startswith("Optuna storage unreachable: MySQL at mysql+pymysql://retune:***@")
    assert "hunter22" not in text


def test_unknown_storage_url_is_rejected() -> None:
    with pytest.raises(StorageUnreachable, match="neither mysql"):
        open_storage("sqlite:///optuna.db")
