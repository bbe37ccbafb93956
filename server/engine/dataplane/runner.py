"""execute_steps: executes the data steps of a pipeline, synchronously, in a worker thread.

How rows are counted without reading a source twice: every step's output is one lazy Polars plan,
and a tap (a pass-through `map_batches` in the streaming engine) counts the rows leaving each step as
they flow. Nothing runs until a step needs the data: a sink (which streams the plan into its
destination), a step whose output feeds several steps (its output is spilled once to an Arrow IPC
file in a temp directory and every consumer reads the spill), or a final step with no consumer (its
rows are counted). So a source is read exactly once per run, and one pass yields the rows in and out
of every step on the way. The same taps check the cancel event, so a run stops within one batch.

Because steps are fused, a step "runs" from its `on_step_start` until the step that pulls its data
finishes; `duration_s` covers that span. If any step of a fused chain fails, every started step of
the chain ends with an error and the run raises StepFailed naming the step that failed.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import polars as pl

from .cleaner import build_cleaner, tap
from .context import Resolver, RunContext, RunResult, StepStats, trimmed
from .errors import Cancelled, DataPlaneConfigError, StepDataError, StepFailed
from .gate_config import reference_ids
from .graph import Plan, plan_steps, upstream_source
from .masking import redact
from .policy import Policy
from .quality import CheckOutcome
from .quality_gate import run_gate
from .sinks import Prepared, Staged, discard, stage
from .sources import open_source
from .targets import resolve_target
from .typed_files import inference_miss


class _Counter:
    def __init__(self) -> None:
        self.rows = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> int:
        with self._lock:
            self.rows += n
            return self.rows


class _Run:
    def __init__(self, steps: list[dict[str, Any]], resolve: Resolver, ctx: RunContext, spill: str,
                 policy: Policy, widened: dict[str, pl.DataType]) -> None:
        self.plan: Plan = plan_steps(steps)
        self.resolve, self.ctx, self.spill, self.policy = resolve, ctx, spill, policy
        self.frames: dict[str, pl.LazyFrame] = {}
        self.counters: dict[str, _Counter] = {}
        self.rows_out: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.open: list[str] = []
        self.stats: dict[str, StepStats] = {}
        self.closers: list[Callable[[], None]] = []
        self.secrets: list[str] = []
        self.expected: dict[str, int | None] = {}
        self.last_progress = 0.0
        self.spilled: set[str] = set()
        self.widened = widened
        self.staged: list[Staged] = []
        self.decided = False

    # -- helpers -------------------------------------------------------------------------------------
    def check_cancel(self, step_id: str | None) -> None:
        if self.ctx.cancel.is_set():
            raise Cancelled(step_id)

    def progress(self, force: bool = False) -> None:
        if self.ctx.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_progress < 0.25:
            return
        self.last_progress = now
        total = len(self.plan.order)
        partial = 0.0
        for sid in self.open:
            root = upstream_source(self.plan, sid)
            expected = self.expected.get(root or "")
            if expected and root in self.counters:
                partial += min(self.counters[root].rows / expected, 1.0) * 0.99
        self.ctx.on_progress(min((len(self.stats) + partial) / total, 1.0))

    def counted(self, step_id: str, frame: pl.LazyFrame) -> pl.LazyFrame:
        counter = self.counters[step_id] = _Counter()

        def on_batch(df: pl.DataFrame) -> None:
            self.check_cancel(step_id)
            counter.add(df.height)
            self.progress()

        return tap(frame, on_batch)

    def schema_of(self, step_id: str) -> dict[str, Any] | None:
        root = upstream_source(self.plan, step_id)
        if root is None:
            return None
        dataset_id = self.plan.order[[s["id"] for s in self.plan.order].index(root)]["config"]["dataset_id"]
        return self.resolve.dataset(dataset_id)[1]

    # -- steps ---------------------------------------------------------------------------------------
    def build(self, step: dict[str, Any]) -> None:
        sid, kind, config = step["id"], step["type"], step.get("config", {})
        if kind == "data_source":
            source, schema = self.resolve.dataset(config["dataset_id"])
            if source.get("type") == "database":
                self.secrets.append(source.get("connection", ""))
            scan = open_source(self.policy, source, schema, columns=config.get("columns"), where=config.get("filter"),
                               step_id=sid, widened=self.widened)
            self.closers.append(scan.close)
            self.expected[sid] = scan.expected_rows
            self.frames[sid] = self.counted(sid, scan.frame)
            try:
                self.frames[sid].collect_schema()
            except Exception as exc:  # A projection of a missing column surfaces here.
                raise StepFailed(sid, f"{type(exc).__name__}: {exc}") from None
        elif kind == "data_cleaner":
            source_input = self.input_frame(sid)
            frame = build_cleaner(source_input, config, sid, self.schema_of(sid) if config.get("cast") is True
                                  else None)
            self.frames[sid] = self.counted(sid, frame)
        elif kind == "quality_check":
            self.quality_check(sid, config)
        else:
            self.sink(sid, config)

    def quality_check(self, sid: str, config: dict[str, Any]) -> None:
        """Check the rows flowing through; an `error` check that does not pass fails the step before any
        later sink. The input is spilled once, so the checks and the steps after read the same rows."""
        self.spill_output(self.plan.inputs[sid] or "")
        frame = self.input_frame(sid)
        schema = self.schema_of(sid) or {}
        fields = schema.get("fields") or []
        sensitive = {field["name"] for field in fields if field.get("sensitive")}
        # Datasets `referential` checks read: only those the job's parent resolved (its own workspace's),
        # opened through the job's policy like any source. One it did not resolve makes the check an error.
        references = {}
        for dataset_id in reference_ids([{"type": "quality_check", "config": config}]):
            try:
                references[dataset_id] = self.resolve.dataset(dataset_id)[0]
            except LookupError:
                continue
        for ref in references.values():
            if ref.get("type") == "database":
                self.secrets.append(ref.get("connection", ""))

        def on_outcome(index: int, outcome: CheckOutcome) -> None:
            self.ctx.on_quality(sid, index, asdict(outcome))

        run_gate(frame, config, step_id=sid, schema_fields=fields, sensitive=sensitive, log=self.ctx.log,
                 references=references, policy=self.policy, on_outcome=on_outcome)
        self.check_cancel(sid)
        self.frames[sid] = self.counted(sid, frame)

    def input_frame(self, step_id: str) -> pl.LazyFrame:
        return self.frames[self.plan.inputs[step_id] or ""]

    def sink(self, sid: str, config: dict[str, Any]) -> None:
        target = resolve_target(self.policy, config, sid, self.resolve.connection, self.resolve.dataset)
        if target.url:
            self.secrets.append(target.url)
        if self.plan.consumers[sid]:
            # Steps after a sink read the same rows: spill them once rather than read the source twice.
            self.spill_output(self.plan.inputs[sid] or "")
        frame = self.input_frame(sid)
        self.ctx.log("info", sid, f"writing to {target.describe()} ({target.mode}), "
                                  "staged until every step succeeded")

        def on_batch(rows: int) -> None:
            self.check_cancel(sid)
            self.ctx.log("debug", sid, f"staged {rows} rows")
            self.progress()

        self.staged.append(stage(self.policy, sid, frame, target, self.ctx.job_key, self.ctx.batch_rows, on_batch))
        self.check_cancel(sid)
        self.finish_chain(sid)
        # A sink passes its input on, so a later step can write the same rows elsewhere.
        self.frames[sid] = frame

    def publish_all(self) -> None:
        """Every step succeeded: prepare every staged write, then publish them back to back if the caller agrees.

        Preparing runs each table's swap inside an open transaction (one per database), so a swap that
        cannot work fails here, while nothing is visible. After the caller's yes, publishing is COMMITs
        and renames only. A failure after that point leaves the rest staged for recovery to finish.
        """
        self.check_cancel(None)
        prepared = Prepared(self.policy)
        try:
            for staged in self.staged:
                try:
                    prepared.add(staged)
                except Exception as exc:
                    self.fail_prepared(staged.step_id, f"{type(exc).__name__}: {exc}", exc)
            if self.staged and not self.ctx.prepare([staged.record() for staged in self.staged]):
                raise Cancelled(None)
        except BaseException:
            prepared.abort()
            raise
        self.decided = True
        try:
            prepared.commit(self.published)
        except Exception as exc:
            prepared.abort()
            message = trimmed(redact(f"publishing failed: {type(exc).__name__}: {exc}", *self.secrets))
            self.ctx.log("error", None, message)
            raise StepFailed(self.staged[-1].step_id, message) from exc

    def published(self, step_id: str) -> None:
        self.ctx.on_released(step_id, True)
        target = next(s.target for s in self.staged if s.step_id == step_id)
        self.ctx.log("info", step_id, f"published to {target.describe()}")

    def fail_prepared(self, step_id: str, message: str, exc: BaseException) -> None:
        """A sink whose rows were staged but cannot be published: the step ends failed after all."""
        message = trimmed(redact(message, *self.secrets))
        self.ctx.log("error", step_id, message)
        stats = self.stats[step_id]
        self.stats[step_id] = StepStats(stats.rows_in, None, stats.duration_s, message)
        self.ctx.on_step_end(step_id, self.stats[step_id])
        raise StepFailed(step_id, message) from exc

    def discard_staged(self) -> None:
        """The run did not reach its decision: remove what it staged, so every destination is as it was."""
        for staged in self.staged:
            try:
                discard(self.policy, staged.target, self.ctx.job_key)
                self.ctx.on_released(staged.step_id, False)
            except Exception as exc:  # Left for the sweep; the run's own outcome is what the caller must see.
                self.ctx.log("warning", staged.step_id, f"removing staged rows failed: {type(exc).__name__}")

    def materialize(self, sid: str) -> None:
        """Run a step's plan now: spill it when several steps read it, count it when none does."""
        if self.plan.consumers[sid]:
            self.spill_output(sid)
        else:
            self.frames[sid].select(pl.len()).collect(engine="streaming")
            self.finish_chain(sid)

    def spill_output(self, sid: str) -> None:
        if sid in self.spilled:
            return
        path = f"{self.spill}/{len(self.spilled)}.arrow"
        self.frames[sid].sink_ipc(path, engine="streaming")
        self.frames[sid] = pl.scan_ipc(path)
        self.spilled.add(sid)
        self.finish_chain(sid)

    def finish_chain(self, sid: str) -> None:
        """End every open step that fed `sid`, and `sid` itself, now that their rows have all flowed."""
        chain, current = [], sid
        while current is not None:
            chain.append(current)
            current = self.plan.inputs.get(current)
        for step_id in [s for s in self.open if s in chain]:
            source = self.plan.inputs.get(step_id)
            out = self.counters[step_id].rows if step_id in self.counters else self.rows_out[source or ""]
            self.rows_out[step_id] = out
            rows_in = out if source is None else self.rows_out[source]
            self.ctx.log("info", step_id, f"rows in {rows_in}, rows out {out}")
            self.end(step_id, StepStats(rows_in, out, time.monotonic() - self.started[step_id]))
        self.progress(force=True)

    def end(self, step_id: str, stats: StepStats) -> None:
        self.open.remove(step_id)
        self.stats[step_id] = stats
        self.ctx.on_step_end(step_id, stats)

    def fail_open(self, failed: str | None, message: str) -> None:
        """End every open step with an error: `message` for the failed one, "stopped" for the others."""
        for step_id in list(self.open):
            error = message if failed in (None, step_id) else f"stopped: step {failed!r} failed"
            self.end(step_id, StepStats(self.rows_in_so_far(step_id), None,
                                        time.monotonic() - self.started[step_id], error))

    def rows_in_so_far(self, step_id: str) -> int | None:
        source = self.plan.inputs.get(step_id)
        return self.rows_out.get(source) if source else None

    def execute(self, step: dict[str, Any]) -> None:
        sid = step["id"]
        if self.ctx.cancel.is_set():
            self.fail_open(None, "cancelled")
            raise Cancelled(sid)
        self.ctx.on_step_start(sid)
        self.started[sid] = time.monotonic()
        self.open.append(sid)
        try:
            self.build(step)
            if step["type"] != "data_sink" and len(self.plan.consumers[sid]) != 1:
                self.materialize(sid)
        except Cancelled:
            self.ctx.log("warning", sid, "run cancelled; no destination was changed")
            self.fail_open(None, "cancelled")
            raise
        except (StepDataError, StepFailed) as exc:
            self.fail(exc.step_id, exc.message, exc)
        except DataPlaneConfigError as exc:
            self.fail(sid, exc.message, exc)
        except Exception as exc:  # Driver, Polars and OS errors: reported against the step that ran.
            self.fail(sid, f"{type(exc).__name__}: {exc}", exc)

    def fail(self, step_id: str, message: str, exc: BaseException) -> None:
        message = trimmed(redact(message, *self.secrets))
        self.ctx.log("error", step_id, message)
        self.fail_open(step_id if step_id in self.open else None, message)
        raise StepFailed(step_id, message) from exc


def execute_steps(steps: list[dict[str, Any]], resolve: Resolver, ctx: RunContext, policy: Policy) -> RunResult:
    """Run the steps in dependency order under `policy`; raises DataPlaneConfigError, StepFailed or Cancelled.

    Every file and connection is checked against the policy again when it is opened, so a job fails
    with a clear error if it names something the policy refuses, whatever was checked at save time.
    When a CSV column's guessed type meets a late value it cannot parse, the run (whose writes were
    only staged, and are discarded) starts over with that column widened; at most once per column.
    """
    widened: dict[str, pl.DataType] = {}
    while True:
        try:
            return _execute(steps, resolve, ctx, policy, widened)
        except StepFailed as exc:
            miss = inference_miss(exc.__cause__)
            if miss is None or miss[0] in widened:
                raise
            column, dtype, value = miss
            widened[column] = dtype
            ctx.log("warning", exc.step_id, f"column {column!r} holds {value!r}, which its read type cannot "
                                            f"parse; reading it as {dtype} and starting the run over")


def _execute(steps: list[dict[str, Any]], resolve: Resolver, ctx: RunContext, policy: Policy,
             widened: dict[str, pl.DataType]) -> RunResult:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="docc-run-", dir=ctx.temp_dir) as spill:
        run = _Run(steps, resolve, ctx, spill, policy, widened)
        try:
            for step in run.plan.order:
                run.execute(step)
            run.publish_all()
        finally:
            if not run.decided:
                run.discard_staged()
            for close in run.closers:
                try:
                    close()
                except Exception as exc:  # Closing must not hide the run's own outcome.
                    ctx.log("warning", None, f"closing a source failed: {type(exc).__name__}")
    return RunResult(steps=dict(run.stats), duration_s=time.monotonic() - started)
