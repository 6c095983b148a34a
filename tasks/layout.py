"""Where each stage reads and writes under the storage root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tasks.errors import RetuneError

MANIFEST = "manifest.json"
# Written last into a published snapshot: without it, the folder is not a snapshot.
SUCCESS_MARKER = "_SUCCESS"
SPLITS = ("train", "valid")


def check_ds(ds: str) -> str:
    """Return ``ds`` if it is an ISO date (YYYY-MM-DD); it names folders and studies."""
    try:
        parsed = date.fromisoformat(ds)
    except (TypeError, ValueError):
        raise RetuneError(f"ds {ds!r} is not a date of the form YYYY-MM-DD") from None
    if parsed.isoformat() != ds:
        raise RetuneError(f"ds {ds!r} is not a date of the form YYYY-MM-DD")
    return ds


@dataclass(frozen=True)
class Layout:
    """Paths of one pipeline run (pipeline, ds) under ``root``."""

    root: Path
    pipeline: str
    ds: str

    def __post_init__(self) -> None:
        from tasks.spec import NAME_PATTERN

        object.__setattr__(self, "root", Path(self.root).resolve())
        # Both name folders under the root: neither may hold a path of its own.
        if not (isinstance(self.pipeline, str) and NAME_PATTERN.fullmatch(self.pipeline)):
            raise RetuneError(
                f"pipeline name {self.pipeline!r} is not lower-case letters, digits and '_'"
            )
        check_ds(self.ds)

    @property
    def staging_dir(self) -> Path:
        return self.root / "staging" / self.pipeline / f"ds={self.ds}"

    @property
    def dataset_dir(self) -> Path:
        return self.root / "datasets" / self.pipeline / f"ds={self.ds}"

    @property
    def reports_dir(self) -> Path:
        """Validation results, Data Docs and quarantined rows of the run."""
        return self.root / "reports" / self.pipeline / f"ds={self.ds}"

    @property
    def champion_file(self) -> Path:
        """The pipeline's champion pointer (one for all ds)."""
        return self.root / "models" / self.pipeline / "champion.json"

    @property
    def model_dir(self) -> Path:
        return self.root / "models" / self.pipeline / f"ds={self.ds}"


def journal_path(root: str | Path) -> Path:
    """The embedded Optuna journal (used when no MySQL is configured)."""
    return Path(root).resolve() / "optuna" / "journal.log"
