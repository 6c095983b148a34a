"""Retune's engine: spec models, Spark jobs, validation, tuning and export.

Nothing in this package imports Airflow, so every stage runs and is tested
without it, and Spark executors need nothing of Airflow.
"""
