"""One reusable operator per stage; each delegates its work to ``tasks``."""

from retune.operators.data import EtlOperator, MaterializeOperator, ValidateOperator
from retune.operators.tuning import CreateStudyOperator, ExportOperator, TuneOperator

__all__ = [
    "CreateStudyOperator",
    "EtlOperator",
    "ExportOperator",
    "MaterializeOperator",
    "TuneOperator",
    "ValidateOperator",
]
