"""GPU mode (auto | on | off) -> the device XGBoost trains on."""

from __future__ import annotations

import shutil
import subprocess

from tasks.core.errors import RetuneError


def gpu_count() -> int:
    """GPUs that ``nvidia-smi`` lists on this host (0 when there is no driver)."""
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return 0
    try:
        out = subprocess.run(
            [binary, "--list-gpus"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def resolve_device(mode: str, gpus: int | None = None) -> str:
    """``cuda`` or ``cpu`` for a GPU mode; ``on`` without a GPU is an error, ``auto`` falls back."""
    if mode == "off":
        return "cpu"
    available = gpu_count() if gpus is None else gpus
    if mode == "on":
        if available == 0:
            raise RetuneError("gpu mode 'on' but no GPU is visible on this host (nvidia-smi)")
        return "cuda"
    if mode == "auto":
        return "cuda" if available > 0 else "cpu"
    raise RetuneError(f"gpu mode {mode!r} is not one of auto, on, off")
