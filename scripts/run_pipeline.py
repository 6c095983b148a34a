"""`make run SPEC=<spec.yaml> DS=<YYYY-MM-DD>`: run any pipeline spec through Airflow for
one ds, then print where its results are.

The spec is checked first (an error names the file and the field). Airflow reads the
specs of the spec's folder ($RETUNE_SPEC_DIR), so every spec there is a DAG. The DAG is
unpaused (a daily DAG then also gets the run of its latest complete day from the
scheduler, as every day) and a run for DS is triggered, or cleared and run again when it
exists: rerunning a ds is idempotent.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from tasks.core import Layout, ModelCard, RetuneError, SnapshotManifest, check_ds, load_spec

ROOT = Path(__file__).resolve().parents[1]


def run(spec_path: Path, ds: str, runner: str = "standalone") -> Layout:
    """Run ``spec_path``'s DAG for ``ds`` through Airflow; the layout of what it wrote."""
    spec = load_spec(spec_path)
    check_ds(ds)
    storage = Path(os.environ.setdefault("RETUNE_STORAGE_ROOT", str(ROOT / "var" / "storage")))
    env = {**os.environ, "RETUNE_SPEC_DIR": str(spec_path.resolve().parent)}
    command = [sys.executable, str(ROOT / "scripts" / "airflow_run.py")]
    command += ["--dag", f"retune_{spec.name}", "--ds", ds, "--runner", runner]
    subprocess.run(command, env=env, check=True)
    return Layout(storage, spec.name, ds)


def print_results(layout: Layout) -> None:
    card = ModelCard.read(layout.card_file)
    manifest = SnapshotManifest.read(layout.manifest_file)
    print()
    print(f"model:      {layout.model_file}")
    print(f"features:   {layout.features_file}")
    print(f"model card: {layout.card_file}")
    print(f"report:     {layout.report_file}")
    print(f"manifest:   {layout.manifest_file}")
    print(f"data docs:  {layout.data_docs_index}")
    print(f"quarantine: {layout.quarantine_dir} ({manifest.quarantined} rows)")
    print(f"run spec:   {layout.run_spec_file(str(card.run_id))} (SHA-256 {card.spec_sha256})")
    print(
        f"rows:       {manifest.rows} published, {manifest.unlabeled} unlabelled "
        f"left out, {manifest.quarantined} quarantined"
    )
    print(
        f"best {card.metric.name} on the valid split: {card.metric.value:.4f} "
        f"(study {card.study.name}, trial {card.study.trial_number})"
    )
    champion = card.champion
    if champion is not None:
        verdict = "promoted to champion" if champion.promoted else "champion kept"
        print(f"{verdict}: {champion.reason}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--ds", required=True)
    parser.add_argument("--runner", choices=["standalone", "test"], default="standalone")
    args = parser.parse_args(argv)
    try:
        layout = run(args.spec, args.ds, args.runner)
    except RetuneError as error:  # the spec or the day: named before Airflow starts
        raise SystemExit(str(error)) from None
    except subprocess.CalledProcessError:
        raise SystemExit(f"the run of {args.spec} for {args.ds} failed (see above)") from None
    print_results(layout)


if __name__ == "__main__":
    main(sys.argv[1:])
