"""Retune's Airflow glue: hooks, operators and the DAG factory. Thin by design."""
