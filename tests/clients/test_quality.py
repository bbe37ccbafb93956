"""Quality rules, their results and dataset profiles through the SDK against a real server, sync and async."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import docc
import pytest

from tests.clients.helpers import assert_fully_known, dataset_spec, unique

# GOOD_CSV has four rows, one of them without an age: not_null(age) fails, not_null(id) passes.
WAIT = 30


@pytest.fixture
def client(server):
    with docc.Client(server.url, server.key) as client:
        yield client


@pytest.fixture
def dataset(client, server):
    return client.datasets.create(dataset_spec(server.files))


def not_null(dataset_id: str, column: str, **extra):
    return {"name": unique(f"not_null_{column}"), "dataset_id": dataset_id, "rule_type": "not_null",
            "config": {"column": column}, **extra}


def test_a_rule_round_trips_through_create_get_list_update_enable_disable_and_delete(client, dataset):
    # when
    created = client.quality.rules.create(not_null(dataset.id, "id", severity="warning"))
    fetched = client.quality.rules.get(created.id)
    listed = list(client.quality.rules.list(dataset_id=dataset.id, rule_type="not_null", severity="warning"))
    updated = client.quality.rules.update(created.id, severity="error", description="ids are required")
    disabled = client.quality.rules.disable(created.id)
    listed_enabled = list(client.quality.rules.list(dataset_id=dataset.id, enabled=True))
    enabled = client.quality.rules.enable(created.id)
    client.quality.rules.delete(created.id)
    # then
    assert isinstance(created, docc.models.QualityRule) and created.id.startswith("qr_")
    assert created.version == 1 and created.latest_status is None and created.schedule is None
    assert fetched.config == {"column": "id"} and fetched.severity == "warning"
    assert [rule.id for rule in listed] == [created.id]
    assert updated.version == 2 and updated.severity == "error" and updated.description == "ids are required"
    assert disabled.enabled is False and listed_enabled == [] and enabled.enabled is True
    for model in (created, fetched, *listed, updated, disabled, enabled):
        assert_fully_known(model)
    with pytest.raises(docc.NotFound):
        client.quality.rules.get(created.id)


def test_a_schedule_is_set_and_removed_by_update(client, dataset):
    # given
    rule = client.quality.rules.create(not_null(dataset.id, "id", schedule={"cron": "0 2 * * *",
                                                                             "timezone": "Europe/Paris"}))
    # when
    removed = client.quality.rules.update(rule.id, schedule=None)
    # then
    assert rule.schedule.cron == "0 2 * * *" and rule.schedule.timezone == "Europe/Paris"
    assert len(rule.schedule.next_runs) > 0 and removed.schedule is None


def test_a_run_with_wait_answers_the_finished_result_and_it_is_listed(client, dataset):
    # given
    good = client.quality.rules.create(not_null(dataset.id, "id"))
    bad = client.quality.rules.create(not_null(dataset.id, "age"))
    # when
    passed = client.quality.rules.run(good.id, wait=WAIT)
    failed = client.quality.rules.run(bad.id, wait=WAIT)
    history = list(client.quality.rules.results(bad.id))
    only_passed = list(client.quality.rules.results(bad.id, status="passed"))
    # then
    assert isinstance(passed, docc.models.QualityResult)
    assert passed.status == "passed" and passed.passed and passed.rows_checked == 4 and passed.pass_ratio == 1
    assert failed.status == "failed" and failed.rows_failed == 1 and failed.rule_version == 1
    assert [result.id for result in history] == [failed.id] and only_passed == []
    assert client.quality.results.get(failed.id).status == "failed"
    assert client.quality.rules.get(bad.id).latest_status == "failed"
    assert [r.id for r in client.quality.rules.list(dataset_id=dataset.id, latest_status="failed")] == [bad.id]
    for model in (passed, failed, *history):
        assert_fully_known(model)


def test_results_are_filtered_by_start_time(client, dataset):
    # given
    rule = client.quality.rules.create(not_null(dataset.id, "id"))
    result = client.quality.rules.run(rule.id, wait=WAIT)
    later = result.started_at + timedelta(hours=1)
    # when
    since_later = list(client.quality.rules.results(rule.id, since=later))
    until_later = list(client.quality.rules.results(rule.id, until=later))
    # then
    assert since_later == [] and [r.id for r in until_later] == [result.id]


def test_a_run_without_wait_answers_at_once_and_a_finished_run_cannot_be_cancelled(client, dataset):
    # given
    rule = client.quality.rules.create(not_null(dataset.id, "id"))
    # when
    started = client.quality.rules.run(rule.id)
    finished = client.quality.rules.run(rule.id, wait=WAIT)
    # then
    assert started.status in docc.models.quality.RESULT_STATUSES and started.rule_id == rule.id
    with pytest.raises(docc.Conflict):
        client.quality.results.cancel(finished.id)


def test_refusals_raise_their_error_classes(client, dataset):
    # when
    with pytest.raises(docc.ValidationError) as invalid:
        client.quality.rules.create(not_null(dataset.id, "no_such_column"))
    with pytest.raises(docc.NotFound):
        client.quality.rules.run("qr_missing", wait=1)
    with pytest.raises(docc.ValidationError) as bad_filter:
        list(client.quality.rules.list(latest_status="running"))
    # then
    assert invalid.value.field == "config.column" and invalid.value.request_id.startswith("req_")
    assert bad_filter.value.field == "status"


def test_a_key_that_may_write_but_not_read_rules_gets_acknowledgements(client, dataset, server):
    # given
    key = client.keys.create(name=unique("writer"), scopes=["write:quality", "read:datasets"])
    with docc.Client(server.url, key.key) as writer:
        # when
        made = writer.quality.rules.create(not_null(dataset.id, "id"))
        ran = writer.quality.rules.run(made.id, wait=WAIT)
    # then
    assert isinstance(made, docc.models.QualityRuleAck) and made.version == 1
    assert isinstance(ran, docc.models.QualityResultAck) and ran.id.startswith("qres_")
    assert client.quality.rules.get(made.id).name.startswith("not_null_id")


def test_a_profile_is_made_and_read_back(client, server):
    # given
    dataset = client.datasets.create(dataset_spec(server.files))
    with pytest.raises(docc.NotFound):
        client.datasets.get_profile(dataset.id)
    # when
    profile = client.datasets.profile(dataset.id, wait=WAIT)
    latest = client.datasets.get_profile(dataset.id)
    # then
    assert profile.status == "succeeded" and profile.row_count == 4 and latest.id == profile.id
    age = next(column for column in profile.columns if column.name == "age")
    assert age.null_count == 1 and age.min == 30 and age.max == 41
    assert client.datasets.get(dataset.id).last_profiled is not None
    for model in (profile, latest):
        assert_fully_known(model)
    # and the run is read by its own id; a finished one cannot be cancelled
    assert client.quality.profiles.get(profile.id) == profile
    with pytest.raises(docc.Conflict):
        client.quality.profiles.cancel(profile.id)
    with pytest.raises(docc.NotFound):
        client.quality.profiles.get("dp_" + "0" * 20)


async def test_the_async_client_runs_rules_lists_results_and_profiles(server):
    async with docc.AsyncClient(server.url, server.key) as client:
        # given
        dataset = await client.datasets.create(dataset_spec(server.files))
        rule = await client.quality.rules.create(not_null(dataset.id, "age"))
        # when
        result = await client.quality.rules.run(rule.id, wait=WAIT)
        listed = [r.id async for r in client.quality.rules.list(dataset_id=dataset.id)]
        history = [r.id async for r in client.quality.rules.results(rule.id)]
        profile = await client.datasets.profile(dataset.id, wait=WAIT)
        disabled = await client.quality.rules.disable(rule.id)
        await client.quality.rules.delete(rule.id)
    # then
    assert result.status == "failed" and listed == [rule.id] and history == [result.id]
    assert profile.status == "succeeded" and disabled.enabled is False
    assert result.started_at <= datetime.now(UTC)
