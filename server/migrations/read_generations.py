"""Triggers that bump a workspace's read generation (`read_generations`) on every write to a table.

Shared by the migrations that add them (datasets 0005, engine 0007, quality 0003). A table without its
own `workspace_id` names the parent row it belongs to; a row whose parent is already gone (a cascade)
bumps nothing itself, the parent's own delete did.
"""

from __future__ import annotations

from typing import Any

_EVENTS = (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))


def _sqlite(table: str, parent: tuple[str, str] | None) -> list[str]:
    statements = []
    for event, row in _EVENTS:
        if parent is None:
            source = f"VALUES ({row}.workspace_id, 1)"
        else:
            parent_table, column = parent
            source = f"SELECT workspace_id, 1 FROM {parent_table} WHERE id = {row}.{column}"
        statements.append(
            f"""CREATE TRIGGER IF NOT EXISTS {table}_read_generation_{event.lower()} AFTER {event} ON {table}
            BEGIN
                INSERT INTO read_generations (workspace_id, generation) {source}
                ON CONFLICT (workspace_id) DO UPDATE SET generation = generation + 1;
            END""")
    return statements


def _postgres(table: str, parent: tuple[str, str] | None) -> list[str]:
    function = f"docc_bump_read_generation_{table}"
    if parent is None:
        source = "VALUES (COALESCE(NEW.workspace_id, OLD.workspace_id), 1)"
    else:
        parent_table, column = parent
        source = (f"SELECT workspace_id, 1 FROM {parent_table} "
                  f"WHERE id = COALESCE(NEW.{column}, OLD.{column})")
    return [
        f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
        BEGIN
            INSERT INTO read_generations (workspace_id, generation) {source}
            ON CONFLICT (workspace_id) DO UPDATE SET generation = read_generations.generation + 1;
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql""",
        f"DROP TRIGGER IF EXISTS {table}_read_generation ON {table}",
        f"""CREATE TRIGGER {table}_read_generation AFTER INSERT OR UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {function}()""",
    ]


def bump_on_writes(tables: dict[str, tuple[str, str] | None]) -> Any:
    """A RunPython function creating the triggers of `tables` (name -> None, or (parent table, its id column))."""

    async def create_triggers(apps: Any, schema_editor: Any) -> None:
        build = _sqlite if schema_editor.DIALECT == "sqlite" else _postgres
        for table, parent in tables.items():
            for statement in build(table, parent):
                await schema_editor.client.execute_script(statement)

    return create_triggers
