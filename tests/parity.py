"""What every REST/GraphQL parity test needs: one spelling for both surfaces' fields, and their refusals.

REST answers the reference's snake_case with lower-case enums and `...Z` times; GraphQL answers camelCase,
upper-case enums and `+00:00` times. The helpers here undo exactly those differences and nothing else, so
a value that still differs after them is a real disagreement between the surfaces.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import Caller, bearer
from tests.graphql.helpers import gql


def camel(name: str) -> str:
    """`rows_in` -> `rowsIn`: Strawberry's spelling of a snake_case field."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def field(obj: dict[str, Any], name: str) -> Any:
    """A field by its snake_case name, in whichever spelling the surface used; KeyError when neither has it."""
    return obj[name] if name in obj else obj[camel(name)]


def pick(obj: dict[str, Any], *names: str) -> dict[str, Any]:
    """The named fields (snake_case keys), read from either surface's spelling."""
    return {name: field(obj, name) for name in names}


def instant(value: str | None) -> datetime | None:
    """A time as both surfaces write it (`...Z` or `...+00:00`), as an aware datetime to compare."""
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def enum(value: str | None) -> str | None:
    """An enum value in one case: GraphQL's `SUCCEEDED` is REST's `succeeded`."""
    return None if value is None else value.lower()


async def rest(caller: Caller, method: str, path: str, body: Any = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One REST call: its status and its decoded body (None for an empty one)."""
    resp = await caller.request(method, f"/api/v1{path}", json=body, headers=headers)
    raw = await resp.read()
    return resp.status, (await resp.json() if raw else None)


async def rest_ok(caller: Caller, method: str, path: str, body: Any = None,
                  headers: dict[str, str] | None = None) -> Any:
    """A REST call that must succeed (2xx); its body."""
    status, answer = await rest(caller, method, path, body, headers)
    assert 200 <= status < 300, (status, answer)
    return answer


def refusal(error: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(code, details) of a refusal from either surface.

    Accepts a REST body (`{"error": {...}}`), a GraphQL body refused in `errors[]` (`extensions` carry the
    code and details), or a GraphQL error member of a result union (`code` and `details` or the typed
    fields that stand for them: `resource`/`id`, `field`/`reason`, the revisions).
    """
    if "error" in error:
        return error["error"]["code"], error["error"]["details"]
    if "errors" in error:
        [first] = error["errors"]
        return first["extensions"]["code"], first["extensions"].get("details", {})
    if "details" in error:
        return error["code"], error["details"]
    typed = {snake: error[key] for snake, key in (("resource", "resource"), ("id", "id"), ("field", "field"),
                                                   ("reason", "reason"), ("expected_revision", "expectedRevision"),
                                                   ("current_revision", "currentRevision")) if key in error}
    return error["code"], typed


async def narrow_key(admin: Caller, *scopes: str, workspace: str = "ws_default") -> Caller:
    """A caller of the same app holding only `scopes` (a new API key of `workspace`, made by `admin`)."""
    made = await rest_ok(admin, "POST", f"/workspaces/{workspace}/keys", {"name": "narrow", "scopes": list(scopes)})
    return Caller(admin.http, bearer(made["key"]))


# What each GraphQL error member of a result union says beyond `code` and `message`.
MEMBER_FIELDS = {"ValidationError": "field reason details", "ConflictError": "details", "NotFoundError": "resource id",
                 "PreconditionFailedError": "expectedRevision currentRevision", "SchemaIncompatibleError": "details"}


def error_fields(*members: str) -> str:
    """The selection of a result union's error members (only those the union has: GraphQL refuses others)."""
    return "__typename ... on Error { code message } " + " ".join(
        f"... on {member} {{ {MEMBER_FIELDS[member]} }}" for member in members)


async def gql_data(caller: Caller, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """A GraphQL operation that must run without a top-level error; its `data`."""
    body = await gql(caller, query, variables)
    assert "errors" not in body, body
    return body["data"]


def camel_keys(value: Any, opaque: frozenset[str] = frozenset({"config", "options"})) -> Any:
    """A REST body in GraphQL input spelling: keys camelCase, except inside free-form JSON (`config`)."""
    if isinstance(value, list):
        return [camel_keys(item, opaque) for item in value]
    if isinstance(value, dict):
        return {camel(k): v if k in opaque else camel_keys(v, opaque) for k, v in value.items()}
    return value


def standing_in(value: Any, names: dict[str, str]) -> Any:
    """`value` with each string found in `names` replaced by its stand-in (ids and names that must differ)."""
    if isinstance(value, list | tuple):
        return type(value)(standing_in(item, names) for item in value)
    if isinstance(value, dict):
        return {k: standing_in(v, names) for k, v in value.items()}
    return names.get(value, value) if isinstance(value, str) else value
