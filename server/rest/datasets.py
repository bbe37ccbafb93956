"""REST translation of the dataset domain: /datasets and /datasets/{id}/schema."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from resolvers import datasets as domain
from resolvers.errors import ValidationError
from resolvers.schema_compat import CompatibilityReport
from resolvers.sources import masked_source
from server.edge.bodies import read_json
from server.edge.context import principal_of
from server.edge.responses import json_response
from server.edge.routes import Route, full_response
from server.engine.service import POLICY
from server.models.datasets import Dataset, SchemaVersion
from server.rest.common import etag, if_match, page_request, page_response


def dataset_json(row: Dataset) -> dict[str, Any]:
    """The reference's dataset shape; the connection password is masked."""
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "source": masked_source(row.source),
        "schema": {"fields": row.schema_fields},
        "tags": row.tags,
        "quality_score": row.quality_score,
        "last_profiled": row.last_profiled,
    }


def schema_json(dataset_id: str, version: SchemaVersion) -> dict[str, Any]:
    return {
        "dataset_id": dataset_id,
        "version": version.version,
        "fields": version.schema_fields,
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


def dataset_ack(row: Dataset) -> dict[str, Any]:
    """What a caller without read:datasets learns of a dataset it wrote: id, status and revision."""
    return {"id": row.id, "status": row.status, "revision": row.revision}


def _with_etag(request: web.Request, row: Dataset, status: int = 200) -> web.Response:
    body = dataset_json(row) if full_response(request) else dataset_ack(row)
    return json_response(body, status=status, headers={"ETag": etag(row.id, row.revision)})


async def list_datasets(request: web.Request) -> web.Response:
    query = request.query
    filters = domain.DatasetFilter(
        name=query.get("name"), tags=tuple(t for t in query.get("tags", "").split(",") if t),
        source_type=query.get("source_type"), status=query.get("status"))
    page = await domain.list_datasets(await principal_of(request), filters, page_request(request))
    return page_response(request, page, dataset_json)


async def create_dataset(request: web.Request) -> web.Response:
    row = await domain.create_dataset(await principal_of(request), await read_json(request),
                                      policy=request.app[POLICY])
    response = _with_etag(request, row, status=201)
    response.headers["Location"] = f"/api/v1/datasets/{row.id}"
    return response


async def get_dataset(request: web.Request) -> web.Response:
    return _with_etag(request, await domain.get_dataset(await principal_of(request), request.match_info["id"]))


async def update_dataset(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    body = await read_json(request)
    row = await domain.update_dataset(await principal_of(request), dataset_id, body,
                                      if_match(request, dataset_id), _flag(request, "force"),
                                      policy=request.app[POLICY])
    return _with_etag(request, row)


async def delete_dataset(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    await domain.delete_dataset(await principal_of(request), dataset_id, if_match(request, dataset_id))
    return web.Response(status=204)


async def get_schema(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    version = await domain.get_schema(await principal_of(request), dataset_id)
    return json_response(schema_json(dataset_id, version))


def _schema_body(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Accept `{"fields": [...]}` or `{"schema": {...}}`, with an optional `compatibility`."""
    body = dict(body)
    compatibility = body.pop("compatibility", None)
    if compatibility is not None and not isinstance(compatibility, str):
        raise ValidationError("Invalid compatibility mode", field="compatibility", reason="Expected a string")
    if "schema" not in body:
        return body, compatibility
    if len(body) > 1:
        extra = sorted(key for key in body if key != "schema")[0]
        raise ValidationError("Invalid schema", field=extra, reason="Unknown field")
    return body["schema"], compatibility


def report_json(report: CompatibilityReport) -> dict[str, Any]:
    return report.as_dict()


async def update_schema(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    schema, compatibility = _schema_body(await read_json(request))
    result = await domain.update_schema(
        await principal_of(request), dataset_id, schema, compatibility,
        force=_flag(request, "force"), expected_revision=if_match(request, dataset_id))
    if full_response(request):
        body = {**schema_json(dataset_id, result.version), "compatibility_report": report_json(result.report)}
    else:
        body = {"dataset_id": dataset_id, "version": result.version.version, "revision": result.dataset.revision}
    return json_response(body, headers={"ETag": etag(result.dataset.id, result.dataset.revision)})


async def schema_history(request: web.Request) -> web.Response:
    dataset_id = request.match_info["id"]
    page = await domain.schema_history(await principal_of(request), dataset_id, page_request(request))
    return page_response(request, page, lambda version: schema_json(dataset_id, version))


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
    Route("DELETE", "/datasets/{id}", delete_dataset, domain.WRITE, "Delete a dataset", "datasets", status=204),
    Route("GET", "/datasets/{id}/schema", get_schema, domain.READ, "Get the current schema", "schemas"),
    Route("PUT", "/datasets/{id}/schema", update_schema, domain.WRITE, "Store a new schema version", "schemas",
          body={"type": "object"}, query=("force",), read_scope=domain.READ),
    Route("GET", "/datasets/{id}/schema/history", schema_history, domain.READ, "Schema versions, newest first",
          "schemas", paged=True),
    Route("POST", "/datasets/{id}/schema/validate", validate_schema, domain.READ,
          "Check a schema change without storing it", "schemas", body={"type": "object"}),
]
