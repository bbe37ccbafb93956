"""REST translation of the dataset domain: /datasets and /datasets/{id}/schema."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from resolvers import datasets as domain
from resolvers.errors import ValidationError
from resolvers.schema_compat import CompatibilityReport, SchemaDefinition, read_schema
from resolvers.validation import parse
from resolvers.views.datasets import DatasetView, SchemaVersionView
from server.edge.bodies import read_json
from server.edge.context import known_list_version, principal_of
from server.edge.responses import json_response
from server.edge.routes import Route, full_response
from server.engine.service import POLICY
from server.rest.common import EncodedShape, etag, if_match, page_request, page_response
from server.rest.list_cache import serve_list, serve_object


def dataset_json(view: DatasetView) -> dict[str, Any]:
    """The reference's dataset shape (the view's source is already masked)."""
    return {
        "id": view.id,
        "name": view.name,
        "description": view.description,
        "status": view.status,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "source": view.source.settings,
        "schema": {"fields": list(view.stored_fields)},
        "tags": list(view.tags),
        "quality_score": view.quality_score,
        "last_profiled": view.last_profiled,
    }


# A list page's datasets: the views come from the domain's row builder, one object per stored state.
_LISTED_JSON = EncodedShape(dataset_json)


def schema_json(version: SchemaVersionView) -> dict[str, Any]:
    return {
        "dataset_id": version.dataset_id,
        "version": version.version,
        "fields": [field.as_dict() for field in version.fields],
        "compatibility": version.compatibility,
        "changes": version.changes,
        "forced": version.forced,
        "created_by": version.created_by,
        "created_at": version.created_at,
    }


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in {"true", "false", "1", "0"}:
        raise ValidationError(f"Invalid query parameter {name}", field=name, reason="Expected true or false")
    return raw in {"true", "1"}


def dataset_ack(view: DatasetView) -> dict[str, Any]:
    """What a caller without read:datasets learns of a dataset it wrote: id, status and revision."""
    return {"id": view.id, "status": view.status, "revision": view.revision}


def _with_etag(request: web.Request, row: DatasetView, status: int = 200) -> web.Response:
    body = dataset_json(row) if full_response(request) else dataset_ack(row)
    return json_response(body, status=status, headers={"ETag": etag(row.id, row.revision)})


async def list_datasets(request: web.Request) -> web.Response:
    principal = await principal_of(request)

    async def build() -> web.Response:
        # Parsed only to build a page: a kept page was built from this very query, so it was valid.
        query = request.query
        filters = domain.DatasetFilter(
            name=query.get("name"), tags=tuple(t for t in query.get("tags", "").split(",") if t),
            source_type=query.get("source_type"), status=query.get("status"))
        paging = page_request(request)
        return page_response(request, await domain.list_datasets(principal, filters, paging), _LISTED_JSON)

    version = await domain.list_version(principal, known=known_list_version(request, "datasets"))
    return await serve_list(request, "datasets", principal.workspace_id, version, build)


async def create_dataset(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    spec = parse(domain.DatasetCreate, await read_json(request), "dataset configuration")
    row = await domain.create_dataset(principal, spec, policy=request.app[POLICY])
    response = _with_etag(request, row, status=201)
    response.headers["Location"] = f"/api/v1/datasets/{row.id}"
    return response


async def get_dataset(request: web.Request) -> web.Response:
    principal = await principal_of(request)

    async def build() -> web.Response:
        return _with_etag(request, await domain.get_dataset(principal, request.match_info["id"]))

    # Every field of the answer is in the dataset's row, which the list version counts: kept like a page.
    version = await domain.list_version(principal, known=known_list_version(request, "datasets"))
    return await serve_object(request, "dataset", principal.workspace_id, version, build)


async def update_dataset(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    principal = await principal_of(request)
    spec = parse(domain.DatasetUpdate, await read_json(request), "dataset configuration")
    row = await domain.update_dataset(principal, dataset_id, spec,
                                      if_match(request, dataset_id), _flag(request, "force"),
                                      policy=request.app[POLICY])
    return _with_etag(request, row)


async def delete_dataset(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    await domain.delete_dataset(await principal_of(request), dataset_id, if_match(request, dataset_id),
                                _flag(request, "force"))
    return web.Response(status=204)


async def get_schema(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    version = await domain.get_schema(await principal_of(request), dataset_id)
    return json_response(schema_json(version))


def _schema_body(body: dict[str, Any]) -> tuple[SchemaDefinition, str | None]:
    """Accept `{"fields": [...]}` or `{"schema": {...}}`, with an optional `compatibility`."""
    body = dict(body)
    compatibility = body.pop("compatibility", None)
    if compatibility is not None and not isinstance(compatibility, str):
        raise ValidationError("Invalid compatibility mode", field="compatibility", reason="Expected a string")
    if "schema" not in body:
        return read_schema(body), compatibility
    if len(body) > 1:
        extra = sorted(key for key in body if key != "schema")[0]
        raise ValidationError("Invalid schema", field=extra, reason="Unknown field")
    return read_schema(body["schema"]), compatibility


def report_json(report: CompatibilityReport) -> dict[str, Any]:
    return report.as_dict()


async def update_schema(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    schema, compatibility = _schema_body(await read_json(request))
    result = await domain.update_schema(
        await principal_of(request), dataset_id, schema, compatibility,
        force=_flag(request, "force"), expected_revision=if_match(request, dataset_id))
    if full_response(request):
        body = {**schema_json(result.version), "compatibility_report": report_json(result.report)}
    else:
        body = {"dataset_id": dataset_id, "version": result.version.version, "revision": result.dataset.revision}
    return json_response(body, headers={"ETag": etag(result.dataset.id, result.dataset.revision)})


async def schema_history(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    page = await domain.schema_history(await principal_of(request), dataset_id, page_request(request))
    return page_response(request, page, schema_json)


async def validate_schema(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    schema, compatibility = _schema_body(await read_json(request))
    report = await domain.validate_schema(await principal_of(request), dataset_id, schema, compatibility)
    return json_response(report_json(report))


def _body_schema(model: Any) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True)


ROUTES = [
    Route("GET", "/datasets", list_datasets, domain.READ, "List datasets", "datasets",
          query=("name", "tags", "source_type", "status"), paged=True),
    Route("POST", "/datasets", create_dataset, domain.WRITE, "Create a dataset", "datasets", status=201,
          body=_body_schema(domain.DatasetCreate), read_scope=domain.READ),
    Route("GET", "/datasets/{id}", get_dataset, domain.READ, "Get a dataset", "datasets"),
    Route("PUT", "/datasets/{id}", update_dataset, domain.WRITE, "Update a dataset", "datasets",
          body=_body_schema(domain.DatasetUpdate), query=("force",), read_scope=domain.READ),
    Route("DELETE", "/datasets/{id}", delete_dataset, domain.WRITE, "Delete a dataset", "datasets", status=204,
          query=("force",)),
    Route("GET", "/datasets/{id}/schema", get_schema, domain.READ, "Get the current schema", "schemas"),
    Route("PUT", "/datasets/{id}/schema", update_schema, domain.WRITE, "Store a new schema version", "schemas",
          body={"type": "object"}, query=("force",), read_scope=domain.READ),
    Route("GET", "/datasets/{id}/schema/history", schema_history, domain.READ, "Schema versions, newest first",
          "schemas", paged=True),
    Route("POST", "/datasets/{id}/schema/validate", validate_schema, domain.READ,
          "Check a schema change without storing it", "schemas", body={"type": "object"}),
]
