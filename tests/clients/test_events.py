"""The workspace's job feed through the SDK: stored then live events, filters, and a dropped connection
resumed from the last cursor without a gap or a duplicate."""

from __future__ import annotations

import asyncio

import docc
import pytest

from tests.clients.helpers import assert_fully_known, dataset_spec, pipeline_spec
from tests.clients.proxy import cutting_proxy

EVENT_LINE = b'"type":"event"'


@pytest.fixture
def client(server):
    with docc.Client(server.url, server.key) as client:
        yield client


def new_pipeline(client, server):
    dataset = client.datasets.create(dataset_spec(server.files))
    return client.pipelines.create(pipeline_spec(dataset.id, server.files))


def until_finished(feed, job_id: str) -> list:
    """The feed's events up to the one that says the job finished."""
    seen = []
    for event in feed:
        seen.append(event)
        if event.kind == "finished" and event.job_id == job_id:
            return seen
    raise AssertionError("the feed ended before the job finished")


def test_a_followed_feed_gives_the_stored_events_of_a_pipeline_in_cursor_order(client, server):
    # given
    pipeline = new_pipeline(client, server)
    job = client.pipelines.run(pipeline.id).wait(timeout=60)
    # when
    with client.events.follow(after=0, pipeline_id=pipeline.id) as feed:
        events = until_finished(feed, job.id)
    with client.events.follow(after=0, pipeline_id=pipeline.id, status="succeeded") as feed:
        succeeded = next(iter(feed))
    # then
    assert events[0].kind == "created" and events[0].status == "pending"
    assert events[-1].status == "succeeded" and events[-1].percent_complete == 100
    assert {event.job_id for event in events} == {job.id} and {e.pipeline_id for e in events} == {pipeline.id}
    cursors = [event.cursor for event in events]
    assert cursors == sorted(set(cursors))
    assert succeeded.cursor == events[-1].cursor and succeeded.kind == "finished"
    for event in events:
        assert_fully_known(event)


def test_a_dropped_feed_resumes_from_its_last_cursor_without_gap_or_duplicate(client, server):
    # given
    port = int(server.url.rsplit(":", 1)[1])
    pipeline = new_pipeline(client, server)
    job = client.pipelines.run(pipeline.id).wait(timeout=60)
    with client.events.follow(after=0, pipeline_id=pipeline.id) as feed:
        direct = [event.cursor for event in until_finished(feed, job.id)]
    with cutting_proxy(port, cut_after=2, marker=EVENT_LINE) as proxy, \
            docc.Client(f"http://127.0.0.1:{proxy.port}", server.key,
                        retry=docc.RetryPolicy(backoff=0.01)) as through_proxy:
        # when
        with through_proxy.events.follow(after=0, pipeline_id=pipeline.id) as feed:
            resumed = [event.cursor for event in until_finished(feed, job.id)]
    # then
    assert len(direct) > 2 and proxy.cuts == 1 and proxy.connections >= 2
    assert resumed == direct


async def test_the_async_feed_follows_a_job_run_while_it_is_read_to_its_end(server):
    async with docc.AsyncClient(server.url, server.key) as client:
        # given
        dataset = await client.datasets.create(dataset_spec(server.files))
        pipeline = await client.pipelines.create(pipeline_spec(dataset.id, server.files))
        feed = client.events.follow(after=0, pipeline_id=pipeline.id)
        first = asyncio.ensure_future(anext(feed))
        # when: the feed is being read (stored events, then live ones) while the job runs
        job = await client.pipelines.run(pipeline.id)
        events = [await asyncio.wait_for(first, 60)]
        async with feed:
            while not (events[-1].kind == "finished" and events[-1].job_id == job.id):
                events.append(await asyncio.wait_for(anext(feed), 60))
    # then
    assert events[0].kind == "created" and events[0].job_id == job.id
    assert events[-1].status == "succeeded"


def test_an_unknown_status_filter_is_a_validation_error(client):
    with pytest.raises(docc.ValidationError) as refused, client.events.follow(status="exploded") as feed:
        next(iter(feed))
    assert refused.value.field == "status"
