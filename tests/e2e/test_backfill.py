"""A backfill of three past days (`airflow backfill create`, runs side by side), then a rerun."""

from __future__ import annotations

import json
from typing import Any

import optuna
import pytest

from tasks.core import CARD_FILE, MANIFEST, MODEL_FILE
from tasks.tuning import study_name, trial_record
from tests.e2e.conftest import N_TRIALS, Stack, rerun

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]


def study_of(stack: Stack, ds: str, mysql_url: str) -> optuna.Study:
    return optuna.load_study(study_name=study_name(stack.spec.name, ds), storage=mysql_url)


def test_each_day_gets_its_own_study_snapshot_and_model(
    stack: Stack, backfill: dict[str, Any], mysql_url: str
) -> None:
    hashes = set()
    for ds, run in backfill["runs"].items():
        assert run["run_type"] == "backfill" and run["backfill_id"] is not None
        study = study_of(stack, ds, mysql_url)
        assert (
            len([t for t in study.get_trials() if t.state.name in ("COMPLETE", "PRUNED")])
            == N_TRIALS
        )
        layout = stack.layout(ds)
        manifest = json.loads((layout.dataset_dir / MANIFEST).read_text())
        assert manifest["ds"] == ds
        hashes.add(manifest["content_hash"])
        card = json.loads((layout.model_dir / CARD_FILE).read_text())
        assert card["ds"] == ds and card["study"]["name"] == study.study_name
        assert card["data"]["content_hash"] == manifest["content_hash"]
        assert (layout.model_dir / MODEL_FILE).is_file()
    assert len(hashes) == 3


def test_the_backfill_runs_ran_side_by_side_on_separate_studies(
    stack: Stack, backfill: dict[str, Any], mysql_url: str
) -> None:
    runs = list(backfill["runs"].values())
    latest_start = max(str(r["start_date"]) for r in runs)
    assert all(latest_start < str(r["end_date"]) for r in runs)  # all three ran at once
    for ds in backfill["days"]:
        for trial in study_of(stack, ds, mysql_url).get_trials():
            # Every trial was run by a worker of this day's run, on this day's snapshot.
            assert trial_record(trial)["worker"], trial.number
            assert trial.state.name in ("COMPLETE", "PRUNED")
    names = {study_of(stack, ds, mysql_url).study_name for ds in backfill["days"]}
    assert len(names) == 3


def test_the_champion_is_the_last_model_that_beat_the_one_before_it(
    stack: Stack, backfill: dict[str, Any]
) -> None:
    models = stack.storage / "models" / stack.spec.name
    cards = sorted(
        (json.loads(path.read_text()) for path in models.glob(f"ds=*/{CARD_FILE}")),
        key=lambda card: card["created_at"],
    )
    # One card per successful run of the DAG: the backfilled days, and the scheduled and
    # manual runs where the session had them.
    succeeded = [ds for ds, run in stack.runs().items() if run["state"] == "success"]
    assert sorted(card["ds"] for card in cards) == sorted(succeeded)
    assert set(backfill["days"]) <= set(succeeded)
    promoted = [card for card in cards if card["champion"]["promoted"]]
    # Exports never raced: each promotion replaced the champion promoted just before it.
    previous = None
    for card in promoted:
        if card["champion"].get("already_champion"):
            # Its export ran again (a retry) after its first try had promoted it.
            assert card["champion"]["champion_ds"] == card["ds"], card["ds"]
        else:
            assert card["champion"]["champion_ds"] == previous, card["ds"]
        previous = card["ds"]
    for card in cards:
        if not card["champion"]["promoted"]:
            assert "does not beat the champion" in card["champion"]["reason"], card["ds"]
    pointer = json.loads((models / "champion.json").read_text())
    assert pointer["ds"] == promoted[-1]["ds"]
    assert pointer["value"] == promoted[-1]["metric"]["value"]


def test_rerunning_a_day_is_idempotent(
    stack: Stack, backfill: dict[str, Any], mysql_url: str
) -> None:
    ds = backfill["days"][1]
    layout = stack.layout(ds)
    hash_before = json.loads((layout.dataset_dir / MANIFEST).read_text())["content_hash"]
    trials_before = [
        (t.number, t.params, t.value) for t in study_of(stack, ds, mysql_url).get_trials()
    ]
    run = rerun(stack, ds)
    assert run["state"] == "success"
    assert json.loads((layout.dataset_dir / MANIFEST).read_text())["content_hash"] == hash_before
    trials_after = [
        (t.number, t.params, t.value) for t in study_of(stack, ds, mysql_url).get_trials()
    ]
    assert trials_after == trials_before  # the budget was spent: no new trial


def test_the_history_has_a_line_for_each_export_and_the_page_links_each_day(
    stack: Stack, backfill: dict[str, Any]
) -> None:
    from tasks.export.history import latest_per_day, read_history

    layout = stack.layout(backfill["days"][0])
    cards = [
        json.loads(path.read_text())
        for path in layout.pipeline_models_dir.glob(f"ds=*/{CARD_FILE}")
    ]
    history = read_history(layout.history_file)
    lines = [e.model_dump() for e in history]
    assert {(c["ds"], c["run_id"]) for c in cards} <= {(e["ds"], e["run_id"]) for e in lines}
    latest = {entry.ds: entry.model_dump() for entry in latest_per_day(history)}
    assert sorted(latest) == sorted(card["ds"] for card in cards)
    page = layout.pipeline_index_file.read_text()
    for card in cards:
        entry = latest[card["ds"]]
        assert entry["run_id"] == card["run_id"] and entry["value"] == card["metric"]["value"]
        assert entry["promoted"] == card["champion"]["promoted"]
        # Airflow's stage timings: every stage before export, the tune workers' span
        assert {"etl", "validate", "materialize", "tune"} <= set(entry["stage_seconds"])
        assert entry["wall_seconds"] >= entry["stage_seconds"]["tune"] > 0
        assert entry["trials"]["complete"] >= 1 and entry["rows"]["train"] > 0
        assert f'<a href="ds={card["ds"]}/report.html">' in page


def test_each_export_that_was_not_promoted_alerted_with_its_reason(
    stack: Stack, backfill: dict[str, Any]
) -> None:
    from tasks.core import alerts_file

    layout = stack.layout(backfill["days"][0])
    alerts = [
        json.loads(line)
        for line in alerts_file(stack.storage, stack.spec.name).read_text().splitlines()
    ]
    not_promoted = {(a["ds"], a["run_id"]): a for a in alerts if a["event"] == "not_promoted"}
    cards = [
        json.loads(path.read_text())
        for path in layout.pipeline_models_dir.glob(f"ds=*/{CARD_FILE}")
    ]
    for card in cards:
        alert = not_promoted.get((card["ds"], card["run_id"]))
        if card["champion"]["promoted"]:
            assert alert is None, card["ds"]
        else:
            assert alert is not None and card["champion"]["reason"] in alert["message"]
            assert alert["task_id"] == "export" and alert["value"] == card["metric"]["value"]
