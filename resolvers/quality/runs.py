"""Running rules and reading their results: start, wait, cancel, list, stream; what a landed result changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from resolvers.errors import ValidationError
from resolvers.ownership import load_owned, well_formed_id
from resolvers.pagination import Page, PageRequest, paginate
from resolvers.principal import Principal
from resolvers.quality.checks import cancel_running, wait_finished
from resolvers.quality.configs import threshold_of
from resolvers.quality.rules import READ, READ_DATA, WRITE, load_rule
from resolvers.quality.score import refresh_score
from resolvers.schedules import tick_time
from resolvers.validation import in_utc
from resolvers.views.quality import QualityResultView
from server.engine.bus import JOB_FEED_TOPIC, Event, bound_bus, current_bus, publish
from server.engine.quality_runs import QUALITY_TOPIC, result_topic, rule_topic
from server.models.base import new_id
from server.models.datasets import Dataset
from server.models.quality import QualityResult, QualityRule

RESULT_STATUSES = ("running", "passed", "failed", "error", "cancelled")


@dataclass(frozen=True)
class ResultFilter:
    """Results filter: a status, and a window on when the run started."""

    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in RESULT_STATUSES:
            raise ValidationError("Invalid filter", field="status",
                                  reason=f"Expected one of {', '.join(RESULT_STATUSES)}")


def _view(principal: Principal, row: QualityResult) -> QualityResultView:
    return QualityResultView.from_row(row, show_sample=principal.has_scope(READ_DATA))


def _wake_feed(result_id: str) -> None:
    """Wake this process's readers of the job feed: the database stored the rule's event (on PostgreSQL its
    notice wakes the other processes)."""
    bus = bound_bus()
    if bus is not None:
        bus.deliver_local(Event(JOB_FEED_TOPIC, "rule", {"result_id": result_id}))


async def _start(rule: QualityRule, trigger: str, created_by: str,
                 scheduled_for: datetime | None = None) -> QualityResult:
    dataset = await Dataset.get(id=rule.dataset_id)  # type: ignore[attr-defined]
    row = await QualityResult.create(
        id=new_id("qres"), workspace_id=rule.workspace_id, rule_id=rule.id,
        dataset_id=dataset.id, rule_version=rule.version, schema_version=dataset.schema_version,
        severity=rule.severity, threshold=threshold_of(rule.config), started_at=datetime.now(UTC),
        trigger=trigger, created_by=created_by, scheduled_for=scheduled_for)
    await publish(Event(QUALITY_TOPIC, "created", {"result_id": row.id}))
    _wake_feed(row.id)
    return row


async def run_rule(principal: Principal, rule_id: str) -> QualityResultView:
    """Start a run of the rule in the job workers; the result is `running` until it lands. Raises NotFound."""
    principal.require(WRITE)
    rule = await load_rule(principal, rule_id)
    return _view(principal, await _start(rule, "manual", principal.subject))


async def _load(principal: Principal, result_id: str) -> QualityResult:
    return await load_owned(QualityResult, "quality result", principal, result_id)


async def get_result(principal: Principal, result_id: str) -> QualityResultView:
    """One result of the caller's workspace; raises NotFound."""
    principal.require(READ)
    return _view(principal, await _load(principal, result_id))


async def wait_result(principal: Principal, result_id: str, seconds: float) -> QualityResultView:
    """The result once it finished, or as it is after `seconds` (at most a minute); raises NotFound."""
    principal.require(READ)
    return _view(principal, await wait_finished(lambda: _load(principal, result_id), result_topic(result_id), seconds))


async def cancel_run(principal: Principal, result_id: str) -> QualityResultView:
    """Stop a running check (at once when no worker has claimed it yet); raises NotFound, Conflict."""
    principal.require(WRITE)
    await cancel_running(QualityResult, await _load(principal, result_id), "run", "result_id", result_landed)
    return _view(principal, await _load(principal, result_id))


async def list_results(principal: Principal, rule_id: str, filters: ResultFilter,
                       page: PageRequest) -> Page[QualityResultView]:
    """A rule's results, newest first; raises NotFound, ValidationError."""
    principal.require(READ)
    rule = await load_rule(principal, rule_id)
    query = QualityResult.filter(rule_id=rule.id)
    if filters.status is not None:
        query = query.filter(status=filters.status)
    if filters.since is not None:
        query = query.filter(started_at__gte=in_utc(filters.since, "since"))
    if filters.until is not None:
        query = query.filter(started_at__lt=in_utc(filters.until, "until"))
    return (await paginate(query, page)).map(lambda row: _view(principal, row))


async def latest_results_of_datasets(principal: Principal,
                                     dataset_ids: list[str]) -> list[list[QualityResultView]]:
    """The newest finished result of each rule of each dataset, in the order of `dataset_ids`."""
    principal.require(READ)
    ids = [dataset_id for dataset_id in dataset_ids if well_formed_id(dataset_id)]
    # Two queries for any number of datasets: their rules (each names its newest finished result), then
    # those results.
    rules = await QualityRule.filter(workspace_id=principal.workspace_id, dataset_id__in=ids,
                                     latest_result_id__isnull=False).order_by("created_at", "id").values(
        "dataset_id", "latest_result_id") if ids else []
    results = {row.id: row for row in await QualityResult.filter(
        id__in=[rule["latest_result_id"] for rule in rules])} if rules else {}
    grouped: dict[str, list[QualityResultView]] = {}
    for rule in rules:
        if (newest := results.get(rule["latest_result_id"])) is not None:
            grouped.setdefault(rule["dataset_id"], []).append(_view(principal, newest))
    return [grouped.get(dataset_id, []) for dataset_id in dataset_ids]


async def rule_results(principal: Principal, rule_id: str) -> AsyncIterator[QualityResultView]:
    """Every result of the rule that finishes from now on, as it lands; raises NotFound."""
    principal.require(READ)
    rule = await load_rule(principal, rule_id)
    subscription = current_bus().subscribe(rule_topic(rule.id))
    try:
        while True:
            event = await subscription.get()
            if event is None:
                continue  # Notices were dropped: the subscriber reads the history for what it missed.
            if event.kind == "deleted":
                return
            row = await QualityResult.get_or_none(id=str(event.data.get("result_id")), rule_id=rule.id)
            if row is not None:
                yield _view(principal, row)
    finally:
        subscription.close()


async def result_landed(result_id: str) -> None:
    """What a finished result changes: the rule's latest status, the dataset's score; then the notices."""
    row = await QualityResult.get_or_none(id=result_id)
    if row is None:
        return
    if row.status in ("passed", "failed", "error"):
        newest = await QualityResult.filter(rule_id=row.rule_id, status__in=("passed", "failed", "error")) \
            .order_by("-created_at", "-id").first()  # type: ignore[attr-defined]
        if newest is not None and newest.id == row.id:
            await QualityRule.filter(id=row.rule_id).update(  # type: ignore[attr-defined]
                latest_status=row.status, latest_result_id=row.id)
        await refresh_score(row.dataset_id)
    data = {"result_id": row.id, "status": row.status}
    _wake_feed(row.id)
    await publish(Event(result_topic(row.id), "finished", data))
    await publish(Event(rule_topic(row.rule_id), "finished", data))  # type: ignore[attr-defined]


async def fire_rule_tick(rule_id: str, now: datetime | None = None) -> str | None:
    """The rule scheduler's tick: start the run of the tick due at `now`, once across processes.

    Returns the result id, or None when the rule is gone, disabled or unscheduled, or another process
    already started this tick's run.
    """
    rule = await QualityRule.get_or_none(id=rule_id, enabled=True)
    if rule is None or not rule.cron:
        return None
    try:
        return (await _start(rule, "schedule", "schedule", tick_time(rule.cron, rule.timezone, now))).id
    except IntegrityError:
        return None
