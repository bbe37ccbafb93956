"""Lost answers: a run is sent again with its Idempotency-Key and starts one job; a create is not resent."""

from __future__ import annotations

import docc
import pytest

from tests.clients.helpers import dataset_spec, pipeline_spec
from tests.clients.proxy import cutting_proxy


def port_of(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_a_run_whose_answer_is_lost_is_sent_again_and_starts_one_job(server):
    with docc.Client(server.url, server.key) as direct:
        dataset = direct.datasets.create(dataset_spec(server.files))
        pipeline = direct.pipelines.create(pipeline_spec(dataset.id, server.files))
        # given: a connection that loses the answer to the run (HTTP 202), after the server queued the job
        with cutting_proxy(port_of(server), swallow=b"HTTP/1.1 202") as proxy, \
                docc.Client(f"http://127.0.0.1:{proxy.port}", server.key,
                            retry=docc.RetryPolicy(backoff=0.01)) as client:
            sent: list[str] = []
            client.http.event_hooks["request"].append(lambda request: sent.append(request.headers["Idempotency-Key"]))
            # when
            job = client.pipelines.run(pipeline.id)
        # then: sent twice with one key, one job
        assert proxy.cuts == 1 and len(sent) == 2 and sent[0] == sent[1]
        assert [j.id for j in direct.jobs.list(pipeline_id=pipeline.id)] == [job.id]
        direct.jobs.wait(job.id, timeout=60)


def test_a_create_whose_answer_is_lost_is_not_sent_again(server):
    spec = dataset_spec(server.files)
    with cutting_proxy(port_of(server), swallow=b"HTTP/1.1 201") as proxy, \
            docc.Client(f"http://127.0.0.1:{proxy.port}", server.key, retry=docc.RetryPolicy(backoff=0.01)) as client:
        sent: list[str] = []
        client.http.event_hooks["request"].append(lambda request: sent.append(request.method))
        # when
        with pytest.raises(docc.ConnectionFailed):
            client.datasets.create(spec)
    # then: one request; the dataset exists once, as the server made it
    assert proxy.cuts == 1 and sent == ["POST"]
    with docc.Client(server.url, server.key) as direct:
        assert [d.name for d in direct.datasets.list(name=spec["name"])] == [spec["name"]]


def test_a_key_that_may_write_but_not_read_gets_acknowledgements(server):
    with docc.Client(server.url, server.key) as admin:
        writer = admin.keys.create(name="writer", scopes=["write:datasets"]).key
    with docc.Client(server.url, writer) as client:
        # when
        made = client.datasets.create(dataset_spec(server.files))
        # then
        assert isinstance(made, docc.models.DatasetAck) and made.id.startswith("ds_") and made.revision == 1
        with pytest.raises(docc.Forbidden):
            client.datasets.get(made.id)
