"""The data_sink step in two phases: stage beside the target, then publish (or discard) when the job decides.

Files are staged as a temp file in the target's directory and published with `os.replace`; tables are
staged as a staging table beside the target and published in one transaction. Every staged name
carries the job's key (`<job id hex>_<attempt>`), so whoever finds it later can tell whose it is.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from . import database
from .paths import resolve_path
from .policy import Policy
from .targets import Target

# `.<target name>.docc_<job key>_<random>.tmp`, in the target's directory.
_TEMP_NAME = re.compile(r"^\.(.+)\.docc_([0-9a-z]+_\d+)_[0-9a-f]{8}\.tmp$")


def _temp_name(path: str, key: str) -> str:
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.docc_{key}_{uuid.uuid4().hex[:8]}.tmp")


def file_key(name: str, target_name: str) -> str | None:
    """The job key in a temp file's name beside `target_name`, or None when it is not one of ours."""
    match = _TEMP_NAME.match(name)
    return match.group(2) if match and match.group(1) == target_name else None


@dataclass(frozen=True)
class Staged:
    """One sink's rows, written where the target is but not yet visible: a temp file or a staging table."""

    step_id: str
    target: Target
    name: str  # The temp file's base name, or the staging table's name.

    def record(self) -> dict[str, Any]:
        """What the server records of it in the job's plan (no URL, no secret)."""
        return {"step": self.step_id, "kind": self.target.kind, "name": self.name}


def stage(policy: Policy, step_id: str, frame: pl.LazyFrame, target: Target, key: str, batch_rows: int,
          on_batch: Callable[[int], None]) -> Staged:
    """Write `frame` beside the target under a name carrying the job's `key`; the target is untouched."""
    if target.kind == "file":
        return _stage_file(policy, step_id, frame, target, key)
    # Built from the schema: collecting even zero rows would start reading the source.
    empty = pl.DataFrame(schema=frame.collect_schema())

    def batches() -> Iterator[pl.DataFrame]:
        yield from frame.collect_batches(chunk_size=batch_rows)

    name = database.staging_name(key)
    database.stage_rows(policy, target.url or "", target.table or "", name, batches(), empty, on_batch,
                        named=target.named)
    return Staged(step_id, target, name)


class Prepared:
    """Every staged write of a run, ready to be made visible: table swaps run inside open transactions
    (one per database), files checked in place. `commit` then only says COMMIT and renames, back to back."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.publications: dict[str, database.Publication] = {}
        self.files: list[tuple[Staged, str, str]] = []
        self.order: list[tuple[str, str]] = []  # (step id, database url or "") in the order added

    def add(self, staged: Staged) -> None:
        """Prepare one staged write; raises when it could not be published (nothing is visible yet)."""
        target = staged.target
        if target.kind == "table":
            url = target.url or ""
            if url not in self.publications:
                self.publications[url] = database.Publication(self.policy, url, named=target.named)
            self.publications[url].add(target.table or "", staged.name, target.mode)
            self.order.append((staged.step_id, url))
            return
        path = resolve_path(self.policy, target.path or "", field="config.path")
        temp = os.path.join(os.path.dirname(path), staged.name)
        if os.path.exists(temp):
            self.files.append((staged, temp, path))
        self.order.append((staged.step_id, ""))

    def commit(self, on_published: Callable[[str], None]) -> None:
        """Make everything visible: each database's transaction commits, each file is renamed over its target."""
        for url, publication in self.publications.items():
            publication.commit()
            for step_id in [sid for sid, at in self.order if at == url]:
                on_published(step_id)
        for staged, temp, path in self.files:
            os.replace(temp, path)
            on_published(staged.step_id)

    def abort(self) -> None:
        """Roll every open transaction back; the staged objects stay for `discard`."""
        for publication in self.publications.values():
            with contextlib.suppress(Exception):
                publication.abort()
        self.publications.clear()


def discard(policy: Policy, target: Target, key: str, keep: str | None = None) -> list[str]:
    """Remove what the job `key` staged for `target` (but `keep`); returns the names removed."""
    if target.kind == "table":
        return database.drop_staging(policy, target.url or "", target.table or "", key, keep=keep,
                                     named=target.named)
    path = resolve_path(policy, target.path or "", field="config.path")
    directory, base = os.path.dirname(path), os.path.basename(path)
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(directory):
            if name != keep and database.owned(file_key(name, base), key):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(directory, name))
                removed.append(name)
    return removed


def _stage_file(policy: Policy, step_id: str, frame: pl.LazyFrame, target: Target, key: str) -> Staged:
    """Stream `frame` into a temp file beside the target (old rows first for `append`)."""
    # Checked again right before writing: a symlink planted since the step started is caught.
    path = resolve_path(policy, target.path or "", field="config.path")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"directory {directory!r} does not exist")
    if target.mode == "append" and os.path.exists(path):
        # Files cannot be appended to atomically: write old rows plus new rows to the temp file.
        old = _scan_file(path, target)
        frame = pl.concat([old, frame], how="vertical_relaxed")
    temp = _temp_name(path, key)
    opts = target.options or {}
    try:
        if target.format == "parquet":
            frame.sink_parquet(temp, engine="streaming")
        elif target.format == "csv":
            frame.sink_csv(temp, separator=opts.get("delimiter", ","),
                           include_header=opts.get("has_header", True), engine="streaming")
        else:
            frame.sink_ndjson(temp, engine="streaming")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        raise
    return Staged(step_id, target, os.path.basename(temp))


def _scan_file(path: str, target: Target) -> pl.LazyFrame:
    opts = target.options or {}
    if target.format == "parquet":
        return pl.scan_parquet(path)
    if target.format == "csv":
        return pl.scan_csv(path, separator=opts.get("delimiter", ","),
                           has_header=opts.get("has_header", True))
    return pl.scan_ndjson(path)
