async def test_create_dataset_example(client):
    resp = await client.post("/api/v1/datasets", json={"name": "x", "source": {"type": "file", "path": "/a.csv"}})
    assert resp.status == 201, await resp.text()
