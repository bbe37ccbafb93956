"""Save-time check of `handle_nulls` fill values against the column types the dataset schemas make known.

The types follow each step's input chain as the run would: a source gives its dataset's schema types
(projected), a cleaner's `cast` changes them before `handle_nulls` and its `rename` after. A column whose
type is not known here is left to the run, which checks the value again with the same conversion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .graph import plan_steps

if TYPE_CHECKING:
    import polars as pl


def check_fill_values(steps: list[dict[str, Any]], schemas: dict[str, dict[str, Any] | None]) -> None:
    """Refuse a fill value that cannot fit its column's known type; raises DataPlaneConfigError.

    `schemas` maps dataset ids to their schema (`{"fields": [...]}`); the steps must have passed
    validate_steps.
    """
    if not any(_fills(step) for step in steps):
        return  # No value to convert: the types, and Polars with them, are not needed.
    from .types import schema_dtypes  # Imported here: only a fill value needs Polars' conversions.

    plan = plan_steps(steps)
    index = {step["id"]: i for i, step in enumerate(steps)}
    known: dict[str, dict[str, pl.DataType]] = {}
    roots: dict[str, str | None] = {}
    for step in plan.order:  # Run order: every input is typed before the steps that read it.
        sid, config = step["id"], step.get("config") or {}
        source = plan.inputs[sid]
        if step["type"] == "data_source":
            roots[sid] = config["dataset_id"]
            types = schema_dtypes(schemas.get(config["dataset_id"]))
            if config.get("columns"):
                types = {c: t for c, t in types.items() if c in config["columns"]}
            known[sid] = types
            continue
        assert source is not None  # validate_steps refuses a non-source step without an input.
        roots[sid] = roots[source]
        types = dict(known[source])
        if step["type"] == "data_cleaner":
            types = _cleaned(types, config, schemas.get(roots[sid] or ""), f"steps[{index[sid]}].config")
        known[sid] = types


def _fills(step: dict[str, Any]) -> bool:
    nulls = (step.get("config") or {}).get("handle_nulls") if step.get("type") == "data_cleaner" else None
    return isinstance(nulls, dict) and nulls.get("strategy") == "fill"


def _cleaned(types: dict[str, pl.DataType], config: dict[str, Any], root_schema: dict[str, Any] | None,
             at: str) -> dict[str, pl.DataType]:
    from .types import coerce_literal, polars_dtype, schema_dtypes

    cast = config.get("cast")
    if cast is True:
        types.update({c: t for c, t in schema_dtypes(root_schema).items() if c in types})
    elif isinstance(cast, dict):
        types.update({c: polars_dtype(t) for c, t in cast.items()})
    nulls = config.get("handle_nulls")
    if isinstance(nulls, dict) and nulls.get("strategy") == "fill":
        for col, value in nulls["values"].items():
            if col in types:
                coerce_literal(value, types[col], field=f"{at}.handle_nulls.values.{col}")
    rename = config.get("rename")
    if isinstance(rename, dict):
        targets = set(rename.values())
        types = {rename.get(c, c): t for c, t in types.items() if c in rename or c not in targets}
    return types
