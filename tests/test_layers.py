"""Guards of the architecture: the domain stays framework-free; committed contracts match the code."""

from __future__ import annotations

import ast
import pathlib

from schema import build_schema

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_resolvers_never_import_a_transport():
    offenders = []
    for path in (ROOT / "resolvers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"strawberry", "aiohttp"}]
    assert offenders == []


def test_committed_sdl_matches_the_live_schema():
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == build_schema().as_str() + "\n", "run: docc-server export-schema -o schema.graphql"


async def test_openapi_describes_every_rest_route(client):
    # given
    document = await (await client.get("/api/v1/openapi.json")).json()
    # when
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    registered = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith(("/api/v1/", "/oauth/"))
        and route.method != "HEAD" and not route.resource.canonical.endswith("openapi.json")
    }
    # then
    assert document["openapi"].startswith("3.1")
    assert registered and registered == documented
    assert ("POST", "/oauth/token") in documented


async def test_openapi_lists_paging_parameters_on_lists_only(client):
    document = await (await client.get("/api/v1/openapi.json")).json()

    def query_names(path: str) -> set[str]:
        return {p["name"] for p in document["paths"][path]["get"]["parameters"] if p["in"] == "query"}

    assert {"page", "per_page", "limit", "offset"} <= query_names("/api/v1/datasets")
    assert {"page", "per_page", "limit", "offset"} <= query_names("/api/v1/workspaces/{workspace_id}/keys")
    assert "page" not in query_names("/api/v1/datasets/{id}")
    assert "page" not in query_names("/api/v1/jobs/{id}/logs")
