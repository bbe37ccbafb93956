"""Every validation refusal names its field; valid pipelines pass and report their datasets."""

from __future__ import annotations

from typing import Any

import pytest

from server.engine.dataplane import (
    DataPlaneConfigError,
    referenced_dataset_ids,
    validate_source,
    validate_step,
    validate_steps,
)

SOURCE = {"id": "input", "type": "data_source", "config": {"dataset_id": "ds_1"}}
SINK = {"id": "output", "type": "data_sink", "config": {"destination": "warehouse.cleaned"}}


def pipeline(cleaner_config: dict[str, Any]) -> list[dict[str, Any]]:
    return [SOURCE, {"id": "clean", "type": "data_cleaner", "config": cleaner_config}, SINK]


def refusal(steps: list[dict[str, Any]]) -> DataPlaneConfigError:
    with pytest.raises(DataPlaneConfigError) as info:
        validate_steps(steps, None)
    return info.value


def test_the_reference_pipeline_is_valid_and_names_its_dataset():
    # given the example pipeline of the reference
    steps = pipeline({"remove_duplicates": True, "handle_nulls": "drop"})
    # when / then
    validate_steps(steps, None)
    assert referenced_dataset_ids(
        [*steps, {"id": "o2", "type": "data_sink", "config": {"dataset_id": "ds_2"}}]
    ) == ["ds_1", "ds_2"]


def test_every_cleaner_option_together_is_valid():
    # given a cleaner that uses every option in its richest form
    config = {
        "remove_duplicates": ["email"],
        "trim": ["name"],
        "rename": {"name": "full_name"},
        "handle_nulls": {"strategy": "fill", "values": {"age": 0}},
        "cast": {"age": "bigint", "price": {"type": "decimal", "precision": 10, "scale": 2}},
        "filter": "age >= 18 AND name <> 'x'",
    }
    # when / then
    validate_steps(pipeline(config), None)


@pytest.mark.parametrize(
    ("config", "field", "reason"),
    [
        ({"dedupe": True}, "steps[1].config.dedupe", "Unknown key"),
        ({"remove_duplicates": "yes"}, "steps[1].config.remove_duplicates", None),
        ({"remove_duplicates": []}, "steps[1].config.remove_duplicates", None),
        ({"handle_nulls": "zero"}, "steps[1].config.handle_nulls", None),
        ({"handle_nulls": {"strategy": "guess"}}, "steps[1].config.handle_nulls.strategy", None),
        (
            {"handle_nulls": {"strategy": "drop", "values": {}}},
            "steps[1].config.handle_nulls.values",
            "Unknown key",
        ),
        ({"handle_nulls": {"strategy": "fill"}}, "steps[1].config.handle_nulls.values", None),
        (
            {"handle_nulls": {"strategy": "fill", "values": {"a": [1]}}},
            "steps[1].config.handle_nulls.values.a",
            None,
        ),
        ({"trim": 1}, "steps[1].config.trim", None),
        ({"rename": {"a": "x", "b": "x"}}, "steps[1].config.rename", None),
        ({"rename": ["a"]}, "steps[1].config.rename", None),
        ({"cast": "integer"}, "steps[1].config.cast", None),
        ({"cast": {"age": "int"}}, "steps[1].config.cast.age", "Unknown type"),
        ({"cast": {"p": {"type": "decimal", "precision": 5, "scale": 9}}}, "steps[1].config.cast.p", None),
        ({"filter": "age >"}, "steps[1].config.filter", "Invalid filter expression"),
        ({"filter": "age > 1; DROP TABLE t"}, "steps[1].config.filter", "Invalid filter expression"),
        ({"filter": "age > 1 -- comment"}, "steps[1].config.filter", "Invalid filter expression"),
        ({"filter": "id IN (SELECT id FROM other)"}, "steps[1].config.filter", "Invalid filter expression"),
        ({"filter": 3}, "steps[1].config.filter", None),
    ],
)
def test_cleaner_refusals_name_the_field(config, field, reason):
    # given a pipeline whose cleaner has one bad option
    # when
    error = refusal(pipeline(config))
    # then
    assert error.field == field
    if reason:
        assert error.reason == reason


def test_a_filter_with_a_semicolon_inside_a_string_literal_is_accepted():
    # given a literal that merely contains SQL punctuation
    validate_steps(pipeline({"filter": "name = 'a;b -- c'"}), None)


@pytest.mark.parametrize(
    ("step", "field", "reason"),
    [
        ({"id": "s", "type": "data_magic"}, "step.type", "Unknown step type"),
        ({"id": "s", "type": "quality_check"}, "step.config", None),
        ({"id": "", "type": "data_source"}, "step.id", None),
        (
            {"id": "s", "type": "data_source", "config": {"dataset_id": "d"}, "retries": 3},
            "step.retries",
            "Unknown key",
        ),
        ({"id": "s", "type": "data_source", "config": []}, "step.config", None),
        ({"id": "s", "type": "data_source", "config": {}}, "step.config.dataset_id", None),
        (
            {"id": "s", "type": "data_source", "config": {"dataset_id": "d", "columns": "a"}},
            "step.config.columns",
            None,
        ),
        (
            {"id": "s", "type": "data_source", "config": {"dataset_id": "d", "filter": "a >"}},
            "step.config.filter",
            "Invalid filter expression",
        ),
        ({"id": "s", "type": "data_sink", "config": {}}, "step.config", None),
        (
            {"id": "s", "type": "data_sink", "config": {"path": "/a.csv", "dataset_id": "d"}},
            "step.config",
            None,
        ),
        (
            {"id": "s", "type": "data_sink", "config": {"destination": "warehouse"}},
            "step.config.destination",
            None,
        ),
        (
            {"id": "s", "type": "data_sink", "config": {"destination": "w.bad-name"}},
            "step.config.destination",
            "Invalid table name",
        ),
        (
            {"id": "s", "type": "data_sink", "config": {"destination": "w.t", "mode": "merge"}},
            "step.config.mode",
            None,
        ),
        (
            {"id": "s", "type": "data_sink", "config": {"path": "out.parquet"}},
            "step.config.path",
            "File path must be absolute",
        ),
        (
            {"id": "s", "type": "data_sink", "config": {"path": "/out/x.txt"}},
            "step.config.format",
            "Cannot infer format",
        ),
        (
            {"id": "s", "type": "data_sink", "config": {"destination": "w.t", "format": "csv"}},
            "step.config.format",
            None,
        ),
        ({"id": "s", "type": "data_cleaner", "depends_on": ["a", "b"]}, "step.depends_on", None),
        ({"id": "s", "type": "data_cleaner", "depends_on": "a"}, "step.depends_on", None),
    ],
)
def test_step_refusals_name_the_field(step, field, reason):
    # given one bad step
    # when
    with pytest.raises(DataPlaneConfigError) as info:
        validate_step(step)
    # then
    assert info.value.field == field
    if reason:
        assert info.value.reason == reason


@pytest.mark.parametrize(
    ("steps", "field", "reason"),
    [
        ([], "steps", None),
        ([SOURCE, dict(SOURCE)], "steps[1].id", "Duplicate step id"),
        ([SOURCE, {**SINK, "depends_on": ["nowhere"]}], "steps[1].depends_on", "Unknown step id"),
        ([{"id": "c", "type": "data_cleaner"}, SINK], "steps[0].depends_on", "Step has no input"),
        (
            [
                SOURCE,
                {"id": "a", "type": "data_cleaner", "depends_on": ["b"]},
                {"id": "b", "type": "data_cleaner", "depends_on": ["a"]},
            ],
            "steps[1].depends_on",
            "Dependency cycle",
        ),
        (
            [SOURCE, {"id": "a", "type": "data_cleaner", "depends_on": ["a"]}],
            "steps[1].depends_on",
            "Dependency cycle",
        ),
        ([SOURCE, "oops"], "steps[1]", None),
    ],
)
def test_pipeline_refusals_name_the_field(steps, field, reason):
    # when
    error = refusal(steps)
    # then
    assert error.field == field
    if reason:
        assert error.reason == reason


@pytest.mark.parametrize(
    ("source", "field", "reason"),
    [
        ({"type": "ftp"}, "source.type", "Unknown source type"),
        (
            {"type": "database", "connection": "mysql://u:p@h/db", "table": "t"},
            "source.connection",
            "Invalid connection string format",
        ),
        (
            {"type": "database", "connection": "postgresql://u:p@/db", "table": "t"},
            "source.connection",
            "Invalid connection string format",
        ),
        (
            {"type": "database", "connection": "postgresql://u:p@h:99999/db", "table": "t"},
            "source.connection",
            "Invalid connection string format",
        ),
        (
            {"type": "database", "connection": "postgresql://u:p@h:5432/", "table": "t"},
            "source.connection",
            "Invalid connection string format",
        ),
        (
            {"type": "database", "connection": "sqlite://rel.db", "table": "t"},
            "source.connection",
            "Invalid connection string format",
        ),
        (
            {"type": "database", "connection": "not a url", "table": "t"},
            "source.connection",
            "Invalid connection string format",
        ),
        ({"type": "database", "table": "t"}, "source.connection", None),
        ({"type": "database", "connection": "postgresql://h/db"}, "source.table", "Missing table name"),
        (
            {"type": "database", "connection": "postgresql://h/db", "table": "t; drop"},
            "source.table",
            "Invalid table name",
        ),
        (
            {"type": "database", "connection": "sqlite:///x.db", "table": "s.t"},
            "source.table",
            "Invalid table name",
        ),
        (
            {"type": "database", "connection": "postgresql://h/db", "table": "t", "pool": 3},
            "source.pool",
            "Unknown key",
        ),
        ({"type": "file"}, "source.path", "Missing file path"),
        ({"type": "file", "path": "data/x.csv"}, "source.path", "File path must be absolute"),
        ({"type": "file", "path": "/d/x.xlsx"}, "source.format", "Cannot infer format"),
        ({"type": "file", "path": "/d/x", "format": "xml"}, "source.format", "Unknown format"),
        ({"type": "file", "path": "/d/x.parquet", "options": {"delimiter": ";"}}, "source.options", None),
        (
            {"type": "file", "path": "/d/x.csv", "options": {"quote": "'"}},
            "source.options.quote",
            "Unknown key",
        ),
        (
            {"type": "file", "path": "/d/x.csv", "options": {"delimiter": ";;"}},
            "source.options.delimiter",
            None,
        ),
        (
            {"type": "file", "path": "/d/x.csv", "options": {"has_header": "yes"}},
            "source.options.has_header",
            None,
        ),
    ],
)
def test_source_refusals_name_the_field(source, field, reason):
    # when
    with pytest.raises(DataPlaneConfigError) as info:
        validate_source(source, None)
    # then
    assert info.value.field == field
    if reason:
        assert info.value.reason == reason
    assert "p@" not in str(info.value)  # A refused URL's password is never echoed.


@pytest.mark.parametrize(
    "source",
    [
        {"type": "database", "connection": "postgresql://user:pass@host:5432/db", "table": "customers"},
        {"type": "database", "connection": "postgres://host/db?sslmode=require", "table": "sales.orders"},
        {"type": "database", "connection": "sqlite:////var/lib/docc/x.db", "table": "t"},
        {"type": "file", "path": "/data/customers.csv", "options": {"delimiter": ";", "has_header": False}},
        {"type": "file", "path": "/data/events.ndjson"},
        {"type": "file", "path": "/data/blob", "format": "parquet"},
    ],
)
def test_valid_sources_pass(source):
    validate_source(source, None)


def test_a_step_id_longer_than_a_job_step_can_hold_is_refused_at_save():
    # given a step id one past what a job's step row holds (a longer one used to save, then fail every run)
    long_id = {**SOURCE, "id": "s" * 201}
    # when
    error = refusal([long_id])
    # then
    assert (error.field, error.reason) == ("steps[0].id", "At most 200 characters")
    validate_steps([{**SOURCE, "id": "s" * 200}], None)
