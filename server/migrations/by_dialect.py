"""Raw SQL steps of migrations (triggers, functions, columns the models do not map), one list per dialect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any


def run_sql(sqlite: Sequence[str], postgres: Sequence[str]) -> Callable[[Any, Any], Awaitable[None]]:
    """A RunPython function that runs the statements of the database's dialect, in order."""

    async def run(apps: Any, schema_editor: Any) -> None:
        for statement in sqlite if schema_editor.DIALECT == "sqlite" else postgres:
            await schema_editor.client.execute_script(statement)

    return run
