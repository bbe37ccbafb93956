"""Arrow-native table I/O over ADBC (PostgreSQL and SQLite): streamed reads and staged, atomic writes.

Reads run one SELECT carrying the projection and the filter, inside a read-only transaction on
PostgreSQL, and hand its record batches to Polars one by one. The SQLite driver guesses column types
from the first rows it sees, so a column that starts with NULLs and then holds text breaks the stream;
reads from SQLite therefore select `COALESCE(col, <typed zero>)` plus an `IS NULL` flag per column,
chosen from the declared type, and put the NULLs back in Polars.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

import adbc_driver_postgresql.dbapi as pg_dbapi
import adbc_driver_sqlite.dbapi as sqlite_dbapi
import polars as pl
import pyarrow as pa
from polars.io.plugins import register_io_source

from .connections import Connection, check_connection, parse_connection, qualified, quote_ident, split_table
from .identity import check_identity
from .policy import Policy
from .prefetch import prefetched

if TYPE_CHECKING:
    from .sources import Scan

STAGING_PREFIX = "_docc_staging_"
# `_docc_staging_<job key>_<random>`: the key (job id and attempt) tells a sweep whose table it is.
_STAGING_NAME = re.compile(rf"^{STAGING_PREFIX}([0-9a-z]+_\d+)_[0-9a-f]{{8}}$")
_NULL_FLAG = "__docc_null__"


def connect(policy: Policy, conn: Connection, *, field: str = "connection", named: bool = False) -> Any:
    """An ADBC DB-API connection (autocommit off), opened only after the policy allows it.

    The path or host is checked again here, at open time, and a PostgreSQL connection is compared
    with the server's own database by what the server reports, before the caller runs anything.
    """
    uri = check_connection(policy, conn.url, field=field, named=named, opening=True)
    if conn.dialect == "sqlite":
        return sqlite_dbapi.connect(uri)
    db = pg_dbapi.connect(uri)
    try:
        check_identity(policy, db, field=field)
    except BaseException:
        db.close()
        raise
    return db


def _sqlite_select(cur: Any, table: str, columns: list[str] | None) -> tuple[list[str], list[str]]:
    cur.execute(f"PRAGMA table_info({quote_ident(table)})")
    declared = {row[1]: (row[2] or "").upper() for row in cur.fetchall()}
    if not declared:
        raise LookupError(f"table {table!r} does not exist")
    names = columns or list(declared)
    exprs, flagged = [], []
    for name in names:
        kind = declared.get(name)
        if kind is None:
            raise LookupError(f"column {name!r} does not exist in table {table!r}")
        col = quote_ident(name)
        if "INT" in kind or "BOOL" in kind:
            value = f"COALESCE({col}, 0)"
        elif any(word in kind for word in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
            value = f"COALESCE({col}, 0.0)"
        else:
            value = f"COALESCE(CAST({col} AS TEXT), '')"
        exprs += [f"{value} AS {col}", f"{col} IS NULL AS {quote_ident(_NULL_FLAG + name)}"]
        flagged.append(name)
    return exprs, flagged


def _plain(batch: pa.RecordBatch) -> pl.DataFrame:
    # PostgreSQL numeric arrives as an opaque extension over text; keep the text, the cleaner casts it.
    arrays = [a.storage if isinstance(a, pa.ExtensionArray) else a for a in batch.columns]
    return pl.from_arrow(pa.RecordBatch.from_arrays(arrays, names=batch.schema.names))  # type: ignore[return-value]


class TableScan:
    """One streamed SELECT: executed when Polars asks for the schema, read when the plan runs."""

    def __init__(self, policy: Policy, url: str, table: str, columns: list[str] | None, where: str | None) -> None:
        self.policy = policy
        self.conn = parse_connection(url)
        self.schema_name, self.table = split_table(table, dialect=self.conn.dialect, field="table")
        self.columns, self.where = columns, where
        self._db: Any = None
        self._cur: Any = None
        self._reader: pa.RecordBatchReader | None = None
        self._flagged: list[str] = []

    def _from_where(self) -> str:
        where = f" WHERE ({self.where})" if self.where else ""
        return f" FROM {qualified(self.schema_name, self.table)}{where}"

    def open(self) -> pa.Schema:
        """Execute the SELECT and return its Arrow schema."""
        self._db = connect(self.policy, self.conn, field="source.connection")
        # Keep the cursor: when it is collected its statement closes, and the stream with it.
        cur = self._cur = self._db.cursor()
        if self.conn.dialect == "postgresql":
            cur.execute("SET TRANSACTION READ ONLY")  # A pushed-down filter can never write.
            select = ", ".join(quote_ident(c) for c in self.columns) if self.columns else "*"
        else:
            exprs, self._flagged = _sqlite_select(cur, self.table, self.columns)
            select = ", ".join(exprs)
        cur.execute(f"SELECT {select}{self._from_where()}")
        self._reader = cur.fetch_record_batch()
        return self._reader.schema

    def count(self) -> int:
        """COUNT(*) of the same FROM/WHERE, run by the database."""
        db = connect(self.policy, self.conn, field="source.connection")
        try:
            cur = db.cursor()
            cur.execute(f"SELECT COUNT(*){self._from_where()}")
            return int(cur.fetchone()[0])
        finally:
            db.close()

    def batches(self) -> Iterator[pl.DataFrame]:
        """The result's batches as DataFrames; closes the connection at the end."""
        try:
            assert self._reader is not None
            for batch in self._reader:
                yield _plain(batch)
        finally:
            self.close()

    def close(self) -> None:
        """Release the connection (idempotent)."""
        if self._db is not None:
            db, cur, self._db, self._cur, self._reader = self._db, self._cur, None, None, None
            try:
                cur.close()
                db.rollback()
            finally:
                db.close()

    def frame(self) -> pl.LazyFrame:
        """A LazyFrame over this SELECT, with SQLite NULLs restored."""
        arrow_schema = self.open()
        empty = _plain(pa.RecordBatch.from_pylist([], schema=arrow_schema))

        def source(with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
                   _batch_size: int | None) -> Iterator[pl.DataFrame]:
            seen = 0
            for df in self.batches():
                # Polars leaves pushed predicates and projections to the source: apply them here.
                if predicate is not None:
                    df = df.filter(predicate)
                if with_columns is not None:
                    df = df.select(with_columns)
                if n_rows is not None:
                    df = df.head(n_rows - seen)
                seen += df.height
                yield df
                if n_rows is not None and seen >= n_rows:
                    break

        frame = register_io_source(source, schema=empty.schema)
        if self._flagged:
            frame = frame.with_columns(
                pl.when(pl.col(_NULL_FLAG + c).cast(pl.Boolean)).then(None).otherwise(pl.col(c)).alias(c)
                for c in self._flagged
            ).drop([_NULL_FLAG + c for c in self._flagged])
        return frame


def adapt_for(dialect: str, df: pl.DataFrame) -> pl.DataFrame:
    """Convert the columns a driver cannot ingest into the nearest type it can."""
    from .types import to_json_text

    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Struct) or (dialect == "sqlite" and isinstance(dtype, pl.List | pl.Array)):
            exprs.append(to_json_text(col))
        elif isinstance(dtype, pl.Categorical | pl.Enum | pl.Null | pl.Time | pl.Duration | pl.Object):
            exprs.append(col.cast(pl.String))
        elif dialect == "sqlite" and isinstance(dtype, pl.Decimal):
            exprs.append(col.cast(pl.Float64))
        elif dtype in (pl.UInt8(), pl.UInt16()):
            exprs.append(col.cast(pl.Int32))
        elif dtype in (pl.UInt32(), pl.UInt64()):
            exprs.append(col.cast(pl.Int64))
        elif isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns":
            exprs.append(col.cast(pl.Datetime("us", dtype.time_zone)))
    return df.with_columns(exprs) if exprs else df


def stage_rows(policy: Policy, url: str, table: str, staging: str, batches: Iterator[pl.DataFrame],
               empty: pl.DataFrame, on_batch: Callable[[int], None], *, named: bool = False) -> int:
    """Stream batches into the new staging table `staging` beside `table`; the target is not touched.

    One ingest (one COPY on PostgreSQL, one transaction on SQLite) is fed batch by batch as the plan
    yields them, and committed at the end; `on_batch` is called after each batch with the rows so far
    and may raise (a cancel) to stop it. On any error the staging table is dropped before this returns.
    Returns the number of rows staged.
    """
    conn = parse_connection(url)
    schema_name, _ = split_table(table, dialect=conn.dialect, field="destination")
    arrow_schema = adapt_for(conn.dialect, empty).to_arrow().schema
    written = 0
    raised: list[BaseException] = []

    def converted() -> Iterator[tuple[int, list[pa.RecordBatch]]]:
        for df in batches:
            if df.height:
                arrow = adapt_for(conn.dialect, df).to_arrow().to_batches()
                yield df.height, [batch.cast(arrow_schema) for batch in arrow]

    def stream() -> Iterator[pa.RecordBatch]:
        nonlocal written
        try:
            # Polars computes and converts the next batch while the driver writes this one; closed here, so a
            # stop (a cancel, an error) ends the reading thread at once, not when the error is collected.
            with closing(prefetched(converted())) as ahead:
                for rows, arrow_batches in ahead:
                    yield from arrow_batches
                    written += rows
                    on_batch(written)
        except BaseException as exc:  # The driver reports it as its own error: keep the original.
            raised.append(exc)
            raise

    db = connect(policy, conn, field="destination", named=named)
    try:
        cur = db.cursor()
        reader = pa.RecordBatchReader.from_batches(arrow_schema, stream())
        try:
            cur.adbc_ingest(staging, reader, mode="create", db_schema_name=schema_name)
        except BaseException:
            if raised:
                raise raised[0] from None
            raise
        db.commit()
        return written
    except BaseException:
        db.rollback()
        _drop(db, qualified(schema_name, staging))
        raise
    finally:
        db.close()


class Publication:
    """Staging tables of one database published in one open transaction: prepared now, committed on decision.

    Each `add` runs a table's swap inside the transaction: the target keeps its identity (its rows are
    replaced by TRUNCATE, or DELETE where a foreign key references it, then INSERT ... SELECT), so
    indexes, constraints, grants, triggers and views on it survive; a missing target is created by
    renaming the staging table, and so is a target nothing but its rows tells from the staging table
    (dropped first: there is nothing to keep, and nothing to copy). The staging table is dropped in the
    same transaction, so after a commit its absence means "published". A swap that cannot work (a column
    the target lacks, a constraint) fails in `add`, before anything is visible; `commit` only has to say
    COMMIT.
    """

    def __init__(self, policy: Policy, url: str, *, named: bool = False) -> None:
        self.conn = parse_connection(url)
        self.db = connect(policy, self.conn, field="destination", named=named)
        self.cur = self.db.cursor()  # The driver runs with autocommit off: a transaction is open already.

    def add(self, table: str, staging: str, mode: str) -> bool:
        """Run one swap inside the transaction; False when the staging table is gone (already published)."""
        cur, dialect = self.cur, self.conn.dialect
        schema_name, name = split_table(table, dialect=dialect, field="destination")
        target, stage = qualified(schema_name, name), qualified(schema_name, staging)
        if not _table_exists(cur, dialect, schema_name, staging):
            return False
        if not _table_exists(cur, dialect, schema_name, name):
            cur.execute(f"ALTER TABLE {stage} RENAME TO {quote_ident(name)}")
            return True
        if mode == "replace" and _interchangeable(cur, dialect, schema_name, name, staging):
            # Nothing but its rows would tell the old table from the staged one: swap them, do not copy.
            cur.execute(f"DROP TABLE {target}")
            cur.execute(f"ALTER TABLE {stage} RENAME TO {quote_ident(name)}")
            return True
        staged_columns = _columns(cur, dialect, schema_name, staging)
        if mode == "replace":
            _empty_table(cur, dialect, target)
        if staged_columns == _columns(cur, dialect, schema_name, name):
            # The same columns in the same order: the plain form lets SQLite copy stored records as they
            # are (its transfer optimisation) when the declared types match, instead of decoding each row.
            cur.execute(f"INSERT INTO {target} SELECT * FROM {stage}")
        else:
            cols = ", ".join(quote_ident(c) for c in staged_columns)
            cur.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}")
        cur.execute(f"DROP TABLE {stage}")
        return True

    def commit(self) -> None:
        """Make every added swap visible at once, then close."""
        try:
            self.db.commit()
        finally:
            self._close()

    def abort(self) -> None:
        """Undo every added swap (the staging tables stay, for the caller to drop), then close."""
        try:
            self.db.rollback()
        finally:
            self._close()

    def _close(self) -> None:
        try:
            self.cur.close()
        finally:
            self.db.close()


def drop_staging(policy: Policy, url: str, table: str, key: str, *, keep: str | None = None,
                 named: bool = False) -> list[str]:
    """Drop the staging tables of `key` (an attempt, or a whole job) beside `table` (but `keep`); returns them."""
    conn = parse_connection(url)
    schema_name, _ = split_table(table, dialect=conn.dialect, field="destination")
    db = connect(policy, conn, field="destination", named=named)
    try:
        cur = db.cursor()
        names = [t for t in staging_tables(cur, conn.dialect, schema_name) if owned(staging_key(t), key) and t != keep]
        for staging in names:
            cur.execute(f"DROP TABLE IF EXISTS {qualified(schema_name, staging)}")
        db.commit()
        return names
    finally:
        db.close()


def staging_name(key: str) -> str:
    """A new staging table name carrying the job's key, so a sweep knows whose it is."""
    return f"{STAGING_PREFIX}{key}_{uuid.uuid4().hex[:8]}"


def staging_key(name: str) -> str | None:
    """The job key in a staging table's name, or None when the name is not one of ours."""
    match = _STAGING_NAME.match(name)
    return match.group(1) if match else None


def owned(found: str | None, key: str) -> bool:
    """Whether a staged name's key belongs to `key`: one attempt (`<job hex>_<n>`) or a whole job (`<job hex>`)."""
    return found is not None and (found == key or found.startswith(f"{key}_"))


def staging_tables(cur: Any, dialect: str, schema_name: str | None) -> list[str]:
    """The staging tables in a schema (SQLite: the database), whoever made them."""
    if dialect == "sqlite":
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        cur.execute("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = COALESCE($1, current_schema())",
                    (schema_name,))
    return [table for (table,) in cur.fetchall() if table.startswith(STAGING_PREFIX)]


def _drop(db: Any, stage: str) -> None:
    # Best effort inside an error path: the original error is what the caller must see.
    try:
        db.cursor().execute(f"DROP TABLE IF EXISTS {stage}")
        db.commit()
    except Exception:
        db.rollback()


def _empty_table(cur: Any, dialect: str, target: str) -> None:
    if dialect == "sqlite":
        cur.execute(f"DELETE FROM {target}")
        return
    # TRUNCATE is instant and transactional; a table a foreign key references refuses it, DELETE does not.
    # Asked first: after a failed statement the driver refuses everything until a full rollback.
    cur.execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE contype = 'f' "
                "AND confrelid = $1::regclass)", (target,))
    referenced = bool(cur.fetchone()[0])
    cur.execute(f"{'DELETE FROM' if referenced else 'TRUNCATE'} {target}")


def _interchangeable(cur: Any, dialect: str, schema_name: str | None, name: str, staging: str) -> bool:
    """Whether the table `name` could be dropped and `staging` renamed in its place with nothing but the rows
    changing; every check errs towards "no", which keeps the copy (always right)."""
    if dialect == "sqlite":
        return _sqlite_interchangeable(cur, name, staging)
    return _pg_interchangeable(cur, schema_name, name, staging)


# One row per table: what a plain table's identity is made of beyond its rows. Equal for the target and its
# staging table, with nothing depending on the target, means a swap is invisible but for the rows. Of the
# column options only the documented ones (the planner's n_distinct overrides) are compared: a server may
# keep private bookkeeping there that differs between any two tables.
_PG_TABLE_FACTS = """
SELECT c.relkind, c.relpersistence, c.relowner, c.relacl::text, c.reloptions::text, c.reltablespace,
       c.relrowsecurity OR c.relforcerowsecurity OR c.relispartition OR c.relhassubclass, c.relreplident, c.relam,
       (SELECT array_agg(ROW(a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attcollation, a.attacl,
                             ARRAY(SELECT o FROM unnest(a.attoptions) o WHERE split_part(o, '=', 1)
                                   IN ('n_distinct', 'n_distinct_inherited') ORDER BY o),
                             a.attidentity, a.attgenerated, a.atthasdef, a.attstattarget)::text ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT count(*) FROM pg_catalog.pg_depend d WHERE d.refclassid = 'pg_catalog.pg_class'::regclass
          AND d.refobjid = c.oid AND d.deptype <> 'i')
     + (SELECT count(*) FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
          AND d.objid = c.oid AND d.refclassid <> 'pg_catalog.pg_namespace'::regclass)
     + (SELECT count(*) FROM pg_catalog.pg_description x WHERE x.objoid = c.oid)
     + (SELECT count(*) FROM pg_catalog.pg_seclabel x WHERE x.objoid = c.oid)
     + (SELECT count(*) FROM pg_catalog.pg_inherits x WHERE x.inhrelid = c.oid OR x.inhparent = c.oid)
  FROM pg_catalog.pg_class c
 WHERE c.oid = (quote_ident(COALESCE($1, current_schema())) || '.' || quote_ident($2))::regclass
"""


def _pg_interchangeable(cur: Any, schema_name: str | None, name: str, staging: str) -> bool:
    """A PostgreSQL table nothing depends on or describes (no index, constraint, default, trigger, view, rule,
    policy, publication, owned sequence, comment, inheritance), owned, granted and declared as the staging table."""
    facts = []
    for table in (name, staging):
        cur.execute(_PG_TABLE_FACTS, (schema_name, table))
        row = cur.fetchone()
        if row is None or row[0] != "r" or row[6] or row[10]:
            return False
        facts.append(tuple(row))
    return facts[0] == facts[1]


def _sqlite_interchangeable(cur: Any, name: str, staging: str) -> bool:
    """Whether SQLite table `name` is the staging table but for its rows: the same definition word for word,
    and nothing else in the schema (an index, a trigger, a view, another table's foreign key) names it.

    The check is by text and errs towards "no": a name that merely appears inside another object's SQL
    keeps the copy, which is always right.
    """
    definitions = {}
    for table in (name, staging):
        cur.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        row = cur.fetchone()
        head = f"CREATE TABLE {quote_ident(table)}"
        if row is None or not isinstance(row[0], str) or not row[0].startswith(head):
            return False
        definitions[table] = row[0][len(head):]
    if definitions[name] != definitions[staging]:
        return False
    cur.execute("SELECT COUNT(*) FROM sqlite_master WHERE name NOT IN (?, ?) AND (tbl_name = ? "
                "OR instr(lower(sql), lower(?)) > 0)", (name, staging, name, name))
    return cur.fetchone()[0] == 0


def _columns(cur: Any, dialect: str, schema_name: str | None, name: str) -> list[str]:
    if dialect == "sqlite":
        cur.execute(f"PRAGMA table_info({quote_ident(name)})")
        return [row[1] for row in cur.fetchall()]
    cur.execute("SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = "
                "(quote_ident(COALESCE($1, current_schema())) || '.' || quote_ident($2))::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (schema_name, name))
    return [row[0] for row in cur.fetchall()]


def _table_exists(cur: Any, dialect: str, schema_name: str | None, name: str) -> bool:
    if dialect == "sqlite":
        cur.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    else:
        cur.execute("SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = "
                    "COALESCE($1, current_schema()) AND tablename = $2", (schema_name, name))
    return bool(cur.fetchone()[0])


def scan_table(policy: Policy, url: str, table: str, *, columns: list[str] | None, where: str | None) -> Scan:
    """A `sources.Scan` over a table; the database counts the rows for progress."""
    from .sources import Scan  # Imported here: sources imports this module.

    scan = TableScan(policy, url, table, columns, where)
    frame = scan.frame()
    try:
        expected = scan.count()
    except Exception:
        expected = None  # Progress is a courtesy: a failed count must not fail the read.
    return Scan(frame, expected, scan.close)
