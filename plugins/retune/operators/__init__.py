"""One reusable operator per stage; each delegates its work to ``tasks``."""

from retune.operators.approval import ApprovePromotionOperator, SettleApprovalOperator
from retune.operators.data import EtlOperator, MaterializeOperator, ValidateOperator
from retune.operators.tuning import CreateStudyOperator, ExportOperator, TuneOperator

__all__ = [
    "ApprovePromotionOperator",
    "CreateStudyOperator",
    "EtlOperator",
    "ExportOperator",
    "MaterializeOperator",
    "SettleApprovalOperator",
    "TuneOperator",
    "ValidateOperator",
]
