"""A password inside a dataset connection never leaves the server: responses, errors, logs, websocket frames."""

from __future__ import annotations

import logging

from server.logs import JsonFormatter

CANARY = "Canary-Pw-7f3e9a"
CONNECTION = f"postgresql://etl:{CANARY}@db.internal:5432/warehouse"
SOURCE = {"type": "database", "connection": CONNECTION, "table": "public.orders"}
QUERY = "{ datasets { nodes { id name source { type connection table } } } }"


async def test_canary_password_never_appears(client, anonymous, credentials, caplog):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    async def text(resp) -> str:
        body = await resp.text()
        seen.append(body + str(dict(resp.headers)))
        return body

    # given a dataset whose connection holds the canary
    created = await client.post("/api/v1/datasets", json={"name": "orders", "source": SOURCE})
    dataset_id = (await created.json())["id"]
    await text(created)
    # when it is read back every way, and refused every way
    await text(await client.get(f"/api/v1/datasets/{dataset_id}"))
    await text(await client.get("/api/v1/datasets"))
    await text(await client.post("/api/v1/datasets", json={"name": "orders", "source": SOURCE}))  # conflict
    await text(await client.post("/api/v1/datasets", json={"name": "bad", "source": {
        **SOURCE, "connection": f"postgresql://etl:{CANARY}@/nohost"}}))  # validation error
    await text(await client.put(f"/api/v1/datasets/{dataset_id}", json={"source": {**SOURCE, "table": "1bad"}}))
    await text(await client.post("/graphql", json={"query": QUERY}))
    await text(await client.post("/graphql", json={"query": f'mutation {{ createDataset(input: {{name: "orders", '
                                                            f'source: {{type: DATABASE, connection: "{CONNECTION}", '
                                                            f'table: "t"}}}}) {{ __typename }} }}'}))
    await text(await anonymous.get(f"/api/v1/datasets/{dataset_id}", headers={"private-token": CANARY}))
    ws = await anonymous.ws_connect("/graphql", protocols=["graphql-transport-ws"])
    await ws.send_json({"type": "connection_init", "payload": {"private-token": credentials["admin"]}})
    seen.append(str(await ws.receive_json(timeout=5)))
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": QUERY}})
    frame = await ws.receive_json(timeout=5)
    seen.append(str(frame))
    await ws.close()
    # then the masked form is what everyone sees
    assert frame["payload"]["data"]["datasets"]["nodes"][0]["source"]["connection"] == (
        "postgresql://etl:***@db.internal:5432/warehouse")
    assert len(seen) == 11
    for body in seen:
        assert CANARY not in body
    # and no log line as written (the JSON formatter of every handler; SQL debug lines included)
    formatter = JsonFormatter()
    assert any(record.name == "docc.access" for record in caplog.records)
    for record in caplog.records:
        assert CANARY not in formatter.format(record), record.name
