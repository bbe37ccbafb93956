"""Rate limits waited out, and OAuth access tokens refreshed, against servers with tight settings."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docc
import httpx
import pytest

from server.config import AuthSettings
from tests.clients.conftest import start
from tests.clients.helpers import unique


def test_a_429_is_waited_out_for_the_time_the_server_asks(tmp_path):
    # given: 60 requests a minute, so after a burst of 60 the server asks for about a second
    with start(tmp_path, rate_limit_per_minute=60) as (port, key):
        url = f"http://127.0.0.1:{port}"
        refused: list[str] = []
        with docc.Client(url, key) as client:
            client.http.event_hooks["response"].append(
                lambda response: refused.append(response.headers["Retry-After"]) if response.status_code == 429
                else None)
            # when
            answers = [list(client.workspaces.list()) for _ in range(62)]
        # then: every call answered; the client met 429s and waited instead of failing
        assert len(answers) == 62 and all(a[0].id == "ws_default" for a in answers)
        assert refused and all(1 <= int(wait) <= 60 for wait in refused)

        # and without retries, the error says how long to wait
        with docc.Client(url, key, retry=docc.RetryPolicy(rate_limit_retries=0)) as impatient:
            with pytest.raises(docc.RateLimited) as limited:
                for _ in range(70):
                    list(impatient.workspaces.list())
        assert limited.value.retry_after >= 1 and limited.value.status == 429
        assert limited.value.request_id.startswith("req_")


@contextmanager
def m2m_client(tmp_path: Path, token_ttl_seconds: int) -> Iterator[tuple[str, docc.Client, list[int]]]:
    """A server whose access tokens live `token_ttl_seconds` (no leeway), and a client of a new OAuth client
    there: its base URL, the client, and the status of every response it gets."""
    auth = AuthSettings(access_token_ttl_seconds=token_ttl_seconds, jwt_leeway_seconds=0)
    with start(tmp_path, auth=auth) as (port, key):
        url = f"http://127.0.0.1:{port}"
        with docc.Client(url, key) as admin:
            app = admin.oauth_clients.create(name=unique("m2m"), scopes=["read:datasets"])
        statuses: list[int] = []
        with docc.Client(url, client_id=app.client_id, client_secret=app.secret) as client:
            client.http.event_hooks["response"].append(lambda response: statuses.append(response.status_code))
            yield url, client, statuses


def test_an_expiring_token_is_refreshed_before_it_runs_out(tmp_path):
    # given: access tokens live 4 seconds (exp is in whole seconds: at least 3 in fact); the client renews
    # them once half their life is gone
    with m2m_client(tmp_path, token_ttl_seconds=4) as (_, client, statuses):
        list(client.datasets.list())
        first = client.auth.access_token
        # when: the token is past the point where the client renews it
        while time.monotonic() < client.auth.expires_at:
            time.sleep(0.05)
        list(client.datasets.list())
    # then: a second token, fetched before any request was refused
    assert client.auth.fetched == 2 and client.auth.access_token != first
    assert 401 not in statuses


def test_a_token_the_server_refuses_is_replaced_once_and_the_call_succeeds(tmp_path):
    # given: a client whose clock would keep its token too long (3 seconds: a new token is never already
    # expired on arrival, whatever fraction of a second it is issued at)
    with m2m_client(tmp_path, token_ttl_seconds=3) as (url, client, statuses):
        list(client.datasets.list())
        client.auth.expires_at = math.inf
        old = client.auth.access_token
        # wait until the server itself refuses the old token
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/api/v1/datasets", headers={"Authorization": f"Bearer {old}"}).status_code != 401:
            assert time.monotonic() < deadline, "the token never expired"
            time.sleep(0.1)
        # when
        found = list(client.datasets.list())
    # then
    assert found == [] and client.auth.fetched == 2 and statuses.count(401) == 1
