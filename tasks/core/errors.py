"""Errors that name what is wrong. Each stage raises one of these for bad input."""

from __future__ import annotations


class RetuneError(Exception):
    """Base class of every error Retune raises on purpose."""


class SpecError(RetuneError):
    """A pipeline spec is invalid; the message names the file and the field."""


class RawPartitionMissing(RetuneError):
    """The raw data partition for a ds does not exist or holds no data files."""


class DataSchemaError(RetuneError):
    """Raw data does not match the spec's schema (missing or unknown columns)."""


class DataQualityError(RetuneError):
    """Too many raw rows are unusable or duplicated for the spec's tolerances."""


class ValidationFailed(RetuneError):
    """The Great Expectations gate failed; nothing downstream may run."""


class StorageUnreachable(RetuneError):
    """The Optuna storage (MySQL or journal file) cannot be reached."""


class StorageNotWritable(RetuneError):
    """The storage root refused a write (read-only, full, permissions); nothing was published."""


class SnapshotMissing(RetuneError):
    """A published dataset snapshot or its manifest is absent or inconsistent."""


class SnapshotCorrupt(RetuneError):
    """A snapshot's data files do not match the content hash of its manifest."""


class ExportRefused(RetuneError):
    """The best model cannot be trusted (a NaN value): nothing is exported or promoted."""


class NoCompletedTrial(RetuneError):
    """A study has no completed trial to export."""


class SnapshotTooLarge(RetuneError):
    """The snapshot does not fit the largest worker allowed, even in external memory."""


class DriftDetected(RetuneError):
    """Today's snapshot moved from the champion's past ``drift.error``: nothing published."""
