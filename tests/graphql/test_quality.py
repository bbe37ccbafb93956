"""GraphQL quality rules: the reference's rule through GraphQL (parity with REST), errors as union members,
Dataset.qualityRules, and scopes."""

from __future__ import annotations

import asyncio
import copy

from server.engine.quality_runs import rule_topic
from server.engine.service import EVENT_BUS
from tests.examples import CREATE_DATASET, CREATE_QUALITY_RULE
from tests.graphql.helpers import ERROR_FIELDS, NOT_FOUND, VALIDATION, gql

RULE_FIELDS = "id name description datasetId ruleType config threshold severity enabled version latestStatus"

CREATE_RULE = f"""
mutation Create($input: CreateQualityRuleInput!) {{
  createQualityRule(input: $input) {{
    {ERROR_FIELDS} {VALIDATION}
    ... on QualityRuleSuccess {{ ruleId version rule {{ {RULE_FIELDS} }} }}
  }}
}}"""

UPDATE_RULE = f"""
mutation Update($id: ID!, $input: UpdateQualityRuleInput!) {{
  updateQualityRule(id: $id, input: $input) {{
    {ERROR_FIELDS} {VALIDATION} {NOT_FOUND}
    ... on QualityRuleSuccess {{ rule {{ {RULE_FIELDS} }} }}
  }}
}}"""

DATASET_RULES = f"""
query Rules($id: ID!) {{
  dataset(id: $id) {{ qualityScore qualityRules {{ {RULE_FIELDS} }} latestQualityResults {{ id status }} }}
}}"""

RULES = f"""
query Rules($filter: QualityRuleFilter) {{
  qualityRules(first: 10, filter: $filter) {{ totalCount nodes {{ {RULE_FIELDS} }} }}
}}"""

RUN_RULE = f"""
mutation Run($id: ID!) {{
  runQualityRule(id: $id) {{ {ERROR_FIELDS} {NOT_FOUND} ... on QualityRunSuccess {{ resultId status }} }}
}}"""


def rule_input(dataset_id: str, **overrides) -> dict:
    body = copy.deepcopy(CREATE_QUALITY_RULE)
    body.update(datasetId=dataset_id, ruleType=body.pop("rule_type").upper(), severity=body["severity"].upper())
    del body["dataset_id"]
    body.update(overrides)
    return body


async def make_dataset(client, name: str = "customer_data") -> str:
    resp = await client.post("/api/v1/datasets", json={**CREATE_DATASET, "name": name})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


async def test_the_reference_rule_through_graphql_matches_rest(client):
    # given
    dataset_id = await make_dataset(client)
    rest = await (await client.post("/api/v1/quality/rules",
                                    json={**CREATE_QUALITY_RULE, "dataset_id": dataset_id})).json()
    # when
    body = await gql(client, CREATE_RULE, {"input": rule_input(dataset_id)})
    # then
    created = body["data"]["createQualityRule"]
    assert created["__typename"] == "QualityRuleSuccess", body
    rule = created["rule"]
    assert rule["id"].startswith("qr_") and created["ruleId"] == rule["id"]
    assert rule["ruleType"] == "REGEX_MATCH" and rule["severity"] == "WARNING"
    for rest_key, gql_key in (("name", "name"), ("description", "description"), ("dataset_id", "datasetId"),
                              ("config", "config"), ("enabled", "enabled"), ("version", "version")):
        assert rest[rest_key] == rule[gql_key], rest_key
    assert rule["threshold"] == 0.95
    fetched = await (await client.get(f"/api/v1/quality/rules/{rule['id']}")).json()
    assert fetched["config"] == CREATE_QUALITY_RULE["config"]


async def test_invalid_config_is_a_validation_error_member(client):
    # given
    dataset_id = await make_dataset(client)
    # when
    body = await gql(client, CREATE_RULE, {"input": rule_input(dataset_id, config={"column": "ghost",
                                                                                    "pattern": "^a$"})})
    # then
    error = body["data"]["createQualityRule"]
    assert error["__typename"] == "ValidationError"
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == "config.column"


async def test_update_and_missing_rule(client):
    # given
    dataset_id = await make_dataset(client)
    rule_id = (await gql(client, CREATE_RULE, {"input": rule_input(dataset_id)}))["data"]["createQualityRule"]["ruleId"]
    # when
    updated = await gql(client, UPDATE_RULE, {"id": rule_id, "input": {"severity": "ERROR", "enabled": False}})
    missing = await gql(client, UPDATE_RULE, {"id": "qr_nothing", "input": {"name": "x"}})
    # then
    rule = updated["data"]["updateQualityRule"]["rule"]
    assert rule["severity"] == "ERROR" and rule["enabled"] is False and rule["version"] == 2
    assert missing["data"]["updateQualityRule"]["__typename"] == "NotFoundError"


async def test_dataset_lists_its_rules_and_filters_work(client):
    # given
    dataset_id, other = await make_dataset(client), await make_dataset(client, "orders")
    await gql(client, CREATE_RULE, {"input": rule_input(dataset_id)})
    await gql(client, CREATE_RULE, {"input": rule_input(other, ruleType="ROW_COUNT", config={"min": 1},
                                                        severity="INFO")})
    # when
    body = await gql(client, DATASET_RULES, {"id": dataset_id})
    by_type = await gql(client, RULES, {"filter": {"ruleType": "ROW_COUNT"}})
    # then
    dataset = body["data"]["dataset"]
    assert [rule["name"] for rule in dataset["qualityRules"]] == ["email_format_check"]
    assert dataset["latestQualityResults"] == [] and dataset["qualityScore"] is None
    assert by_type["data"]["qualityRules"]["totalCount"] == 1
    assert by_type["data"]["qualityRules"]["nodes"][0]["datasetId"] == other


async def test_reader_of_datasets_only_cannot_see_or_create_rules(client, reader):
    # given
    dataset_id = await make_dataset(client)
    # when
    listed = await gql(reader, RULES)
    created = await gql(reader, CREATE_RULE, {"input": rule_input(dataset_id)})
    # then
    assert listed["data"] is None or listed["data"].get("qualityRules") is None
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert created["errors"][0]["extensions"]["code"] == "FORBIDDEN"


SUBSCRIBE = """
subscription Results($ruleId: ID!) {
  qualityResults(ruleId: $ruleId) { id ruleId status rowsChecked rowsFailed nulls passRatio threshold sample error }
}"""


async def receive(ws, kind: str) -> dict:
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 30)
        if message["type"] != "ka":
            assert message["type"] == kind, message
            return message


async def test_a_subscriber_gets_each_result_of_the_rule_as_it_lands(client, tmp_path):
    # given a rule on a real file, and a subscriber to its results
    (tmp_path / "c.csv").write_text("id,email\n1,a@example.com\n2,nope\n3,\n")
    made = await client.post("/api/v1/datasets", json={"name": "c", "source": {"type": "file",
                                                                               "path": str(tmp_path / "c.csv")}})
    dataset_id = (await made.json())["id"]
    created = await gql(client, CREATE_RULE, {"input": rule_input(dataset_id)})
    rule_id = created["data"]["createQualityRule"]["ruleId"]
    bus = client.app[EVENT_BUS]
    async with client.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": client.headers["Authorization"]}})
        await receive(ws, "connection_ack")
        await ws.send_json({"id": "1", "type": "subscribe",
                            "payload": {"query": SUBSCRIBE, "variables": {"ruleId": rule_id}}})
        # The stream is live only: start the run once the server listens on the rule's topic.
        for _ in range(3_000):
            if rule_topic(rule_id) in bus._subscribers:
                break
            await asyncio.sleep(0.01)
        # when
        run = await gql(client, RUN_RULE, {"id": rule_id})
        landed = (await receive(ws, "next"))["payload"]["data"]["qualityResults"]
    # then
    started = run["data"]["runQualityRule"]
    assert started["__typename"] == "QualityRunSuccess" and started["status"] == "RUNNING"
    assert landed["id"] == started["resultId"] and landed["ruleId"] == rule_id
    assert landed["status"] == "FAILED"
    assert (landed["rowsChecked"], landed["rowsFailed"], landed["nulls"], landed["passRatio"]) == (3, 1, 1, 0.5)
    assert landed["sample"] == [{"id": 2, "email": "nope"}]
    score = await gql(client, DATASET_RULES, {"id": dataset_id})
    assert score["data"]["dataset"]["qualityScore"] == 0.0
    assert [r["id"] for r in score["data"]["dataset"]["latestQualityResults"]] == [landed["id"]]


async def test_running_a_missing_rule_is_not_found(client):
    # when
    body = await gql(client, RUN_RULE, {"id": "qr_missing"})
    # then
    assert body["data"]["runQualityRule"]["__typename"] == "NotFoundError"
