"""Short Spark jobs side by side with the JVM's defaults and with the tests' settings
(``tests/spark_conf/spark-defaults.conf``: C1 only, the serial collector).

    python -m bench.spark_jvm [--jobs 4] [--repeats 5] [--quick]

Each repeat starts ``--jobs`` local Spark applications at once, each writing and reading
a small Parquet table (the shape of a test's or an e2e stage's job), once per setting,
the settings' order alternating between repeats. One JSON line per setting and repeat
(wall seconds, and the CPU seconds of the JVMs and of the Python drivers), then a summary with
the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_CONF = ROOT / "tests" / "spark_conf"
JOB = """
import json, os, resource, sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false").getOrCreate())
out = sys.argv[1]
spark.range(200_000).selectExpr("id", "id % 7 AS k", "rand() AS r").write.parquet(out)
assert spark.read.parquet(out).groupBy("k").count().count() == 7
pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
ticks = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11:13]
own = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"jvm_cpu_s": sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK"),
                  "python_cpu_s": own.ru_utime + own.ru_stime}))
spark.stop()
"""
KEYS = ("wall_s", "jvm_cpu_s", "python_cpu_s")
SETTINGS = {"jvm-defaults": None, "tests-conf": TEST_CONF}


def run_jobs(jobs: int, conf_dir: Path | None, scratch: Path) -> dict[str, float]:
    """``jobs`` applications at once: the wall seconds, and the CPU seconds of their JVMs
    (as each reports its own, just before it stops) and of their Python drivers."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    env.pop("SPARK_CONF_DIR", None)
    if conf_dir is not None:
        env["SPARK_CONF_DIR"] = str(conf_dir)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", JOB, str(scratch / f"out-{index}-{time.time_ns()}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(jobs)
    ]
    jvm = python = 0.0
    for process in processes:
        printed, errors = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a Spark job failed:\n{errors[-2000:]}")
        figures = json.loads(printed.strip().splitlines()[-1])
        jvm, python = jvm + figures["jvm_cpu_s"], python + figures["python_cpu_s"]
    wall = time.perf_counter() - started
    return {"wall_s": round(wall, 2), "jvm_cpu_s": round(jvm, 2), "python_cpu_s": round(python, 2)}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="applications at once")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 repeat of 1 job")
    args = parser.parse_args(argv)
    jobs, repeats = (1, 1) if args.quick else (args.jobs, args.repeats)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory(prefix="retune-bench-jvm-") as scratch:
        for repeat in range(repeats):
            order = list(SETTINGS) if repeat % 2 == 0 else list(reversed(SETTINGS))
            for name in order:
                figures = run_jobs(jobs, SETTINGS[name], Path(scratch))
                results[name].append(figures)
                print(json.dumps({"setting": name, "repeat": repeat, "jobs": jobs, **figures}))
    medians = {
        name: {key: statistics.median(r[key] for r in runs) for key in KEYS}
        for name, runs in results.items()
    }
    ratio = {
        key: round(medians["tests-conf"][key] / medians["jvm-defaults"][key], 3) for key in KEYS
    }
    print(json.dumps({"summary": {"medians": medians, "tests_conf_to_defaults": ratio}}))


if __name__ == "__main__":
    main(sys.argv[1:])
