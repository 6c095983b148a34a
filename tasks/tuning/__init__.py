"""Tuning: the Spark application whose tasks are Optuna workers on one shared study, the
study and its budget, samplers, search space, deadline, warm start and seeds."""

from tasks.tuning.app import run_studies, run_tune, worker_heartbeat, worker_identity
from tasks.tuning.samplers import build_sampler, check_sampler_available
from tasks.tuning.search_space import suggest
from tasks.tuning.study import (
    budget_counts,
    counted_trials,
    create_study,
    study_name,
    study_summary,
    trial_record,
)
from tasks.tuning.worker import WorkerIdentity, run_worker

__all__ = [
    "WorkerIdentity",
    "budget_counts",
    "build_sampler",
    "check_sampler_available",
    "counted_trials",
    "create_study",
    "run_studies",
    "run_tune",
    "run_worker",
    "study_name",
    "study_summary",
    "suggest",
    "trial_record",
    "worker_heartbeat",
    "worker_identity",
]
