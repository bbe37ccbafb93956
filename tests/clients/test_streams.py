"""Lazy pages over 250 objects, and a followed log that survives a dropped connection with no gap."""

from __future__ import annotations

import docc
import pytest

from tests.clients.helpers import dataset_spec, pipeline_spec, unique
from tests.clients.proxy import cutting_proxy


@pytest.fixture(scope="module")
def many(server):
    """250 datasets sharing a tag."""
    tag = unique("many")
    with docc.Client(server.url, server.key) as client:
        ids = [client.datasets.create(dataset_spec(server.files, tags=[tag])).id for _ in range(250)]
    return tag, ids


def test_a_list_of_250_fetches_pages_as_it_is_consumed(server, many):
    tag, ids = many
    pages: list[str] = []
    with docc.Client(server.url, server.key) as client:
        client.http.event_hooks["request"].append(lambda request: pages.append(str(request.url)))
        # when
        listed = client.datasets.list(tags=[tag])
        first = next(iter(listed))
        fetched_for_first = len(pages)
        rest = list(listed)
    # then: one page for the first item, three in all (100 + 100 + 50), every dataset once
    assert fetched_for_first == 1 and len(pages) == 3
    assert sorted([first.id, *(d.id for d in rest)]) == sorted(ids)


async def test_the_async_list_of_250_reads_every_page(server, many):
    tag, ids = many
    async with docc.AsyncClient(server.url, server.key) as client:
        found = [d.id async for d in client.datasets.list(tags=[tag])]
    assert sorted(found) == sorted(ids)


def finished_job(client, server):
    dataset = client.datasets.create(dataset_spec(server.files))
    pipeline = client.pipelines.create(pipeline_spec(dataset.id, server.files))
    return client.pipelines.run(pipeline.id)


def test_a_followed_log_resumes_after_a_dropped_connection_without_gap_or_duplicate(server):
    port = int(server.url.rsplit(":", 1)[1])
    with docc.Client(server.url, server.key) as direct:
        job = finished_job(direct, server).wait(timeout=60)
        stored = [(line.seq, line.message) for line in direct.jobs.logs(job.id)]
    with cutting_proxy(port, cut_after=2) as proxy, \
            docc.Client(f"http://127.0.0.1:{proxy.port}", server.key,
                        retry=docc.RetryPolicy(backoff=0.01)) as client:
        # when
        stream = client.jobs.logs(job.id, follow=True)
        followed = [(line.seq, line.message) for line in stream]
    # then
    assert proxy.cuts == 1 and proxy.connections >= 2
    assert len(stored) > 2 and followed == stored
    assert stream.result.status == "succeeded"


async def test_an_async_followed_log_resumes_after_a_dropped_connection(server):
    port = int(server.url.rsplit(":", 1)[1])
    with docc.Client(server.url, server.key) as direct:
        job = finished_job(direct, server).wait(timeout=60)
        stored = [line.seq for line in direct.jobs.logs(job.id)]
    with cutting_proxy(port, cut_after=3) as proxy:
        async with docc.AsyncClient(f"http://127.0.0.1:{proxy.port}", server.key,
                                    retry=docc.RetryPolicy(backoff=0.01)) as client:
            # when
            followed = [line.seq async for line in client.jobs.logs(job.id, follow=True)]
    # then
    assert proxy.cuts == 1 and followed == stored


def test_a_followed_log_of_a_running_job_ends_when_the_job_ends(server):
    with docc.Client(server.url, server.key) as client:
        # given
        job = finished_job(client, server)
        # when
        stream = job.logs(follow=True)
        lines = list(stream)
        # then
        assert stream.result.finished and lines[-1].seq == max(x.seq for x in client.jobs.logs(job.id))
