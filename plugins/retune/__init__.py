"""Retune's Airflow glue: hooks, operators and the DAG factory. Thin by design."""

import tasks as _engine

if getattr(_engine, "ENGINE", None) != "retune":
    raise ImportError(
        f"the module 'tasks' found first on sys.path is {getattr(_engine, '__file__', None)}, "
        "not Retune's engine: rename that module, or put Retune's install first on sys.path "
        "(Airflow adds the DAG and plugin folders to it)"
    )
