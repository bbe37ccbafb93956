"""The requests the read bench measures, and the bytes each answers (which the ceiling then serves)."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

DATASET_PAGE = """query DatasetPage {
  datasets(first: 100) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name description status tags schemaVersion qualityScore updatedAt
                   fields { name type nullable } } }
  }
}"""
ONE_FIELD = "query One($id: ID!) { dataset(id: $id) { name } }"
NEW_DATASET = {"name": "bench_new_@N@", "source": {"type": "database", "table": "t",
               "connection": "postgresql://etl:secret@db.internal:5432/warehouse"},
               "schema": {"fields": [{"name": f"c{i}", "type": "string"} for i in range(8)]}, "tags": ["new"]}


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    # Each request carries a fresh name (a create); the ceiling then answers the first response's bytes.
    unique: bool = False
    # Every other request is this write (path, body with @N@): each read of the case follows a write.
    write: tuple[str, str] | None = None


def _call(base: str, case: Case, key: str) -> tuple[int, bytes, str, dict[str, str]]:
    body = case.body.replace("@N@", f"probe_{time.time_ns()}") if case.body else None
    request = urllib.request.Request(base + case.path, method=case.method, data=body.encode() if body else None,
                                     headers={"Authorization": f"Bearer {key}", **case.headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read(), answer.headers.get("Content-Type", ""), dict(answer.headers)
    except HTTPError as failed:
        return failed.code, failed.read(), failed.headers.get("Content-Type", ""), dict(failed.headers)


def build_cases(base: str, key: str) -> list[Case]:
    """The cases, with ids and ETags read from the seeded server."""
    _, datasets, _, headers = _call(base, Case("probe", "/api/v1/datasets?per_page=100"), key)
    dataset_id = json.loads(datasets)["data"][0]["id"]
    _, jobs, _, _ = _call(base, Case("probe", "/api/v1/jobs?per_page=1"), key)
    job_id = json.loads(jobs)["data"][0]["id"]
    graphql = {"Content-Type": "application/json"}
    # Without an ETag on the list the conditional request is answered in full: the table shows it.
    conditional = {"If-None-Match": headers["ETag"]} if "ETag" in headers else {"If-None-Match": '"none"'}
    return [
        Case("rest_list", "/api/v1/datasets?per_page=100"),
        Case("rest_list_304", "/api/v1/datasets?per_page=100", headers=conditional),
        Case("rest_list_written", "/api/v1/datasets?per_page=100",
             write=("/api/v1/datasets", json.dumps(NEW_DATASET).replace("bench_new_", "bench_mixed_"))),
        Case("rest_get", f"/api/v1/datasets/{dataset_id}"),
        Case("rest_jobs", "/api/v1/jobs?per_page=100"),
        Case("rest_job", f"/api/v1/jobs/{job_id}"),
        Case("gql_list", "/graphql", "POST", graphql, json.dumps({"query": DATASET_PAGE})),
        Case("gql_one", "/graphql", "POST", graphql, json.dumps({"query": ONE_FIELD,
                                                                    "variables": {"id": dataset_id}})),
        Case("rest_create", "/api/v1/datasets", "POST", graphql, json.dumps(NEW_DATASET), unique=True),
    ]


LABELS = {
    "rest_list": "GET /api/v1/datasets?per_page=100",
    "rest_list_304": "  the same, If-None-Match",
    "rest_list_written": "  the same, each right after a create (req/s: both)",
    "rest_get": "GET /api/v1/datasets/{id}",
    "rest_jobs": "GET /api/v1/jobs?per_page=100",
    "rest_job": "GET /api/v1/jobs/{id}",
    "gql_list": "GraphQL dataset list page (100)",
    "gql_one": "GraphQL { dataset(id:) { name } }",
    "rest_create": "POST /api/v1/datasets (create)",
}


def record(base: str, key: str, cases: list[Case], folder: Path) -> dict[str, dict[str, Any]]:
    """Call each case once: its status and size, and its bytes written where the ceiling app reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    seen: dict[str, dict[str, Any]] = {}
    for case in cases:
        status, body, content_type, headers = _call(base, case, key)
        if status >= 400:
            raise SystemExit(f"{case.name}: the server answered {status}: {body[:300]!r}")
        if "errors" in body[:20].decode(errors="replace"):
            raise SystemExit(f"{case.name}: GraphQL errors: {body[:300]!r}")
        (folder / f"{case.name}.body").write_bytes(body)
        (folder / f"{case.name}.type").write_text(content_type or "application/json")
        seen[case.name] = {"status": status, "bytes": len(body), "etag": headers.get("ETag")}
    return seen
