"""Expressions are bounded before any parser sees them: at save on both surfaces, and again at run time."""

from __future__ import annotations

import pathlib

import polars as pl
import pytest

from server.engine.dataplane.cleaner import build_cleaner
from server.engine.dataplane.errors import DataPlaneConfigError, StepFailed
from server.engine.dataplane.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_OPERATORS,
    MAX_TOKENS,
    check_expression,
    measure,
)
from server.engine.dataplane.sources import open_source
from tests.engine.helpers import TEST_POLICY
from tests.rest.test_pipelines import make_dataset

# The attack of the issue: about 7,000 OR terms (77 KB) crashed the process inside Polars' parser.
HUGE_OR = " OR ".join(f"age = {i}" for i in range(7_000))
CREATE_PIPELINE = """mutation ($input: CreatePipelineInput!) {
  createPipeline(input: $input) { __typename ... on ValidationError { code field reason } } }"""


def _pipeline(dataset_id: str, filter_: str, name: str = "filtered") -> dict:
    return {"name": name, "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id}},
        {"id": "clean", "type": "data_cleaner", "config": {"filter": filter_}},
        {"id": "output", "type": "data_sink", "config": {"destination": "warehouse.out"}}]}


async def test_a_7000_term_filter_is_refused_on_rest_and_the_server_keeps_answering(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    # when
    resp = await client.post("/api/v1/pipelines", json=_pipeline(dataset_id, HUGE_OR))
    # then
    body = await resp.json()
    assert resp.status == 400
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"]["field"] == "steps[1].config.filter"
    assert "limit 'length'" in body["error"]["details"]["reason"]
    # and the server is alive and still saves a sane pipeline
    assert (await client.get("/healthz")).status == 200
    ok = await client.post("/api/v1/pipelines", json=_pipeline(dataset_id, "age > 1 OR age < 0"))
    assert ok.status == 201


async def test_a_7000_term_filter_is_refused_by_create_pipeline(client, tmp_path):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    # when
    resp = await client.post("/graphql", json={"query": CREATE_PIPELINE,
                                                "variables": {"input": _pipeline(dataset_id, HUGE_OR)}})
    # then
    result = (await resp.json())["data"]["createPipeline"]
    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_ERROR"
    assert result["field"] == "steps[1].config.filter"
    assert "limit 'length'" in result["reason"]
    assert (await client.get("/api/v1/pipelines")).status == 200
    assert (await (await client.get("/api/v1/pipelines")).json())["meta"]["total"] == 0


@pytest.mark.parametrize(("expression", "limit"), [
    # Short enough, but too many tokens: one IN list of 700 numbers (1 operator, depth 1).
    ("age IN (" + ",".join("1" for _ in range(700)) + ")", "tokens"),
    # Few tokens each, but 2 operators a term: 130 terms make 260 operators.
    (" OR ".join("age=1" for _ in range(130)), "operators"),
    ("(" * 40 + "age = 1" + ")" * 40, "depth"),
    ("age > " + "1" * (MAX_LENGTH + 1), "length"),
])
async def test_each_limit_is_named_at_save(client, tmp_path, expression, limit):
    # given
    dataset_id = await make_dataset(client, tmp_path)
    source_filter = {"name": "src", "steps": [
        {"id": "input", "type": "data_source", "config": {"dataset_id": dataset_id, "filter": expression}},
        {"id": "output", "type": "data_sink", "config": {"destination": "warehouse.out"}}]}
    # when
    resp = await client.post("/api/v1/pipelines", json=source_filter)
    # then
    details = (await resp.json())["error"]["details"]
    assert resp.status == 400
    assert details["field"] == "steps[0].config.filter"
    assert f"limit '{limit}'" in details["reason"]
    assert (await (await client.get("/api/v1/pipelines")).json())["meta"]["total"] == 0


def test_expressions_at_the_limits_are_accepted_and_still_parse():
    # given expressions exactly at each bound
    at_operators = " OR ".join("a=1" for _ in range(MAX_OPERATORS // 2)) + " OR b"
    at_depth = "(" * MAX_DEPTH + "a = 1" + ")" * MAX_DEPTH
    # then they pass the bounds and Polars parses them
    for text in (at_operators, at_depth):
        check_expression(text, "filter")
        pl.sql_expr(text)
    assert measure(at_operators).operators == MAX_OPERATORS
    assert measure(at_depth).depth == MAX_DEPTH


def test_the_scan_counts_what_the_parser_would_recurse_on():
    size = measure("name = 'a OR b (' AND \"weird (col\" IN (1, 2) OR NOT x >= -3")
    # the string literal and the quoted name are one token each: their brackets and words do not count
    assert size.depth == 1
    assert size.operators == 7  # = AND IN OR NOT >= -
    assert size.tokens == 17
    assert measure("a" * 10).tokens == 1 and MAX_TOKENS > 1


def test_run_time_refuses_a_stored_oversized_filter_before_polars(tmp_path):
    # given a filter that bypassed the save-time check (stored before the limits existed)
    frame = pl.LazyFrame({"age": [1, 2]})
    # when a job builds the cleaner, or opens a source with the filter pushed down
    with pytest.raises(StepFailed) as cleaner:
        build_cleaner(frame, {"filter": HUGE_OR}, "clean", None)
    path = tmp_path / "in.csv"
    frame.collect().write_csv(path)
    with pytest.raises(DataPlaneConfigError) as source:
        open_source(TEST_POLICY, {"type": "file", "path": str(path), "format": "csv"}, None, where=HUGE_OR)
    # then both name the limit, and nothing was parsed
    assert "limit 'length'" in cleaner.value.message
    assert "limit 'length'" in source.value.reason


def test_only_the_bounded_function_calls_the_polars_parser():
    root = pathlib.Path(__file__).resolve().parents[2]
    callers = [path.relative_to(root).as_posix() for folder in ("server", "resolvers", "schema")
               for path in (root / folder).rglob("*.py") if "sql_expr(" in path.read_text()]
    assert callers == ["server/engine/dataplane/expressions.py"]
