"""Data and pipelines of the SDK tests, and a check that a model holds no field the SDK does not know."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA = {"fields": [{"name": "id", "type": "integer", "nullable": False},
                     {"name": "name", "type": "string", "nullable": False},
                     {"name": "age", "type": "integer", "nullable": True}]}
GOOD_CSV = "id,name,age\n1,Ann,30\n1,Ann,30\n2,Bob,\n3,Cy,41\n"
# An age that is not an integer: the cast step fails the job.
BAD_CSV = "id,name,age\n1,Ann,thirty\n"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def dataset_spec(files: Path, csv: str = GOOD_CSV, name: str | None = None, **extra: Any) -> dict[str, Any]:
    name = name or unique("customers")
    path = files / f"{name}.csv"
    path.write_text(csv)
    return {"name": name, "source": {"type": "file", "path": str(path)}, "schema": SCHEMA, **extra}


def pipeline_spec(dataset_id: str, files: Path, name: str | None = None) -> dict[str, Any]:
    name = name or unique("clean")
    return {"name": name, "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "clean", "type": "data_cleaner",
         "config": {"remove_duplicates": True, "handle_nulls": "drop", "cast": True}},
        {"id": "output", "type": "data_sink", "config": {"path": str(files / f"{name}.parquet")}},
    ]}


def assert_fully_known(model: Any) -> None:
    """No field of the answer fell into `model_extra`: the SDK's models know every field the server sent."""
    if isinstance(model, BaseModel):
        assert not model.model_extra, f"{type(model).__name__} lacks fields {sorted(model.model_extra)}"
        for name in type(model).model_fields:
            assert_fully_known(getattr(model, name))
    elif isinstance(model, list | tuple):
        for item in model:
            assert_fully_known(item)
