"""Derived-feature expressions (Spark SQL), checked when the spec loads, without Spark.

sqlglot parses with Spark's dialect, so a typo or an unknown column is reported with
the spec's other errors, before any job is submitted. Spark analyses each expression
again when the ETL job starts, before it reads the data.
"""

from __future__ import annotations

from collections.abc import Collection

# Per-row expressions only: these would change a row's value with the rows around it.
_NOT_PER_ROW = ("AggFunc", "Window", "Subquery", "Select", "Alias", "Star")


def expression_problem(expression: str, columns: Collection[str]) -> str | None:
    """Why ``expression`` is not a per-row Spark SQL expression over ``columns``, or None."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(expression, read="spark")
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at column {first['col']}" if "col" in first else ""
        return f"does not parse{where}: {first.get('description', 'invalid expression')}"
    for kind in _NOT_PER_ROW:
        node = tree.find(getattr(exp, kind))
        if node is not None:
            return f"must be a per-row expression, found {node.sql(dialect='spark')!r}"
    referenced = {column.name for column in tree.find_all(exp.Column)}
    qualified = sorted(c.sql(dialect="spark") for c in tree.find_all(exp.Column) if c.table)
    if qualified:
        return f"refers to qualified column(s) {qualified}; use the bare column names"
    unknown = sorted(referenced - set(columns))
    if unknown:
        return f"refers to unknown column(s) {unknown}; known: schema.columns"
    return None
