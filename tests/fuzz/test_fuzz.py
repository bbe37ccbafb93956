"""Schemathesis against the running server: whatever it sends, no 5xx and no INTERNAL_ERROR.

REST operations come from /api/v1/openapi.json, GraphQL fields from introspection of /graphql.
Runs are reproducible (derandomize) and bounded: DOCC_FUZZ_MAX_EXAMPLES examples per operation
(default 15); raise it for a longer run by hand, e.g. DOCC_FUZZ_MAX_EXAMPLES=500.
"""

from __future__ import annotations

import os
from typing import Any

import graphql
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.graphql import nodes

from tests.fuzz.conftest import LiveServer

MAX_EXAMPLES = int(os.environ.get("DOCC_FUZZ_MAX_EXAMPLES", "15"))

# JSON arguments (a quality rule's config, a source's options) as objects of the keys the server reads,
# with hostile values: the server must refuse what does not fit, never fail on it.
_JSON_KEYS = st.sampled_from(["column", "columns", "pattern", "values", "min", "max", "threshold", "condition",
                              "max_age", "dataset_id", "ref_column", "delimiter"])
_JSON_VALUES = st.one_of(st.text(max_size=30).map(nodes.String), st.integers(-10**6, 10**6).map(nodes.Int),
                         st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
                         st.booleans().map(nodes.Boolean), st.just(nodes.Null),
                         st.lists(st.text(max_size=10).map(nodes.String), max_size=3).map(nodes.List))
schemathesis.graphql.scalar("JSON", st.dictionaries(_JSON_KEYS, _JSON_VALUES, max_size=4).map(
    lambda fields: nodes.Object([graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v)
                                 for k, v in fields.items()])))
FUZZ = settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _internal_errors(body: Any) -> list[Any]:
    """INTERNAL_ERROR codes anywhere in a REST envelope or GraphQL errors list."""
    if isinstance(body, list):
        return [hit for item in body for hit in _internal_errors(item)]
    if not isinstance(body, dict):
        return []
    found = []
    if isinstance(body.get("error"), dict) and body["error"].get("code") == "INTERNAL_ERROR":
        found.append(body["error"])
    for error in body.get("errors") or []:
        if isinstance(error, dict) and (error.get("extensions") or {}).get("code") == "INTERNAL_ERROR":
            found.append(error)
    return found


def no_internal_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """Nothing a client sends may end in INTERNAL_ERROR, whatever the status."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = _internal_errors(body)
    if errors:
        raise AssertionError(f"INTERNAL_ERROR answered: {errors[:3]}")
    return None


def errors_use_the_envelope(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every REST refusal is JSON in the reference's envelope, with a code."""
    if response.status_code < 400 or case.path.startswith("/oauth/"):
        return None  # the OAuth endpoints answer RFC 6749 errors by design
    body = response.json()
    if not (isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("code")):
        raise AssertionError(f"{response.status_code} without the error envelope: {response.text[:200]}")
    return None


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx. (Schemathesis's own `not_a_server_error` also counts every GraphQL `errors` entry, and
    refusing bad input with a GraphQL error is what the server should do.)"""
    if response.status_code >= 500:
        raise AssertionError(f"{response.status_code}: {response.text[:300]}")
    return None


CHECKS = [no_server_error, no_internal_error]


def _known_path(operation: Any, known_ids: dict[str, str]) -> dict[str, str] | None:
    """Path parameters naming a real object for this operation, when one is known."""
    path = operation.path
    for prefix, object_id in known_ids.items():
        if path.startswith(prefix + "{"):
            name = path[len(prefix) + 1:].split("}", 1)[0]
            return {name: object_id, **({"workspace_id": "ws_default"} if name != "workspace_id" else {})}
    return None


def _fuzz(api: Any, call: Any, modes: tuple[GenerationMode, ...], known_ids: dict[str, str] | None = None) -> None:
    """Run `call(case)` on MAX_EXAMPLES generated cases of every operation in each mode (valid input, and
    input that breaks the document's own constraints), and again with the ids of real objects where the
    path names one; fail listing every operation that broke."""
    failures = []
    for result in api.get_all_operations():
        operation = result.ok()
        known = _known_path(operation, known_ids or {})
        runs = [(mode, None) for mode in modes] + [(mode, known) for mode in modes if known]
        for mode, path_parameters in runs:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @FUZZ
            @given(case=strategy)
            def run(case: Any) -> None:
                call(case)

            try:
                run()
            except Exception as exc:  # gathered: one run reports every broken operation
                failures.append(f"{operation.label} ({mode.value}, ids {path_parameters}): {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.fixture(scope="module")
def session() -> Any:
    with requests.Session() as http:
        yield http


def test_rest_never_fails_on_client_input(live_server: LiveServer, session: Any) -> None:
    api = schemathesis.openapi.from_url(f"{live_server.base_url}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {live_server.admin_key}"}
    # The feed never ends by design: asked as Server-Sent Events, schemathesis reads it for `timeout`
    # seconds in all and judges what arrived (the status and the first events).
    streamed = {**headers, "Accept": "text/event-stream"}

    def call(case: Any) -> None:
        endless = case.path == "/api/v1/events"
        case.call_and_validate(base_url=live_server.base_url, session=session, timeout=2 if endless else 30,
                               headers=streamed if endless else headers,
                               checks=[not_a_server_error, *CHECKS, errors_use_the_envelope])

    _fuzz(api, call, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE), live_server.known_ids)


def test_graphql_never_fails_on_client_input(live_server: LiveServer, session: Any) -> None:
    headers = {"Authorization": f"Bearer {live_server.admin_key}"}
    api = schemathesis.graphql.from_url(f"{live_server.base_url}/graphql", headers=headers)
    _fuzz(api, lambda case: case.call_and_validate(base_url=live_server.base_url, session=session, timeout=30,
                                                   headers=headers, checks=CHECKS),
          (GenerationMode.POSITIVE,))
