"""No list issues more SQL statements for 100 objects than for 10, on either surface.

Each list (and each relation a GraphQL list page selects) is requested for 10 and then for 100 objects,
and the statements the server sends to the database are counted (the `statements` fixture of
conftest.py): the two counts must be equal, or a statement is being sent per object (N+1).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from server.crypto.stored import secrets_at_rest
from server.db import database
from tests.reads.rows import write_rows

SMALL, LARGE = 10, 100


@pytest.fixture
async def ids(settings, credentials) -> dict[str, str]:
    """The rows, written before the app starts (the test names this fixture before `client`)."""
    async with database(settings.database_url), secrets_at_rest(settings):
        return await write_rows(LARGE)


@pytest.fixture
def settings(settings):
    # No background work (job claims, schedules) sending statements between the requests that are counted.
    return dataclasses.replace(settings, run_jobs=False, run_schedules=False)


async def _count(statements: list[str], send: Any) -> tuple[int, Any]:
    statements.clear()
    body = await send()
    return len(statements), body


REST_LISTS = {
    "datasets": "/api/v1/datasets?per_page={n}",
    "pipelines": "/api/v1/pipelines?per_page={n}",
    "jobs": "/api/v1/jobs?per_page={n}",
    "pipeline jobs": "/api/v1/jobs?pipeline_id={pipeline}&per_page={n}",
    "schema history": "/api/v1/datasets/{dataset}/schema/history?per_page={n}",
    "pipeline versions": "/api/v1/pipelines/{pipeline}/versions?per_page={n}",
    "job logs": "/api/v1/jobs/{job}/logs?limit={n}",
    "api keys": "/api/v1/workspaces/ws_default/keys?per_page={n}",
    "oauth clients": "/api/v1/workspaces/ws_default/oauth-clients?per_page={n}",
}


@pytest.mark.parametrize("name", list(REST_LISTS))
async def test_rest_lists_send_as_many_statements_for_100_objects_as_for_10(ids, client, statements, name):
    async def send(n: int) -> Any:
        response = await client.get(REST_LISTS[name].format(n=n, **ids))
        assert response.status == 200, await response.text()
        return await response.json()

    # when
    small, small_body = await _count(statements, lambda: send(SMALL))
    large, large_body = await _count(statements, lambda: send(LARGE))
    # then
    assert len(_items(small_body)) == SMALL and len(_items(large_body)) == LARGE
    assert small == large, f"{name}: {small} statements for {SMALL} objects, {large} for {LARGE}"


def _items(body: Any) -> list[Any]:
    return body["data"] if "data" in body else body["lines"] if "lines" in body else body["logs"]


# Connections nested under each object of a page (a page of its own per parent) load through DataLoaders
# too: one statement pages every parent's connection at once.
GRAPHQL_LISTS = {
    "datasets": ("datasets(first: $n)", "edges { node { id name tags fields { name type } } }"),
    "datasets > schemaHistory": ("datasets(first: $n)", "edges { node { id schemaHistory(first: 2) { totalCount "
                                 "edges { node { version } } } } }"),
    "datasets > quality": ("datasets(first: $n)", "edges { node { id qualityScore qualityRules { id name "
                           "latestStatus } latestQualityResults { id status ruleId rowsFailed } } }"),
    "pipelines": ("pipelines(first: $n)", "edges { node { id name schedule { cron paused } datasets { id name } } }"),
    "pipelines > versions": ("pipelines(first: $n)", "edges { node { id versions(first: 2) { totalCount "
                             "edges { node { version } } } } }"),
    "pipelines > jobs": ("pipelines(first: $n)", "edges { node { id jobs(first: 2) { totalCount "
                         "edges { node { id status } } } } }"),
    "jobs": ("jobs(first: $n)", "edges { node { id status pipeline { id name } steps { stepId status } } }"),
    "schema history": ('dataset(id: "{dataset}") {{ schemaHistory(first: $n)',
                       "edges { node { version fields { name } } } }"),
    "pipeline versions": ('pipeline(id: "{pipeline}") {{ versions(first: $n)',
                          "edges { node { version steps { id } } } }"),
    "pipeline jobs": ('pipeline(id: "{pipeline}") {{ jobs(first: $n)',
                      "edges { node { id pipeline { name } steps { stepId } } } }"),
    "job logs": ('jobLogs(jobId: "{job}", limit: $n)', "lines { seq message }"),
    "api keys": ('apiKeys(workspaceId: "ws_default", first: $n)', "edges { node { id name scopes } }"),
    "oauth clients": ('oauthClients(workspaceId: "ws_default", first: $n)',
                      "edges { node { clientId name secrets { prefix } } }"),
}


@pytest.mark.parametrize("name", list(GRAPHQL_LISTS))
async def test_graphql_lists_send_as_many_statements_for_100_objects_as_for_10(ids, client, statements, name):
    field, selection = GRAPHQL_LISTS[name]
    query = f"query List($n: Int!) {{ {field.format(**ids)} {{ {selection} }} }}"

    async def send(n: int) -> Any:
        response = await client.post("/graphql", json={"query": query, "variables": {"n": n}})
        body = await response.json()
        assert response.status == 200 and "errors" not in body, body
        return body

    # when
    small, small_body = await _count(statements, lambda: send(SMALL))
    large, large_body = await _count(statements, lambda: send(LARGE))
    # then
    assert _count_items(small_body) == SMALL and _count_items(large_body) == LARGE
    assert small == large, f"{name}: {small} statements for {SMALL} objects, {large} for {LARGE}"


def _count_items(body: Any) -> int:
    found = next(iter(body["data"].values()))
    if "edges" not in found and "lines" not in found:
        found = next(iter(found.values()))
    return len(found["edges"] if "edges" in found else found["lines"])
