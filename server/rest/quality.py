"""REST translation of the quality domain: /quality/rules, their runs and results."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web

from resolvers.errors import ValidationError
from resolvers.quality import profiles, runs
from resolvers.quality import rules as domain
from resolvers.validation import parse
from resolvers.views.quality import DatasetProfileView, QualityResultView, QualityRuleView
from server.edge.bodies import read_json
from server.edge.context import principal_of
from server.edge.responses import json_response
from server.edge.routes import Route, full_response
from server.rest.common import page_request, page_response

# RFC 7240: `Prefer: wait=N` (among other preferences, separated by commas or semicolons).
_WAIT = re.compile(r"(?:^|[,;])\s*wait\s*=\s*\"?([0-9]{1,6})\"?\s*(?=$|[,;])", re.IGNORECASE)


def rule_json(rule: QualityRuleView) -> dict[str, Any]:
    """The reference's rule shape (`threshold` stays inside `config`), with its version and latest status."""
    return {"id": rule.id, "name": rule.name, "description": rule.description, "dataset_id": rule.dataset_id,
            "rule_type": rule.rule_type, "config": rule.config, "severity": rule.severity, "enabled": rule.enabled,
            "version": rule.version,
            "schedule": {"cron": rule.cron, "timezone": rule.timezone, "next_runs": list(rule.next_runs)}
            if rule.cron else None,
            "latest_status": rule.latest_status, "created_by": rule.created_by,
            "created_at": rule.created_at, "updated_at": rule.updated_at}


def result_json(result: QualityResultView) -> dict[str, Any]:
    """One run of a rule; `sample` is null for a caller that may not read the dataset's data."""
    return {"id": result.id, "rule_id": result.rule_id, "dataset_id": result.dataset_id,
            "rule_version": result.rule_version, "schema_version": result.schema_version, "status": result.status,
            "severity": result.severity, "trigger": result.trigger, "job_id": result.job_id,
            "rows_checked": result.rows_checked,
            "rows_failed": result.rows_failed, "nulls": result.nulls, "pass_ratio": result.pass_ratio,
            "threshold": result.threshold, "observed": result.observed,
            "sample": list(result.sample) if result.sample is not None else None, "error": result.error,
            "started_at": result.started_at, "finished_at": result.finished_at, "duration_s": result.duration_s}


def _rule_response(request: web.Request, rule: QualityRuleView, status: int = 200) -> web.Response:
    # A write-only key learns the id and version it made, not the rule.
    body = rule_json(rule) if full_response(request) else {"id": rule.id, "version": rule.version}
    return json_response(body, status=status)


def _flag(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw.lower() not in {"true", "false", "1", "0"}:
        raise ValidationError(f"Invalid query parameter {name}", field=name, reason="Expected true or false")
    return raw.lower() in {"true", "1"}


def _instant(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw[:64].replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"Invalid query parameter {name}", field=name,
                              reason="Expected an RFC 3339 date-time") from None


def prefer_wait(request: web.Request) -> int | None:
    """The seconds of a `Prefer: wait=N` header (RFC 7240), None without one."""
    found = _WAIT.search(",".join(request.headers.getall("Prefer", [])))
    return int(found.group(1)) if found else None


async def list_rules(request: web.Request) -> web.Response:
    query = request.query
    filters = domain.QualityRuleFilter(dataset_id=query.get("dataset_id"), rule_type=query.get("rule_type"),
                                       severity=query.get("severity"), enabled=_flag(request, "enabled"),
                                       latest_status=query.get("status"))
    page = await domain.list_rules(await principal_of(request), filters, page_request(request))
    return page_response(request, page, rule_json)


async def create_rule(request: web.Request) -> web.Response:
    spec = parse(domain.QualityRuleCreate, await read_json(request), "quality rule")
    rule = await domain.create_rule(await principal_of(request), spec)
    response = _rule_response(request, rule, status=201)
    response.headers["Location"] = f"/api/v1/quality/rules/{rule.id}"
    return response


async def get_rule(request: web.Request) -> web.Response:
    return _rule_response(request, await domain.get_rule(await principal_of(request), request.match_info["id"]))


async def update_rule(request: web.Request) -> web.Response:
    spec = parse(domain.QualityRuleUpdate, await read_json(request), "quality rule")
    rule = await domain.update_rule(await principal_of(request), request.match_info["id"], spec)
    return _rule_response(request, rule)


async def delete_rule(request: web.Request) -> web.Response:
    await domain.delete_rule(await principal_of(request), request.match_info["id"])
    return web.Response(status=204)


async def enable_rule(request: web.Request) -> web.Response:
    return _rule_response(request, await domain.set_enabled(await principal_of(request), request.match_info["id"],
                                                            True))


async def disable_rule(request: web.Request) -> web.Response:
    return _rule_response(request, await domain.set_enabled(await principal_of(request), request.match_info["id"],
                                                            False))


def _result_response(request: web.Request, result: QualityResultView, status: int,
                     headers: dict[str, str] | None = None) -> web.Response:
    body = result_json(result) if full_response(request) else {"id": result.id, "status": result.status}
    return json_response(body, status=status, headers=headers)


async def run_rule(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    result = await runs.run_rule(principal, request.match_info["id"])
    headers = {"Location": f"/api/v1/quality/results/{result.id}"}
    wait = prefer_wait(request)
    if wait is not None and full_response(request):
        result = await runs.wait_result(principal, result.id, wait)
        headers["Preference-Applied"] = f"wait={wait}"
    return _result_response(request, result, 202 if result.status == "running" else 200, headers)


async def rule_results(request: web.Request) -> web.Response:
    filters = runs.ResultFilter(status=request.query.get("status"), since=_instant(request, "since"),
                                until=_instant(request, "until"))
    page = await runs.list_results(await principal_of(request), request.match_info["id"], filters,
                                   page_request(request))
    return page_response(request, page, result_json)


async def get_result(request: web.Request) -> web.Response:
    return json_response(result_json(await runs.get_result(await principal_of(request), request.match_info["id"])))


async def cancel_result(request: web.Request) -> web.Response:
    result = await runs.cancel_run(await principal_of(request), request.match_info["id"])
    return _result_response(request, result, 202)


def _body(model: Any) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True)


READ, WRITE = domain.READ, domain.WRITE
ROUTES = [
    Route("GET", "/quality/rules", list_rules, READ, "List quality rules", "quality",
          query=("dataset_id", "rule_type", "severity", "enabled", "status"), paged=True),
    Route("POST", "/quality/rules", create_rule, WRITE, "Create a quality rule (needs read:datasets too)", "quality",
          status=201, body=_body(domain.QualityRuleCreate), read_scope=READ),
    Route("GET", "/quality/rules/{id}", get_rule, READ, "Get a quality rule", "quality"),
    Route("PUT", "/quality/rules/{id}", update_rule, WRITE, "Update a quality rule", "quality",
          body=_body(domain.QualityRuleUpdate), read_scope=READ),
    Route("DELETE", "/quality/rules/{id}", delete_rule, WRITE, "Delete a quality rule and its results", "quality",
          status=204),
    Route("POST", "/quality/rules/{id}/enable", enable_rule, WRITE, "Enable a quality rule", "quality",
          read_scope=READ),
    Route("POST", "/quality/rules/{id}/disable", disable_rule, WRITE, "Disable a quality rule", "quality",
          read_scope=READ),
    Route("POST", "/quality/rules/{id}/run", run_rule, WRITE,
          "Run a quality rule now (202 with the running result; `Prefer: wait=N` waits up to N s for the end)",
          "quality", status=202, read_scope=READ, operation="run_quality_rule"),
    Route("GET", "/quality/rules/{id}/results", rule_results, READ, "A rule's results, newest first", "quality",
          query=("status", "since", "until"), paged=True),
    Route("GET", "/quality/results/{id}", get_result, READ, "Get one result of a quality rule", "quality"),
    Route("POST", "/quality/results/{id}/cancel", cancel_result, WRITE, "Cancel a running quality check", "quality",
          status=202, read_scope=READ),
]


def profile_json(profile: DatasetProfileView) -> dict[str, Any]:
    """One profiling of a dataset; `columns` holds the figures of each column."""
    return {"id": profile.id, "dataset_id": profile.dataset_id, "schema_version": profile.schema_version,
            "status": profile.status, "row_count": profile.row_count,
            "columns": [{"name": c.name, "type": c.type, "row_count": c.row_count, "null_count": c.null_count,
                         "distinct_count": c.distinct_count, "distinct_approximate": c.distinct_approximate,
                         "min": c.min, "max": c.max, "mean": c.mean, "min_length": c.min_length,
                         "max_length": c.max_length} for c in profile.columns],
            "error": profile.error, "started_at": profile.started_at, "finished_at": profile.finished_at,
            "duration_s": profile.duration_s}


async def profile_dataset(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    profile = await profiles.profile_dataset(principal, request.match_info["id"])
    wait = prefer_wait(request)
    headers = {"Location": f"/api/v1/datasets/{profile.dataset_id}/profile"}
    if wait is not None:
        profile = await profiles.wait_profile(principal, profile.id, wait)
        headers["Preference-Applied"] = f"wait={wait}"
    return json_response(profile_json(profile), status=202 if profile.status == "running" else 200, headers=headers)


async def get_profile(request: web.Request) -> web.Response:
    return json_response(profile_json(await profiles.latest_profile(await principal_of(request),
                                                                    request.match_info["id"])))


async def get_profile_run(request: web.Request) -> web.Response:
    return json_response(profile_json(await profiles.get_profile(await principal_of(request),
                                                                 request.match_info["id"])))


async def cancel_profile(request: web.Request) -> web.Response:
    profile = await profiles.cancel_profile(await principal_of(request), request.match_info["id"])
    return json_response(profile_json(profile), status=202)


ROUTES += [
    Route("POST", "/datasets/{id}/profile", profile_dataset, WRITE,
          "Profile the dataset's data in the job workers (needs read:datasets too; `Prefer: wait=N` waits)",
          "quality", status=202, read_scope=domain.READ_DATA, operation="profile_dataset"),
    Route("GET", "/datasets/{id}/profile", get_profile, domain.READ_DATA, "The dataset's latest profile", "quality"),
    Route("GET", "/quality/profiles/{id}", get_profile_run, domain.READ_DATA,
          "One profile run, running or finished", "quality"),
    Route("POST", "/quality/profiles/{id}/cancel", cancel_profile, WRITE,
          "Cancel a running profile (needs read:datasets too)", "quality", status=202, read_scope=domain.READ_DATA),
]
