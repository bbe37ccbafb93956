"""/quality: rules (CRUD, enable, disable, run) and their results."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any, Generic

from docc import routes
from docc._core import Answer, Flow, Items, Sleep, query
from docc.models.quality import (
    DatasetProfile,
    QualityResult,
    QualityResultAck,
    QualityRule,
    QualityRuleAck,
    QualityRuleCreate,
    QualityRuleUpdate,
)
from docc.resources.base import R, Resource, body_of, listing, nothing, one, operation, rows

# The longest `Prefer: wait=N` the server honours; a longer wait goes on by reading the result.
SERVER_WAIT_LIMIT = 60


def _rule(answer: Answer) -> QualityRule | QualityRuleAck:
    # A key without read:quality gets an acknowledgement instead of the rule it wrote.
    if "name" not in answer.body:
        return QualityRuleAck.model_validate(answer.body)
    return QualityRule.model_validate(answer.body)


def _result(answer: Answer) -> QualityResult | QualityResultAck:
    if "rule_id" not in answer.body:
        return QualityResultAck.model_validate(answer.body)
    return QualityResult.model_validate(answer.body)


def prefer_wait(wait: float | None) -> dict[str, str]:
    """The `Prefer: wait=N` header for a wait of `wait` seconds (none without a wait)."""
    if wait is None or wait <= 0:
        return {}
    return {"Prefer": f"wait={min(math.ceil(wait), SERVER_WAIT_LIMIT)}"}


class QualityResults(Resource[R]):
    """`client.quality.results`: one result of a rule's run, or cancel a running one."""

    @operation
    def get(self, result_id: str) -> Flow[QualityResult]:
        return self._get(result_id)

    def _get(self, result_id: str) -> Flow[QualityResult]:
        return self._request(routes.GET_RESULT.call(_result, id=result_id))  # type: ignore[arg-type]

    @operation
    def cancel(self, result_id: str) -> Flow[QualityResult | QualityResultAck]:
        """Stop a running check (Conflict once it has finished)."""
        return self._request(routes.CANCEL_RESULT.call(_result, id=result_id))


class QualityProfiles(Resource[R]):
    """`client.quality.profiles`: one profiling run by its id, running or finished, or cancel it."""

    @operation
    def get(self, profile_id: str) -> Flow[DatasetProfile]:
        return self._request(routes.GET_PROFILE_RUN.call(one(DatasetProfile.model_validate), id=profile_id))

    @operation
    def cancel(self, profile_id: str) -> Flow[DatasetProfile]:
        """Stop a running profile (Conflict once it has finished)."""
        return self._request(routes.CANCEL_PROFILE.call(one(DatasetProfile.model_validate), id=profile_id))


class QualityRules(Resource[R]):
    """`client.quality.rules`: read:quality to read, write:quality (and read:datasets) to change and run."""

    def __init__(self, runner: R, results: QualityResults[R]) -> None:
        super().__init__(runner)
        self._results = results

    @listing
    def list(self, *, dataset_id: str | None = None, rule_type: str | None = None, severity: str | None = None,
             enabled: bool | None = None, latest_status: str | None = None) -> Items[QualityRule]:
        """Rules, newest first, page by page; `latest_status` filters on the newest finished result."""
        params = query(dataset_id=dataset_id, rule_type=rule_type, severity=severity, enabled=enabled,
                       status=latest_status)
        return self._pages(routes.LIST_RULES.call(rows(QualityRule.model_validate), params=params))

    @operation
    def get(self, rule_id: str) -> Flow[QualityRule]:
        return self._request(routes.GET_RULE.call(_rule, id=rule_id))  # type: ignore[arg-type]

    @operation
    def create(self, spec: QualityRuleCreate | dict[str, Any] | None = None, **fields: Any
               ) -> Flow[QualityRule | QualityRuleAck]:
        """Create from a `QualityRuleCreate`, a dict or keyword arguments (`name=`, `dataset_id=`, `rule_type=`,
        `config=`, ...)."""
        return self._request(routes.CREATE_RULE.call(_rule, json=body_of(QualityRuleCreate, spec, fields)))

    @operation
    def update(self, rule_id: str, spec: QualityRuleUpdate | dict[str, Any] | None = None, **fields: Any
               ) -> Flow[QualityRule | QualityRuleAck]:
        """Change the fields given (`schedule=None` removes the schedule); a change of what the rule checks
        bumps its `version`."""
        return self._request(routes.UPDATE_RULE.call(_rule, json=body_of(QualityRuleUpdate, spec, fields),
                                                     id=rule_id))

    @operation
    def delete(self, rule_id: str) -> Flow[None]:
        """Delete the rule with its results."""
        return self._request(routes.DELETE_RULE.call(nothing, id=rule_id))

    @operation
    def enable(self, rule_id: str) -> Flow[QualityRule | QualityRuleAck]:
        return self._request(routes.ENABLE_RULE.call(_rule, id=rule_id))

    @operation
    def disable(self, rule_id: str) -> Flow[QualityRule | QualityRuleAck]:
        """A disabled rule neither runs on its schedule nor counts in the dataset's quality score."""
        return self._request(routes.DISABLE_RULE.call(_rule, id=rule_id))

    @operation
    def run(self, rule_id: str, *, wait: float | None = None, poll: float = 1.0
            ) -> Flow[QualityResult | QualityResultAck]:
        """Start a run and answer its result: `running` at once, or with `wait=N` the finished result once it
        ends within N seconds (the server waits up to a minute; a longer wait goes on reading the result).

        The server takes no Idempotency-Key on this route, so a run is sent again only when the connection
        was never made; a result still `running` after the wait is answered as it is."""
        return self._run(rule_id, wait, poll)

    def _run(self, rule_id: str, wait: float | None, poll: float) -> Flow[QualityResult | QualityResultAck]:
        deadline = None if wait is None else time.monotonic() + wait
        result = yield from self._request(routes.RUN_RULE.call(_result, headers=prefer_wait(wait), id=rule_id))
        while deadline is not None and isinstance(result, QualityResult) and not result.finished:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            yield Sleep(min(poll, left))
            result = yield from self._results._get(result.id)
        return result

    @listing
    def results(self, rule_id: str, *, status: str | None = None, since: datetime | str | None = None,
                until: datetime | str | None = None) -> Items[QualityResult]:
        """The rule's results, newest first, page by page; `since`/`until` (a datetime or RFC 3339 text) bound
        the start time."""
        params = query(status=status, since=since, until=until)
        return self._pages(routes.RULE_RESULTS.call(rows(QualityResult.model_validate), params=params, id=rule_id))


class Quality(Generic[R]):
    """`client.quality`: `rules`, `results` and `profiles`."""

    def __init__(self, runner: R) -> None:
        self.results: QualityResults[R] = QualityResults(runner)
        self.profiles: QualityProfiles[R] = QualityProfiles(runner)
        self.rules: QualityRules[R] = QualityRules(runner, self.results)
