"""Every credential form of a connection stays masked: responses, errors, job logs, server logs, websocket frames."""

from __future__ import annotations

import logging
from dataclasses import replace

from server.logs import JsonFormatter
from tests.rest.test_pipelines import wait_job

# One canary per form, so a failure names the form that leaked.
CANARIES = {
    "userinfo": ("Cn1-plain-7f3e", "postgresql://etl:Cn1-plain-7f3e@db.internal:5432/w"),
    "at_inside": ("Cn2-at-9a1b", "postgresql://etl:p@Cn2-at-9a1b@db.internal:5432/w"),
    "colon_inside": ("Cn3-colon-4c2d", "postgresql://etl:a:Cn3-colon-4c2d@db.internal/w"),
    "query_password": ("Cn4-query-8e5f", "postgresql://etl@db.internal/w?password=Cn4-query-8e5f"),
    "sslpassword": ("Cn5-ssl-3b7a", "postgresql://etl@db.internal/w?sslmode=require&sslpassword=Cn5-ssl-3b7a"),
}
SINK_CANARY = "Cn6-sink-1d9e"
BEARER_CANARY = "Cn7-bearer-6f0c"
LOGS = "subscription($id: ID!) { jobLogs(jobId: $id) { __typename ... on JobLogLine { message } " \
       "... on JobFinished { job { status error } } } }"
DATASETS = "{ datasets { nodes { id name source { connection } } } }"


async def test_no_credential_form_leaves_the_server(start_app, settings, credentials, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    client = await start_app(replace(settings, connections={
        "warehouse": f"postgresql://etl:{SINK_CANARY}@db.internal/w?sslpassword={SINK_CANARY}"}))

    async def keep(resp) -> dict:
        seen.append(await resp.text())
        return await resp.json()

    # given a dataset per form, read back on both surfaces
    ids = []
    for form, (_canary, connection) in CANARIES.items():
        body = await keep(await client.post("/api/v1/datasets", json={"name": form, "source": {
            "type": "database", "connection": connection, "table": "orders"}}))
        assert "id" in body, (form, body)
        ids.append(body["id"])
        await keep(await client.get(f"/api/v1/datasets/{body['id']}"))
    await keep(await client.get("/api/v1/datasets"))
    await keep(await client.post("/graphql", json={"query": DATASETS}))
    # and refused saves that echo nothing of the input
    await keep(await client.post("/api/v1/datasets", json={"name": "bad", "source": {
        "type": "database", "connection": CANARIES["at_inside"][1] + "&host=x", "table": "t"}}))
    await keep(await client.get("/api/v1/datasets", headers={"Authorization": f"Bearer {BEARER_CANARY}"}))
    # when a job reads one of them and another writes through the named connection
    (tmp_path / "in.csv").write_text("id\n1\n")
    csv = await keep(await client.post("/api/v1/datasets", json={"name": "csv", "source": {
        "type": "file", "path": str(tmp_path / "in.csv")}}))
    jobs = []
    for name, steps in (
        ("read", [{"id": "in", "type": "data_source", "config": {"dataset_id": ids[1]}},
                  {"id": "out", "type": "data_sink", "config": {"path": str(tmp_path / "o.csv")}}]),
        ("write", [{"id": "in", "type": "data_source", "config": {"dataset_id": csv["id"]}},
                   {"id": "out", "type": "data_sink", "config": {"destination": "warehouse.t"}}]),
    ):
        pipeline = await keep(await client.post("/api/v1/pipelines", json={"name": name, "steps": steps}))
        job = await keep(await client.post(f"/api/v1/pipelines/{pipeline['id']}/run"))
        done = await wait_job(client, job["id"])
        seen.append(str(done))
        assert done["status"] == "failed"
        jobs.append(job["id"])
        await keep(await client.get(f"/api/v1/jobs/{job['id']}/logs"))
    # and a websocket follows a job's log to its end
    ws = await client.ws_connect("/graphql", protocols=["graphql-transport-ws"])
    await ws.send_json({"type": "connection_init", "payload": {"private-token": credentials["admin"]}})
    seen.append(str(await ws.receive_json(timeout=5)))
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": LOGS, "variables": {"id": jobs[1]}}})
    frames = []
    while not frames or frames[-1].get("type") != "complete":
        frames.append(await ws.receive_json(timeout=10))
    await ws.close()
    seen += [str(frame) for frame in frames]
    # then the job said where it wrote, masked
    assert any("writing to postgresql://etl:***@db.internal" in frame for frame in seen)
    assert any(frame["type"] == "next" for frame in frames)
    # and no canary appears anywhere: responses, errors, job logs, websocket frames
    canaries = [canary for canary, _ in CANARIES.values()] + [SINK_CANARY, BEARER_CANARY]
    for text in seen:
        for canary in canaries:
            assert canary not in text, (canary, text[:300])
    # nor in any server log line as written
    formatter = JsonFormatter()
    for record in caplog.records:
        line = formatter.format(record)
        for canary in canaries:
            assert canary not in line, (canary, record.name)
