"""Workspaces, API keys and OAuth clients through the SDK, and the errors each refusal raises."""

from __future__ import annotations

import docc
import httpx
import pytest

from tests.clients.helpers import assert_fully_known, dataset_spec, unique


@pytest.fixture
def client(server):
    with docc.Client(server.url, server.key) as client:
        yield client


def test_workspaces_keys_and_their_rotation(client):
    # given
    workspace = client.workspaces.create(unique("team"))
    # when
    key = client.keys.create(workspace.id, name="etl", scopes=["read:datasets"], expires_in="30d")
    listed = list(client.keys.list(workspace.id))
    rotated = client.keys.rotate(key.id, workspace.id, grace_seconds=0)
    revoked = client.keys.revoke(rotated.id, workspace.id)
    # then
    assert client.workspaces.get(workspace.id).name == workspace.name
    assert workspace.id in {w.id for w in client.workspaces.list()}
    assert key.key.startswith("docc_") and [k.id for k in listed] == [key.id] and listed[0].prefix in key.key
    assert rotated.rotated_from == key.id and rotated.key != key.key and revoked.revoked_at is not None
    for model in (workspace, key, *listed, rotated, revoked):
        assert_fully_known(model)
    with docc.Client(client.settings.url, rotated.key) as narrow, pytest.raises(docc.Unauthorized) as refused:
        list(narrow.datasets.list())
    assert refused.value.reason == "revoked"


def test_oauth_clients_and_their_secrets(client):
    # when
    made = client.oauth_clients.create(name=unique("app"), scopes=["read:datasets"])
    extra = client.oauth_clients.add_secret(made.client_id, description="second")
    listed = list(client.oauth_clients.list())
    dropped = client.oauth_clients.revoke_secret(made.client_id, extra.id)
    gone = client.oauth_clients.revoke(made.client_id)
    # then
    assert made.secret.startswith("doccs_") and extra.secret != made.secret
    assert made.client_id in {c.client_id for c in listed}
    assert dropped.revoked_at is not None and gone.revoked_at is not None
    for model in (made, extra, dropped, gone):
        assert_fully_known(model)


def test_client_credentials_fetch_a_token(client, server):
    # given
    app = client.oauth_clients.create(name=unique("m2m"), scopes=["read:datasets"])
    # when
    with docc.Client(server.url, client_id=app.client_id, client_secret=app.secret, scope="read:datasets") as m2m:
        found = list(m2m.datasets.list(name="nothing-has-this-name"))
        # then
        assert found == [] and m2m.auth.fetched == 1
        with pytest.raises(docc.Forbidden) as refused:
            m2m.pipelines.get("pl_x")
        assert refused.value.required_scope == "read:pipelines"
    with docc.Client(server.url, client_id=app.client_id, client_secret="doccs_wrong") as wrong, \
            pytest.raises(docc.OAuthError) as bad:
        wrong.datasets.get("ds_x")
    assert bad.value.details["error"] == "invalid_client"


async def test_the_async_client_fetches_its_token_the_same_way(client, server):
    # given
    app = client.oauth_clients.create(name=unique("m2m"), scopes=["read:datasets"])
    # when
    async with docc.AsyncClient(server.url, client_id=app.client_id, client_secret=app.secret) as m2m:
        found = [d async for d in m2m.datasets.list(name="nothing-has-this-name")]
        again = [d async for d in m2m.datasets.list(name="nothing-has-this-name")]
        # then: one token served both calls
        assert found == again == [] and m2m.auth.fetched == 1


def test_each_error_code_raises_its_class_with_the_request_id(client, server):
    # given
    taken = client.datasets.create(dataset_spec(server.files))
    reader_key = client.keys.create(name="reader", scopes=["read:datasets"]).key
    other = client.workspaces.create(unique("other"))
    other_key = client.keys.create(other.id, name="admin", scopes=["admin"]).key
    # when / then
    with pytest.raises(docc.ValidationError) as invalid:
        client.datasets.create({"name": unique("x"), "source": {"type": "ftp"}})
    assert invalid.value.field.startswith("source") and invalid.value.status == 400
    with pytest.raises(docc.Conflict) as conflict:
        client.datasets.create(dataset_spec(server.files, name=taken.name))
    assert conflict.value.status == 409
    with docc.Client(server.url, reader_key) as reader, pytest.raises(docc.Forbidden) as forbidden:
        reader.datasets.delete(taken.id)
    assert forbidden.value.required_scope == "write:datasets"
    with docc.Client(server.url, other_key) as stranger, pytest.raises(docc.NotFound) as hidden:
        stranger.datasets.get(taken.id)
    with docc.Client(server.url, "docc_not_a_real_key") as nobody, pytest.raises(docc.Unauthorized) as unknown:
        nobody.datasets.get(taken.id)
    for error in (invalid, conflict, forbidden, hidden, unknown):
        assert error.value.request_id and error.value.request_id.startswith("req_")
        assert isinstance(error.value, docc.DoccError)
    assert client.datasets.get(taken.id).name == taken.name


def test_a_server_that_cannot_be_reached_raises_connection_failed_after_retries():
    # given: a port nobody listens on
    hits: list[str] = []
    with docc.Client("http://127.0.0.1:9", "docc_x", retry=docc.RetryPolicy(connection_retries=2, backoff=0.01),
                     ) as client:
        client.http.event_hooks["request"].append(lambda request: hits.append(request.method))
        # when
        with pytest.raises(docc.ConnectionFailed) as lost:
            client.datasets.get("ds_x")
    # then: the first try and two retries
    assert hits == ["GET"] * 3 and isinstance(lost.value.__cause__, httpx.ConnectError)
