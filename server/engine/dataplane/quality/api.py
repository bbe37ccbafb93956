"""Entry points of the quality engine (their signatures are the contract with the domain).

Where each rule runs:
- database sources: pushed down as SQL (sqlroad.py): the row rules and row_count of one run counted
  together in one aggregate query per table (conditional SUMs), each failing rule's sample apart; except
  `regex_match` on SQLite, which has no regex operator: there the column is read through the data
  plane's own SQLite reader and matched by Polars; `schema_match` reads the declared column types and,
  on SQLite, converts text columns through Polars to tell whether they hold the declared type;
  `referential` to a dataset of another database or a file reads the referenced column through Polars.
- files (CSV, Parquet, JSON lines) and pipeline frames: Polars, lazily, streaming (frames.py).
Nothing raises for a bad rule or unreachable data: that check's outcome is an 'error' with the reason.
Blocking calls: run them in a job worker, never on the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import polars as pl

from ..connections import split_table
from ..database import TableScan
from ..errors import DataPlaneConfigError
from ..paths import resolve_path
from ..policy import Policy
from ..source_config import file_format, validate_source
from ..sources import open_source
from ..types import cast_expr, polars_dtype, schema_dtypes
from . import frames, rules, schemas, sqlroad
from .outcomes import errored
from .spec import RULE_TYPES, CheckOutcome, CheckSpec

T = TypeVar("T")
# Rules judged row by row, counted together in one pass over a frame; `unique` keeps a pass of its own
# (it cannot stream: it holds every key it has seen, which would take the other rules out of streaming).
BATCHED = frozenset(RULE_TYPES) - {"row_count", "freshness", "schema_match", "unique"}


def _guard(spec: CheckSpec, run: Callable[[], T], secrets: tuple[str, ...]) -> T | CheckOutcome:
    """Run one check; whatever stops it becomes its 'error' outcome, never a silent pass."""
    try:
        return run()
    except rules.Problem as exc:
        return errored(spec, str(exc))
    except DataPlaneConfigError as exc:
        return errored(spec, exc.message)
    # The engines raise many types (driver, Polars, OS); a Rust panic in Polars is a BaseException.
    except (Exception, pl.exceptions.PanicException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return errored(spec, f"{type(exc).__name__}: {first}", *secrets)


def _secrets(source: dict, references: dict[str, dict] | None) -> tuple[str, ...]:
    urls = [source.get("connection")] + [r.get("connection") for r in (references or {}).values()
                                         if isinstance(r, dict)]
    return tuple(u for u in urls if isinstance(u, str))


def _reference_values(policy: Policy | None, plan: rules.Plan) -> pl.Series:
    """The distinct non-null values of the referenced column, read through the policy."""
    if policy is None:
        raise rules.Problem("config.dataset_id: referenced datasets cannot be read here")
    ref, column = plan.reference["source"], plan.reference["ref_column"]
    validate_source(ref, policy, field="reference")
    scan = open_source(policy, ref, None, columns=None)
    try:
        if column not in scan.frame.collect_schema():
            raise rules.Problem(f"config.ref_column: column {column!r} does not exist in dataset "
                                f"{plan.reference['dataset_id']!r}")
        return scan.frame.select(pl.col(column)).unique().collect(engine="streaming").to_series().drop_nulls()
    finally:
        scan.close()


def _typed_by_schema(frame: pl.LazyFrame, raw: dict[str, pl.DataType], fields: list[dict]) -> pl.LazyFrame:
    """Text read from CSV or JSON lines, as the cleaner types it: a column Polars inferred as text (an
    empty file infers text everywhere) is cast to the type the schema declares; a value that does not
    convert becomes null (schema_match, which sees the text as read, reports such a column)."""
    casts = []
    for item in fields:
        name = item.get("name") if isinstance(item, dict) else None
        if raw.get(name) != pl.String or item.get("type") in ("string", "map", "object", "array", None):
            continue
        try:
            casts.append(cast_expr(name, pl.String(), polars_dtype(item)))
        except DataPlaneConfigError:
            continue
    return frame.with_columns(casts) if casts else frame


def _on_frame(frame: pl.LazyFrame, spec: CheckSpec, *, raw: pl.LazyFrame, raw_families: dict[str, str],
              families: dict[str, str], schema_fields: list[dict], sensitive: set[str],
              references: dict[str, dict] | None, policy: Policy | None, text_backed: bool,
              from_file: bool) -> CheckOutcome:
    if spec.rule_type == "schema_match":
        rules.plan(spec, raw_families, references)  # The threshold and rule type are checked all the same.
        return schemas.schema_match(spec, schema_fields, raw_families, text_backed=text_backed,
                                    unconvertible=lambda c, t: frames.castable_failures(raw, c, t))
    plan = rules.plan(spec, families, references)
    if plan.kind == "row_count":
        return frames.row_count(frame, spec, plan)
    if plan.kind == "freshness":
        return frames.freshness(frame, spec, plan)
    reference = _reference_values(policy, plan) if plan.kind == "referential" else None
    return frames.row_rule(frame, spec, plan, families, sensitive, reference, windowed=from_file)


def evaluate_frame(frame: pl.LazyFrame, checks: list[CheckSpec], *, schema_fields: list[dict],
                   sensitive: set[str], references: dict[str, dict] | None = None,
                   policy: Policy | None = None, text_backed: bool = False,
                   from_file: bool = False) -> list[CheckOutcome]:
    """Run `checks` on a Polars frame (a file source, or the data flowing through a pipeline step).

    `referential` checks need `references` (dataset id -> source config) and the `policy` to open
    them; without them such a check is an 'error' outcome. `text_backed` says the frame was read from
    text (CSV, JSON lines): its text columns are typed by the schema, and schema_match accepts text
    that converts to the declared type. `from_file` says the frame is a plain file scan, cheap to
    slice, where the sample is looked for in windows (frames.failing_rows).
    """
    secrets = tuple(r["connection"] for r in (references or {}).values()
                    if isinstance(r, dict) and isinstance(r.get("connection"), str))
    try:
        raw_schema = dict(frame.collect_schema())
        typed = _typed_by_schema(frame, raw_schema, schema_fields) if text_backed else frame
        families = {name: rules.polars_family(dtype) for name, dtype in typed.collect_schema().items()}
    except Exception as exc:  # An unreadable file shows here first.
        return [_guard(spec, lambda e=exc: _raise(e), secrets) for spec in checks]
    raw_families = {name: rules.polars_family(dtype) for name, dtype in raw_schema.items()}
    outcomes: list[CheckOutcome] = []
    tests: list[tuple[int, frames.RowTest]] = []
    for spec in checks:
        if spec.rule_type in BATCHED:
            prepared = _guard(spec, lambda s=spec: _row_test(s, families, references, policy, from_file), secrets)
            if isinstance(prepared, frames.RowTest):
                tests.append((len(outcomes), prepared))
                outcomes.append(CheckOutcome.failure(spec, "not counted"))  # Replaced below.
                continue
        else:
            prepared = _guard(spec, lambda s=spec: _on_frame(typed, s, raw=frame, raw_families=raw_families,
                                                             families=families, schema_fields=schema_fields,
                                                             sensitive=sensitive, references=references,
                                                             policy=policy, text_backed=text_backed,
                                                             from_file=from_file), secrets)
        outcomes.append(prepared)
    counted = _count_together(typed, [test for _, test in tests])
    for j, (i, test) in enumerate(tests):
        counts = counted[j] if counted is not None else None
        outcomes[i] = _guard(test.spec, lambda t=test, c=counts: frames.finish(
            t, c if c is not None else frames.count(typed, [t])[0], typed, sensitive), secrets)
    return outcomes


def _row_test(spec: CheckSpec, families: dict[str, str], references: dict[str, dict] | None,
              policy: Policy | None, from_file: bool) -> frames.RowTest:
    plan = rules.plan(spec, families, references)
    reference = _reference_values(policy, plan) if plan.kind == "referential" else None
    return frames.row_test(spec, plan, families, reference, windowed=from_file)


def _count_together(frame: pl.LazyFrame, tests: list[frames.RowTest]) -> list[tuple[int, int, int]] | None:
    """The counts of every row rule in one pass ("one query per dataset"); None when that pass fails, so
    that each rule is then counted alone and one rule's failure is its own error, not the others'."""
    if len(tests) < 2:
        return None
    try:
        return frames.count(frame, tests)
    except (Exception, pl.exceptions.PanicException):
        return None


def _raise(exc: Exception) -> CheckOutcome:
    raise exc


def _polars_on_table(policy: Policy, source: dict, spec: CheckSpec, plan: rules.Plan, families: dict[str, str],
                     sensitive: set[str], reference: pl.Series | None, schema_fields: list[dict]) -> CheckOutcome:
    """A row rule on a table evaluated by Polars over the data plane's streamed read of it."""
    scans: list[TableScan] = []

    def scan(columns: list[str] | None) -> pl.LazyFrame:
        scans.append(TableScan(policy, source["connection"], source["table"], columns, None))
        frame = scans[-1].frame()
        # SQLite keeps dates and timestamps as text: typed by the schema, as the cleaner reads them.
        return _typed_by_schema(frame, dict(frame.collect_schema()), schema_fields)

    try:
        return frames.row_rule(scan(list(plan.columns)), spec, plan, families, sensitive, reference,
                               sample_frame=lambda: scan(None))
    finally:
        for opened in scans:
            opened.close()


def _schema_temporal(families: dict[str, str], fields: list[dict]) -> dict[str, str]:
    """SQLite text columns the schema declares as dates or timestamps, taken as such (read through Polars)."""
    declared = {f.get("name"): f.get("type") for f in fields if isinstance(f, dict)}
    return {name: declared[name] if family == "string" and declared.get(name) in rules.TEMPORAL else family
            for name, family in families.items()}


def _pushed_plan(table: sqlroad.Table, spec: CheckSpec, families: dict[str, str], schema_fields: list[dict],
                 references: dict[str, dict]) -> rules.Plan | None:
    """The plan of a check that the shared aggregate query can count (a row rule pushed down as one
    condition, or row_count); None for any other, and for one that cannot run (its own road says why)."""
    if spec.rule_type in ("freshness", "schema_match", "referential"):
        return None
    try:
        plan = rules.plan(spec, _schema_temporal(families, schema_fields) if table.dialect == "sqlite"
                          else families, references)
    except Exception:
        return None
    if table.dialect == "sqlite" and (plan.kind == "regex_match" or (
            plan.kind == "range" and families.get(plan.column) in rules.TEMPORAL)):
        return None
    return plan


def _on_table_together(table: sqlroad.Table, policy: Policy, source: dict, checks: list[CheckSpec], *,
                       schema_fields: list[dict], references: dict[str, dict], sensitive: set[str],
                       secrets: tuple[str, ...]) -> list[CheckOutcome]:
    """Every check on one table: the row rules and row_count counted together in one aggregate query
    (conditional SUMs), each failing rule's sample by its own LIMITed query, the other checks alone. If
    the shared query fails, each check runs alone, so one rule's failure is its own error."""
    try:
        families = table.families()
    except Exception as exc:  # The table is gone or unreadable: every check says so.
        return [_guard(spec, lambda e=exc: _raise(e), secrets) for spec in checks]
    plans = {i: plan for i, spec in enumerate(checks)
             if (plan := _pushed_plan(table, spec, families, schema_fields, references)) is not None}
    rows_rules = [i for i, plan in plans.items() if plan.kind != "row_count"]
    counted: tuple[int, list[tuple[int, int]]] | None = None
    if len(plans) >= 2:
        try:
            counted = sqlroad.count_rows(table, [plans[i] for i in rows_rules])
        except Exception:
            counted = None
    judged_families = _schema_temporal(families, schema_fields) if table.dialect == "sqlite" else families

    def one(i: int, spec: CheckSpec) -> CheckOutcome:
        if counted is None or i not in plans:
            return _on_table(table, policy, source, spec, schema_fields=schema_fields, references=references,
                             sensitive=sensitive, families=families)
        rows, counts = counted
        if plans[i].kind == "row_count":
            return sqlroad.judge_row_count(spec, plans[i], rows)
        nulls, failed = counts[rows_rules.index(i)]
        return sqlroad.judge_row_rule(table, spec, plans[i], sensitive, judged_families, rows, nulls, failed)

    return [_guard(spec, lambda i=i, s=spec: one(i, s), secrets) for i, spec in enumerate(checks)]


def _on_table(table: sqlroad.Table, policy: Policy, source: dict, spec: CheckSpec, *, schema_fields: list[dict],
              references: dict[str, dict], sensitive: set[str],
              families: dict[str, str] | None = None) -> CheckOutcome:
    families = table.families() if families is None else families
    sqlite = table.dialect == "sqlite"
    if sqlite and spec.rule_type != "schema_match":
        families = _schema_temporal(families, schema_fields)
    plan = rules.plan(spec, families, references)
    if plan.kind == "row_count":
        return sqlroad.row_count(table, spec, plan)
    if plan.kind == "freshness":
        rows, value = sqlroad.newest(table, plan)
        return frames.judge_freshness(spec, plan, rows, value)
    if plan.kind == "schema_match":
        def unconvertible(column: str, target: pl.DataType) -> int:
            read = TableScan(policy, source["connection"], source["table"], [column], None)
            try:
                return frames.castable_failures(read.frame(), column, target)
            finally:
                read.close()

        return schemas.schema_match(spec, schema_fields, families, text_backed=sqlite, sqlite=sqlite,
                                    unconvertible=unconvertible)
    if sqlite and (plan.kind == "regex_match" or (plan.kind == "range" and families[plan.column] in rules.TEMPORAL)):
        return _polars_on_table(policy, source, spec, plan, families, sensitive, None, schema_fields)
    if plan.kind == "referential":
        ref = plan.reference["source"]
        if ref.get("type") == "database" and ref.get("connection") == source["connection"]:
            schema, name = split_table(ref.get("table"), dialect=table.dialect, field="config.dataset_id")
            if plan.reference["ref_column"] not in table.families(schema, name):
                raise rules.Problem(f"config.ref_column: column {plan.reference['ref_column']!r} does not exist "
                                    f"in dataset {plan.reference['dataset_id']!r}")
            return sqlroad.row_rule(table, spec, plan, sensitive, families)
        return _polars_on_table(policy, source, spec, plan, families, sensitive, _reference_values(policy, plan),
                                schema_fields)
    return sqlroad.row_rule(table, spec, plan, sensitive, families)


def _with_columns(frame: pl.LazyFrame, fmt: str, fields: list[dict], path: str) -> pl.LazyFrame:
    """An empty JSON lines file names no column (Polars cannot even scan it): it is the schema's columns
    with no row."""
    if fmt != "jsonl" or os.path.getsize(path) > 0:
        return frame
    try:
        return pl.DataFrame(schema=schema_dtypes({"fields": fields})).lazy()
    except DataPlaneConfigError:
        return frame


def evaluate_source(source: dict, checks: list[CheckSpec], *, policy: Policy, schema_fields: list[dict],
                    references: dict[str, dict], sensitive: set[str]) -> list[CheckOutcome]:
    """Run `checks` on a dataset's source config (as validate_source accepts it); one outcome per check.

    `references` maps a referenced dataset id to its source config (for `referential`);
    `sensitive` names the columns masked in samples. Blocking: call it in a job worker.
    """
    secrets = _secrets(source if isinstance(source, dict) else {}, references)
    try:
        validate_source(source, policy)
        if source["type"] == "file":
            fmt = file_format(source)
            scan = open_source(policy, source, {"fields": schema_fields}, typed=False)
            try:
                frame = _with_columns(scan.frame, fmt, schema_fields,
                                      resolve_path(policy, source["path"], field="source.path"))
            except BaseException:
                scan.close()
                raise
        else:
            table = sqlroad.Table(policy, source)
    except Exception as exc:  # Unreachable or refused source: every check is an error, none passes.
        return [_guard(spec, lambda e=exc: _raise(e), secrets) for spec in checks]
    if source["type"] == "file":
        try:
            return evaluate_frame(frame, checks, schema_fields=schema_fields, sensitive=sensitive,
                                  references=references, policy=policy, text_backed=fmt != "parquet",
                                  from_file=True)
        finally:
            scan.close()
    try:
        return _on_table_together(table, policy, source, checks, schema_fields=schema_fields,
                                  references=references, sensitive=sensitive, secrets=secrets)
    finally:
        table.close()
