"""Which device a GPU mode picks (tasks.core.devices)."""

from __future__ import annotations

import pytest

from tasks.core import RetuneError, resolve_device


def test_gpu_modes_fall_back_or_fail_clearly() -> None:
    assert resolve_device("off", gpus=4) == "cpu"
    assert resolve_device("auto", gpus=0) == "cpu"
    assert resolve_device("auto", gpus=1) == "cuda"
    assert resolve_device("on", gpus=2) == "cuda"
    with pytest.raises(RetuneError, match="gpu mode 'on' but no GPU is visible"):
        resolve_device("on", gpus=0)
