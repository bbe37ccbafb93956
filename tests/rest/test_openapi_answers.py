"""The answers the OpenAPI document describes (datasets, pipelines, jobs, quality rules, results, profiles) are
what the server sends: real answers are validated against the document's own schemas."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from server.rest.answers import ANSWERS

V1 = "/api/v1"
# Cancelling a check needs a run that is still running: it races with the check, so it is not sampled here.
NOT_SAMPLED = {("POST", "/quality/results/{id}/cancel"), ("POST", "/quality/profiles/{id}/cancel")}


def validator(document: dict[str, Any], method: str, path: str, status: int) -> Any:
    operation = document["paths"][V1 + path][method.lower()]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return jsonschema_rs.validator_for({**schema, "components": document["components"]})


class Sampler:
    """Calls routes and keeps each answer with the route template it came from."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.answers: list[tuple[str, str, int, Any]] = []

    async def call(self, method: str, template: str, *, ids: dict[str, str] | None = None, **kwargs: Any) -> Any:
        response = await self.client.request(method, V1 + template.format(**(ids or {})), **kwargs)
        assert response.status < 300, await response.text()
        body = await response.json()
        self.answers.append((method, template, response.status, body))
        return body


async def sample_every_answer(client: Any, tmp_path: Any) -> Sampler:
    (tmp_path / "people.csv").write_text("id,name,email\n1,Ann,ann@example.com\n2,Bob,\n")
    s = Sampler(client)
    dataset = await s.call("POST", "/datasets", json={
        "name": "people", "source": {"type": "file", "path": str(tmp_path / "people.csv")},
        "schema": {"fields": [{"name": "id", "type": "integer", "nullable": False},
                              {"name": "name", "type": "string"},
                              {"name": "email", "type": "string", "sensitive": True}]}})
    one = {"id": dataset["id"]}
    await s.call("GET", "/datasets/{id}", ids=one)
    await s.call("PUT", "/datasets/{id}", ids=one, json={"description": "people"})
    await s.call("GET", "/datasets")
    pipeline = await s.call("POST", "/pipelines", json={
        "name": "copy_people", "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Paris", "paused": True},
        "steps": [{"id": "input", "type": "data_source", "config": {"dataset_id": dataset["id"]}},
                  {"id": "output", "type": "data_sink", "config": {"path": str(tmp_path / "out.parquet")}}]})
    await s.call("GET", "/pipelines/{id}", ids={"id": pipeline["id"]})
    await s.call("PUT", "/pipelines/{id}", ids={"id": pipeline["id"]}, json={"description": "copy"})
    await s.call("GET", "/pipelines")
    job = await s.call("POST", "/pipelines/{id}/run", ids={"id": pipeline["id"]})
    await s.call("POST", "/jobs/{id}/cancel", ids={"id": job["id"]})
    await s.call("GET", "/jobs/{id}", ids={"id": job["id"]})
    await s.call("GET", "/jobs")
    rule = await s.call("POST", "/quality/rules", json={
        "name": "email_present", "dataset_id": dataset["id"], "rule_type": "not_null", "config": {"column": "email"},
        "schedule": {"cron": "0 3 * * *"}})
    rule_id = {"id": rule["id"]}
    await s.call("GET", "/quality/rules/{id}", ids=rule_id)
    await s.call("PUT", "/quality/rules/{id}", ids=rule_id, json={"severity": "warning"})
    await s.call("POST", "/quality/rules/{id}/disable", ids=rule_id)
    await s.call("POST", "/quality/rules/{id}/enable", ids=rule_id)
    await s.call("GET", "/quality/rules")
    result = await s.call("POST", "/quality/rules/{id}/run", ids=rule_id, headers={"Prefer": "wait=60"})
    await s.call("GET", "/quality/rules/{id}/results", ids=rule_id)
    await s.call("GET", "/quality/results/{id}", ids={"id": result["id"]})
    profile = await s.call("POST", "/datasets/{id}/profile", ids=one, headers={"Prefer": "wait=60"})
    await s.call("GET", "/datasets/{id}/profile", ids=one)
    await s.call("GET", "/quality/profiles/{id}", ids={"id": profile["id"]})
    return s


async def test_every_described_answer_matches_its_schema(client, tmp_path):
    # given
    document = await (await client.get(f"{V1}/openapi.json")).json()
    # when
    sampler = await sample_every_answer(client, tmp_path)
    # then
    problems = [f"{method} {path}: {error}" for method, path, status, body in sampler.answers
                for error in validator(document, method, path, status).iter_errors(body)]
    assert problems == []
    assert {(method, path) for method, path, _, _ in sampler.answers} == set(ANSWERS) - NOT_SAMPLED


async def test_a_described_answer_refuses_a_missing_or_mistyped_field(client, tmp_path):
    # given
    document = await (await client.get(f"{V1}/openapi.json")).json()
    sampler = await sample_every_answer(client, tmp_path)
    rule = next(body for method, path, _, body in sampler.answers if (method, path) == ("GET", "/quality/rules/{id}"))
    check = validator(document, "GET", "/quality/rules/{id}", 200)
    # when
    missing = {key: value for key, value in rule.items() if key != "latest_status"}
    mistyped = {**rule, "version": "one"}
    # then
    assert check.is_valid(rule)
    assert not check.is_valid(missing) and not check.is_valid(mistyped)


async def test_every_described_answer_is_a_route_of_the_document(client):
    document = await (await client.get(f"{V1}/openapi.json")).json()
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    assert {(method.lower(), V1 + path) for method, path in ANSWERS} <= described
