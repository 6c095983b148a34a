"""Retune's engine, one package per stage: core, spark, data, model, tuning, export, jobs.

Nothing in this package imports Airflow, so every stage runs and is tested without it,
and Spark executors need nothing of Airflow. See docs/ARCHITECTURE.md.
"""

# Read by the Airflow side: a different ``tasks`` first on sys.path (a user's tasks.py
# in the DAG folder, say) would otherwise fail later with a puzzling ImportError.
ENGINE = "retune"
