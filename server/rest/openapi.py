"""The OpenAPI 3.1 document, generated from the route table so it cannot miss a route."""

from __future__ import annotations

import copy
import re
from typing import Any

from resolvers.ownership import MAX_ID_LENGTH
from resolvers.pagination import MAX_PAGE_SIZE
from server.edge.routes import Route
from server.rest.answers import ANSWERS, SCHEMAS, WAITED, ref
from server.rest.common import MAX_QUERY_INT

ERROR_ENVELOPE = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "details", "request_id"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "object"}, "request_id": {"type": "string"}},
    }},
}
LIST_ENVELOPE = {
    "type": "object",
    "required": ["data", "meta", "links"],
    "properties": {
        "data": {"type": "array", "items": {}},
        "meta": {"type": "object", "properties": {k: {"type": "integer"} for k in
                                                  ("total", "limit", "offset", "page", "per_page")}},
        "links": {"type": "object", "properties": {k: {"type": ["string", "null"]} for k in
                                                   ("self", "next", "prev")}},
    },
}
PAGING = ("page", "per_page", "limit", "offset")
_ERRORS = {"400": "Invalid request", "401": "Authentication required", "403": "Insufficient permissions",
           "404": "Not found", "414": "URL too long", "429": "Rate limit exceeded",
           "431": "Request header too large", "500": "Server error"}


# What the edge accepts (see resolvers.ownership and server.rest.common), so clients and fuzzers know.
ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": "^[A-Za-z0-9_-]+$"}
PAGING_SCHEMAS = {
    "page": {"type": "integer", "minimum": 1, "maximum": MAX_QUERY_INT},
    "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    "offset": {"type": "integer", "minimum": 0, "maximum": MAX_QUERY_INT},
}


def _answer(route: Route) -> dict[str, Any]:
    """The schema of a route's full answer (a page of items for a list); "an object" where none is written."""
    if "response" in route.extra:
        return route.extra["response"]  # type: ignore[no-any-return]
    name = ANSWERS.get((route.method, route.path))
    if name is None:
        return {"type": "object"}
    if not route.paged:
        return ref(name)
    page = copy.deepcopy(LIST_ENVELOPE)
    page["properties"]["data"]["items"] = ref(name)
    return page


def _operation(route: Route) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": ID_SCHEMA}
        for name in re.findall(r"{(\w+)}", route.path)]
    query = [*route.query, *(PAGING if route.paged else ())]
    parameters += [{"name": name, "in": "query", "required": False,
                    "schema": PAGING_SCHEMAS.get(name, {"type": "string"})} for name in query]
    ok: dict[str, Any] = {"description": route.summary}
    if route.status != 204:
        ok["content"] = {"application/json": {"schema": _answer(route)}}
    responses = {str(route.status): ok}
    if waited := WAITED.get((route.method, route.path)):
        responses["200"] = {**ok, "description": waited}
    for status, text in _ERRORS.items():
        responses[status] = {"description": text,
                             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": parameters,
        "responses": responses,
    }
    if route.scope:
        operation["security"] = [{"bearer": [route.scope]}, {"privateToken": [route.scope]}]
        operation["x-required-scope"] = route.scope
    if route.read_scope:
        # Without it the write still happens, and the answer is a minimal acknowledgement.
        operation["x-full-response-scope"] = route.read_scope
    if route.body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": route.body}}}
    return operation


def _hoist_definitions(schema: Any, components: dict[str, Any]) -> Any:
    """Move pydantic's local `$defs` into the document's components, so `$ref`s resolve from the root."""
    if isinstance(schema, list):
        return [_hoist_definitions(item, components) for item in schema]
    if not isinstance(schema, dict):
        return schema
    for name, definition in schema.get("$defs", {}).items():
        components[name] = _hoist_definitions(definition, components)
    return {key: (value.replace("#/$defs/", "#/components/schemas/") if key == "$ref" and isinstance(value, str)
                  else _hoist_definitions(value, components))
            for key, value in schema.items() if key != "$defs"}


def openapi_document(tables: list[tuple[str, list[Route]]]) -> dict[str, Any]:
    """Every route of the (prefix, routes) tables as an OpenAPI 3.1 document."""
    paths: dict[str, dict[str, Any]] = {}
    definitions: dict[str, Any] = {}
    for prefix, routes in tables:
        for route in routes:
            operation = _hoist_definitions(_operation(route), definitions)
            paths.setdefault(prefix + route.path, {})[route.method.lower()] = operation
    if clash := set(definitions) & set(SCHEMAS):
        # A body's model and an answer of the same name would overwrite each other's schema.
        raise ValueError(f"Answer schemas named like request models: {sorted(clash)}")
    return {
        "openapi": "3.1.0",
        "info": {"title": "DOCC REST API", "version": "1.0.0",
                 "description": "Datasets, pipelines, jobs and quality rules of a data team."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {**definitions, **SCHEMAS, "Error": ERROR_ENVELOPE, "List": LIST_ENVELOPE},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "privateToken": {"type": "apiKey", "in": "header", "name": "private-token"},
            },
        },
    }
