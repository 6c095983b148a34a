"""The day's storage paths and the ds that names them (tasks.core.layout)."""

from __future__ import annotations

import pytest

from tasks.core import Layout, RetuneError, check_ds


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026-1-2", "../../etc"])
def test_ds_must_be_an_iso_date(bad: str) -> None:
    with pytest.raises(RetuneError, match="is not a date of the form YYYY-MM-DD"):
        check_ds(bad)


def test_layout_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    layout = Layout(tmp_path, "demo", "2026-11-21")
    assert layout.dataset_dir == tmp_path / "datasets" / "demo" / "ds=2026-11-21"
    assert layout.model_dir == tmp_path / "models" / "demo" / "ds=2026-11-21"
