"""Best-model export: retrain with the best trial's parameters, evaluate, write model + card."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

from tasks.core import (
    CARD_FILE,
    FEATURES_FILE,
    MLFLOW_FILE,
    MODEL_FILE,
    CardData,
    DocumentError,
    DriftSummary,
    ExportRefused,
    HistoryLine,
    Layout,
    MetricValue,
    ModelCard,
    NoCompletedTrial,
    Seeds,
    StudyRef,
    read_stages,
    replace_dir,
    resolve_device,
    spec_sha256,
)
from tasks.data import drift_summary
from tasks.export.approval import approval_reason, pending_approval
from tasks.export.champion import champion_lock, decide, promote, read_champion
from tasks.export.history import history_entry, record_run, report_history
from tasks.export.mlflow_log import check_mlflow, log_export
from tasks.export.report import state_counts, write_report
from tasks.model import (
    MemoryPlan,
    Snapshot,
    base_params,
    build_matrices,
    fit,
    load_snapshot,
    plan_memory,
    predict_valid,
    standard_scores,
    to_numpy,
    training_device,
)
from tasks.tuning import study_name, trial_record

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

    from tasks.core import PipelineSpec

LIBRARIES = (
    "xgboost",
    "optuna",
    "pyspark",
    "great-expectations",
    "scikit-learn",
    "numpy",
    "pandas",
)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise NoCompletedTrial(f"study {study.study_name} has no completed trial to export")
    best = study.best_trial
    if best.value is None or not math.isfinite(best.value):
        raise ExportRefused(
            f"study {study.study_name}: the best trial {best.number} has value {best.value}; "
            "nothing exported, the champion is unchanged"
        )
    return best


def load_best_trial(
    storage: BaseStorage, pipeline: str, ds: str, segment: str | None = None
) -> optuna.trial.FrozenTrial:
    """The run's best trial (of ``segment``'s study), or the error that says why there is
    nothing to export."""
    import optuna

    name = study_name(pipeline, ds, segment)
    return best_trial(optuna.load_study(study_name=name, storage=storage))


def export_device(spec: PipelineSpec, record: dict[str, Any]) -> str:
    """Where to retrain: on a GPU when the best trial ran on one (``auto`` falls back)."""
    if record.get("device", "cuda") == "cpu":
        return "cpu"
    return training_device(spec.gpu, resolve_device(spec.gpu))


def library_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in LIBRARIES}


@dataclass
class Retrained:
    """The best trial refit and scored on the valid split: what the export writes."""

    trial: optuna.trial.FrozenTrial
    snapshot: Snapshot
    booster: Any
    params: dict[str, Any]
    rounds: int
    seed: int
    device: str
    memory: MemoryPlan
    metrics: dict[str, float]
    value: float
    trained_on: str


def export_best(
    spec: PipelineSpec,
    layout: Layout,
    storage: BaseStorage,
    storage_kind: str,
    run_id: str | None = None,
    record_history: bool = True,
) -> dict[str, Any]:
    """Retrain the study's best trial, score it, write model + card, promote it if it wins
    (or, when ``export.approval`` asks for it, leave the promotion pending an approval).

    The model folder is complete before the champion pointer moves; any error before
    that (MLflow logging included) leaves the champion as it was. Then, for the global
    model with ``record_history``, the run's line is added to the pipeline's history.
    """
    import optuna

    check_mlflow(spec.export.mlflow)
    name = study_name(spec.name, layout.ds, layout.segment)
    study = optuna.load_study(study_name=name, storage=storage)
    model = retrain_best(spec, layout, study)
    drift = model.snapshot.manifest.drift
    summary = drift_summary(drift) if drift is not None else None
    with champion_lock(layout):  # from reading the champion to replacing it
        decision = decide(spec, model.value, read_champion(layout), model.snapshot, run_id)
        verdict, approval = decision, None
        why = approval_reason(spec, decision, summary) if layout.segment is None else None
        if why is not None:
            verdict, approval = pending_approval(spec, layout, decision, why)
        card = model_card(spec, layout, study, model, run_id, storage_kind, summary)
        card = card.with_verdict(verdict, approval)
        entry = write_model_folder(spec, layout, study, model, card, decision.promoted)
        if decision.promoted and approval is None:
            promote(layout, card)
        if record_history and layout.segment is None:
            record_run(layout, entry)
    return export_summary(layout)


def retrain_best(spec: PipelineSpec, layout: Layout, study: optuna.Study) -> Retrained:
    """The best trial's parameters and rounds fit again on the snapshot (``train``, or
    ``train`` + ``valid`` by ``export.retrain_on``), scored on valid by the train-only fit;
    refused when that score is not finite."""
    trial = best_trial(study)
    record = trial_record(trial)
    device = export_device(spec, record)
    snapshot: Snapshot = load_snapshot(layout.dataset_dir, spec, device, segment=layout.segment)
    rounds = int(record.get("best_rounds", spec.tuning.num_boost_round))
    seed = int(record.get("seed", spec.tuning.seed))  # the trial's own, to reproduce it
    params = {**base_params(spec, device, seed, snapshot), **trial.params}
    memory = plan_memory(snapshot.manifest, spec, row_samples=False)
    booster = retrain(snapshot, spec, params, rounds, memory, ("train",))
    pred = predict_valid(booster, snapshot, rounds)
    metrics = standard_scores(spec.task, spec.metric, to_numpy(snapshot.y_valid), pred)
    value = metrics[spec.metric]
    if not math.isfinite(value):
        raise ExportRefused(
            f"{spec.name} ds={layout.ds}: the retrained model's {spec.metric} on the valid "
            f"split is {value}; nothing exported, the champion is unchanged"
        )
    trained_on = "train"
    if spec.export.retrain_on == "train_valid":
        trained_on = "train+valid"
        booster = retrain(snapshot, spec, params, rounds, memory, ("train", "valid"))
    return Retrained(
        trial, snapshot, booster, params, rounds, seed, device, memory, metrics, value, trained_on
    )


def model_card(
    spec: PipelineSpec,
    layout: Layout,
    study: optuna.Study,
    model: Retrained,
    run_id: str | None,
    storage_kind: str,
    drift: DriftSummary | None,
) -> ModelCard:
    """The card of the retrained model (its ``champion`` and ``approval`` come after)."""
    snapshot, trial = model.snapshot, model.trial
    manifest, segment = snapshot.manifest, snapshot.segment_entry
    return ModelCard(
        pipeline=spec.name,
        ds=layout.ds,
        segment={"key": snapshot.segment, "value": segment.value} if segment else None,
        task=spec.task,
        run_id=run_id,
        spec_sha256=spec_sha256(spec),
        study=StudyRef(name=study.study_name, storage=storage_kind, trial_number=trial.number),
        tuned_value=trial.value,
        trials=state_counts(study),
        metric=MetricValue(name=spec.metric, value=model.value),
        metrics=model.metrics,
        trained_on=model.trained_on,
        metrics_from="the same parameters and rounds fit on train alone"
        if model.trained_on != "train"
        else "this model",
        params=trial.params,
        xgboost_params=model.params,
        num_boost_round=model.rounds,
        seeds=Seeds(
            base=spec.tuning.seed, trial=model.seed, worker=trial_record(trial).get("worker")
        ),
        device=model.device,
        memory=model.memory.as_record(),
        features=snapshot.plan.summary(),
        feature_importance=model.booster.get_score(importance_type="total_gain"),
        data=CardData(
            content_hash=manifest.content_hash,
            rows=manifest.rows,
            validation=manifest.validation,
            # The next days' drift is scored against this, once the model is champion.
            profile=manifest.profile,
            drift=drift,
        ),
        libraries=library_versions(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def write_model_folder(
    spec: PipelineSpec,
    layout: Layout,
    study: optuna.Study,
    model: Retrained,
    card: ModelCard,
    promoted: bool,
) -> HistoryLine:
    """Publish the day's model folder whole (model, feature plan, card, report, MLflow's
    record); return the history line the run adds."""
    with replace_dir(layout.model_dir) as tmp:
        model.booster.save_model(str(tmp / MODEL_FILE))
        model.snapshot.plan.write(tmp / FEATURES_FILE)
        card.write(tmp / CARD_FILE)
        stages = read_stages(layout)
        entry = history_entry(card, stages)
        history = report_history(layout, entry) if layout.segment is None else None
        write_report(tmp, study, card, stages, history)
        if spec.export.mlflow is not None:
            logged = log_export(spec.export.mlflow, tmp, card, promoted)
            (tmp / MLFLOW_FILE).write_text(json.dumps(logged, indent=2))
    return entry


def retrain(
    snapshot: Snapshot,
    spec: PipelineSpec,
    params: dict[str, Any],
    rounds: int,
    memory: MemoryPlan,
    splits: tuple[str, ...],
) -> Any:
    """The best trial's model fit on ``splits``, its matrices freed once it is trained."""
    resources = spec.resources
    with build_matrices(
        snapshot,
        memory.matrix,
        train_splits=splits,
        batch_rows=memory.batch_rows,
        cache_root=resources.external_memory_dir,
        nthread=spec.tuning.nthread,
    ) as matrices:
        return fit(params, matrices, rounds, early_stopping_rounds=None)[0]


def export_summary(layout: Layout) -> dict[str, Any]:
    """The export's XCom, from what it wrote: best value, promoted or not, paths."""
    card = ModelCard.read(layout.card_file)
    verdict = card.champion
    if verdict is None:
        raise DocumentError(f"{layout.card_file}: the card has no champion decision")
    summary = {
        "model_path": str(layout.model_file),
        "model_card": str(layout.card_file),
        "report": str(layout.report_file),
        "run_id": card.run_id,
        "spec_sha256": card.spec_sha256,
        "metric": card.metric.name,
        "value": card.metric.value,
        "trial_number": card.study.trial_number,
        "promoted": verdict.promoted,
        "reason": verdict.reason,
        "champion": str(layout.champion_file),
        "approval": card.approval.model_dump(mode="json") if card.approval else None,
    }
    if layout.mlflow_file.is_file():
        summary["mlflow"] = json.loads(layout.mlflow_file.read_text())
    return summary
