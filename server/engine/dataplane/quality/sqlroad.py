"""The SQL road: checks on a database table pushed down as SQL aggregates, several rules in one query.

The connection is opened through `database.connect`, so the policy (file roots for SQLite, hosts and
the server's own database for PostgreSQL) is applied again when the check runs. Every query runs in a
read-only transaction on PostgreSQL (with standard_conforming_strings forced on, so a connection
option cannot change how a literal reads), and under `PRAGMA query_only` on SQLite. Literals are
written by `literal` below; identifiers are checked names, quoted.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl

from .. import database
from ..connections import parse_connection, qualified, quote_ident, split_table
from ..policy import Policy
from .outcomes import judged, safe_sample, verdict
from .rules import Plan, Problem, sql_family
from .spec import SAMPLE_LIMIT, CheckOutcome, CheckSpec


def literal(value: Any) -> str:
    """A SQL literal of a checked scalar, the same text for PostgreSQL and SQLite."""
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Problem("a number must be finite")
        return repr(value)
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    raise Problem(f"{value!r} cannot be used as a SQL value")


class Table:
    """A database source opened for checks: one connection, one query at a time, nothing written."""

    def __init__(self, policy: Policy, source: dict[str, Any]) -> None:
        self.url = source["connection"]
        self.conn = parse_connection(self.url, field="source.connection")
        self.dialect = self.conn.dialect
        self.schema, self.name = split_table(source["table"], dialect=self.dialect, field="source.table")
        self.ref = qualified(self.schema, self.name)
        self.db = database.connect(policy, self.conn, field="source.connection")
        timeout = policy.query_timeout_s
        self.timeout_ms = max(int(timeout * 1000), 1) if timeout and math.isfinite(timeout) else None
        if self.dialect == "sqlite":
            try:
                self.db.cursor().execute("PRAGMA query_only = 1")
            except BaseException:
                self.db.close()
                raise

    def close(self) -> None:
        self.db.close()

    def _begin(self, cur: Any) -> None:
        if self.dialect == "postgresql":
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute("SET LOCAL standard_conforming_strings = on")
            cur.execute("SET LOCAL TIME ZONE 'UTC'")  # timestamptz -> timestamp in UTC, as Polars compares
            if self.timeout_ms is not None:  # A hostile pattern or condition cannot hold the backend past the job.
                cur.execute(f"SET LOCAL statement_timeout = {self.timeout_ms}")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of one read-only query."""
        cur = self.db.cursor()
        try:
            self._begin(cur)
            cur.execute(sql, params) if params else cur.execute(sql)
            return cur.fetchall()
        finally:
            cur.close()
            self.db.rollback()

    def families(self, schema: str | None = None, name: str | None = None) -> dict[str, str]:
        """Column name -> type family of this table (or another of the same database)."""
        schema, name = (schema, name) if name else (self.schema, self.name)
        if self.dialect == "sqlite":
            rows = [(r[1], r[2]) for r in self.query(f"PRAGMA table_info({quote_ident(name)})")]
        else:
            rows = self.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                              "COALESCE($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position",
                              (schema, name))
        if not rows:
            raise Problem(f"table {name!r} does not exist")
        return {str(col): sql_family(str(kind or ""), self.dialect) for col, kind in rows}

    def sample(self, failing: str, families: dict[str, str]) -> pl.DataFrame:
        """Up to SAMPLE_LIMIT failing rows, with SQLite's NULLs restored as the data plane reads them.

        On PostgreSQL, columns of other types (interval, ranges, geometry...) are read as their text,
        which every driver and Polars can carry."""
        cur = self.db.cursor()
        try:
            self._begin(cur)
            flagged: list[str] = []
            select = ", ".join(f"CAST({quote_ident(c)} AS TEXT) AS {quote_ident(c)}" if kind == "other"
                               else quote_ident(c) for c, kind in families.items())
            if self.dialect == "sqlite":
                exprs, flagged = database._sqlite_select(cur, self.name, None)
                select = ", ".join(exprs)
            cur.execute(f"SELECT {select} FROM {self.ref} WHERE {failing} LIMIT {SAMPLE_LIMIT}")
            frames = [database._plain(batch) for batch in cur.fetch_arrow_table().to_batches()]
        finally:
            cur.close()
            self.db.rollback()
        frame = pl.concat(frames) if frames else pl.DataFrame()
        for name in flagged:
            flag = database._NULL_FLAG + name
            if flag in frame.columns:
                frame = frame.with_columns(pl.when(pl.col(flag).cast(pl.Boolean)).then(None)
                                           .otherwise(pl.col(name)).alias(name)).drop(flag)
        return frame


def _bounded(value: str, plan: Plan) -> str:
    tests = []
    if plan.low is not None:
        tests.append(f"{value} {'>=' if plan.low_inclusive else '>'} {literal(plan.low)}")
    if plan.high is not None:
        tests.append(f"{value} {'<=' if plan.high_inclusive else '<'} {literal(plan.high)}")
    return " AND ".join(tests) or "TRUE"


def predicates(plan: Plan, table: Table) -> tuple[str, str]:
    """(null, passing) SQL conditions of a row rule on `table`."""
    if plan.kind == "custom_sql":
        assert plan.condition is not None
        condition = plan.condition.sql("postgres" if table.dialect == "postgresql" else "sqlite")
        return f"({condition}) IS NULL", f"({condition})"
    cols = [quote_ident(c) for c in plan.columns]
    null = " OR ".join(f"{c} IS NULL" for c in cols)
    col = cols[0]
    text = f"CAST({col} AS TEXT)"
    if plan.kind == "not_null":
        return null, f"NOT ({null})"
    if plan.kind == "unique":
        keys = ", ".join(cols)
        present = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        dupes = f"SELECT {keys} FROM {table.ref} WHERE {present} GROUP BY {keys} HAVING COUNT(*) > 1"
        return null, f"NOT ({'(' + keys + ')' if len(cols) > 1 else keys} IN ({dupes}))"
    if plan.kind == "regex_match":
        assert plan.pattern is not None and table.dialect == "postgresql"
        return null, f"{text} ~ {literal(plan.pattern.postgres)}"
    if plan.kind == "length":
        length = "char_length" if table.dialect == "postgresql" else "length"
        return null, _bounded(f"{length}({text})", plan)
    if plan.kind == "range":
        if isinstance(plan.low, dt.datetime) or isinstance(plan.high, dt.datetime):
            assert table.dialect == "postgresql"  # SQLite keeps dates as text: they go the Polars road.
            return null, _bounded(f"CAST({col} AS TIMESTAMP)", plan)
        return null, _bounded(col, plan)
    if plan.kind == "accepted_values":
        return null, f"{col} IN ({', '.join(literal(v) for v in plan.values)})"
    if plan.kind == "referential":
        ref_schema, ref_name = split_table(plan.reference["source"]["table"], dialect=table.dialect,
                                           field="config.dataset_id")
        ref_col = quote_ident(plan.reference["ref_column"])
        return null, f"{col} IN (SELECT {ref_col} FROM {qualified(ref_schema, ref_name)} WHERE {ref_col} IS NOT NULL)"
    raise AssertionError(f"not a row rule: {plan.kind}")


def _parts(plan: Plan, table: Table) -> tuple[str, str, bool]:
    """(null, failing) SQL conditions of a row rule, and whether its nulls are its failures (not_null)."""
    null, passing = predicates(plan, table)
    nulls_fail = plan.kind == "not_null"
    failing = f"({null})" if nulls_fail else f"(CASE WHEN {null} THEN 0 WHEN {passing} THEN 0 ELSE 1 END = 1)"
    return null, failing, nulls_fail


def count_rows(table: Table, plans: list[Plan]) -> tuple[int, list[tuple[int, int]]]:
    """The table's row count and each row rule's (nulls, failed), in one aggregate query for all of them:
    one conditional SUM per count ("one query per dataset")."""
    sums: list[str] = []
    for plan in plans:
        null, failing, nulls_fail = _parts(plan, table)
        sums.append(f"COALESCE(SUM(CASE WHEN {null} THEN 1 ELSE 0 END), 0)")
        if not nulls_fail:
            sums.append(f"COALESCE(SUM(CASE WHEN {failing} THEN 1 ELSE 0 END), 0)")
    row = table.query(f"SELECT {', '.join(['COUNT(*)', *sums])} FROM {table.ref}")[0]
    counts, at = [], 1
    for plan in plans:
        nulls = int(row[at])
        failed = nulls if plan.kind == "not_null" else int(row[at + 1])  # not_null: failed = nulls
        at += 1 if plan.kind == "not_null" else 2
        counts.append((nulls, failed))
    return int(row[0]), counts


def judge_row_rule(table: Table, spec: CheckSpec, plan: Plan, sensitive: set[str], families: dict[str, str],
                   rows: int, nulls: int, failed: int) -> CheckOutcome:
    """A row rule's outcome from its counts; a LIMITed query for the sample when a row failed."""
    _, failing, nulls_fail = _parts(plan, table)
    sample = safe_sample(lambda: table.sample(failing, families), sensitive) if failed else []
    return judged(spec, rows, nulls, failed, nulls_fail=nulls_fail, sample=sample)


def row_rule(table: Table, spec: CheckSpec, plan: Plan, sensitive: set[str], families: dict[str, str]
             ) -> CheckOutcome:
    """One aggregate query for the counts; a LIMITed one for the sample when a row failed."""
    rows, [(nulls, failed)] = count_rows(table, [plan])
    return judge_row_rule(table, spec, plan, sensitive, families, rows, nulls, failed)


def judge_row_count(spec: CheckSpec, plan: Plan, rows: int) -> CheckOutcome:
    ok = (plan.low is None or rows >= plan.low) and (plan.high is None or rows <= plan.high)
    return verdict(spec, ok, rows=rows, observed=rows)


def row_count(table: Table, spec: CheckSpec, plan: Plan) -> CheckOutcome:
    return judge_row_count(spec, plan, int(table.query(f"SELECT COUNT(*) FROM {table.ref}")[0][0]))


def newest(table: Table, plan: Plan) -> tuple[int, Any]:
    """(row count, newest value) of the freshness column; SQLite gives its text as stored."""
    rows, value = table.query(f"SELECT COUNT(*), MAX({quote_ident(plan.column)}) FROM {table.ref}")[0]
    return int(rows), value
