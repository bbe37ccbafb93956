"""Guards of the architecture: the domain stays framework-free; committed contracts match the code."""

from __future__ import annotations

import ast
import pathlib

from schema import build_schema

ROOT = pathlib.Path(__file__).resolve().parents[1]


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every module a file imports, anywhere in it (also inside functions and TYPE_CHECKING blocks), as
    absolute names; `from a import b` counts as `a` and `a.b`, since b may be a module."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def offenders(folder: str, forbidden: set[str]) -> list[str]:
    """`file: module` for each import under `folder` of a forbidden module or of anything inside one."""
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in sorted(imported_modules(path)):
            if any(name == banned or name.startswith(f"{banned}.") for banned in forbidden):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


def test_the_engine_never_imports_the_domain_or_a_surface():
    # The engine is handed what it needs (the tick handler, the bus) where the app or worker is assembled.
    assert offenders("server/engine", {"resolvers", "schema", "server.rest", "server.graphql", "server.app"}) == []


def test_the_graphql_schema_never_imports_the_data_plane():
    # The schema sees the domain only; what the data plane knows reaches it through resolvers.
    assert offenders("schema", {"server.engine.dataplane"}) == []


def test_the_guards_see_every_spelling_of_an_import(tmp_path, monkeypatch):
    # given one file importing the data plane each way Python allows
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "planted.py").write_text(
        "import server.engine.dataplane.graph\n"
        "from server.engine import dataplane\n"
        "def late():\n    from server.engine.dataplane.graph import plan_steps\n")
    (tmp_path / "schema" / "relative.py").write_text("from ..server.engine.dataplane import Policy\n")
    # when
    found = offenders("schema", {"server.engine.dataplane"})
    # then
    assert found == ["schema/planted.py: server.engine.dataplane",
                     "schema/planted.py: server.engine.dataplane.graph",
                     "schema/planted.py: server.engine.dataplane.graph.plan_steps",
                     "schema/relative.py: server.engine.dataplane",
                     "schema/relative.py: server.engine.dataplane.Policy"]


def offenders_outside(folder: str, allowed: set[str], forbidden: set[str]) -> list[str]:
    """`file: module` for each import of a forbidden module by a file under `folder` but outside `allowed`
    (folders or files, relative to the root)."""
    found = offenders(folder, forbidden)
    return [line for line in found
            if not any(line.startswith(f"{place}/") or line.startswith(f"{place}:") for place in allowed)]


# Only the REST package itself, and the app that mounts its routes, know it: what the surfaces share at the
# HTTP edge lives in server/edge.
REST_ALLOWED = {"server/rest", "server/app.py"}


def test_nothing_but_the_app_imports_the_rest_surface():
    for folder in ("server", "schema", "resolvers"):
        assert offenders_outside(folder, REST_ALLOWED, {"server.rest"}) == []


def test_the_rest_guard_fails_on_a_planted_import(tmp_path, monkeypatch):
    # given the GraphQL view and the OAuth endpoints each importing from server/rest again, and a REST module
    # importing its own package (which is fine)
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    for folder in ("server/auth", "server/rest"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "server" / "graphql.py").write_text("from server.rest.common import json_response\n")
    (tmp_path / "server" / "auth" / "oauth.py").write_text("def late():\n    from server import rest\n")
    (tmp_path / "server" / "rest" / "jobs.py").write_text("from server.rest.common import page_request\n")
    (tmp_path / "server" / "app.py").write_text("from server.rest import jobs\n")
    # when
    found = offenders_outside("server", REST_ALLOWED, {"server.rest"})
    # then
    assert found == ["server/auth/oauth.py: server.rest", "server/graphql.py: server.rest.common",
                     "server/graphql.py: server.rest.common.json_response"]


def test_the_domain_never_imports_the_edge_authentication_or_a_surface():
    # Arrows run down: the edge, authentication and the surfaces call the domain, never the reverse.
    assert offenders("resolvers", {"server.edge", "server.auth", "server.rest", "server.graphql", "server.app",
                                   "schema"}) == []


def test_the_edge_never_imports_authentication_or_a_surface():
    # The edge is below both surfaces and authentication: the authenticator is handed to it by the app.
    assert offenders("server/edge", {"server.auth", "server.rest", "server.graphql", "server.app", "schema"}) == []


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


# What may show a secret: only the domain builds read models, so only the domain masks.
MASKING = {"resolvers.sources.masked_source", "server.engine.dataplane.mask_connection",
           "server.engine.dataplane.masking", "server.engine.dataplane.mask_secrets",
           "server.engine.dataplane.connections.mask_connection"}


def test_the_surfaces_never_see_an_orm_row():
    # REST and GraphQL rename the fields of read models; a row (and its secret columns) never reaches them.
    assert offenders("schema", {"server.models"}) == []
    assert offenders("server/rest", {"server.models"}) == []


def test_no_surface_masks_a_secret_itself():
    # Masking happens once, where the read model is built; a surface that masks has seen the secret.
    for surface in ("schema", "server/rest", "server/edge"):
        assert offenders(surface, MASKING) == [], surface


def test_the_surface_guards_fail_on_a_planted_import(tmp_path, monkeypatch):
    # given
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "server" / "rest").mkdir(parents=True)
    (tmp_path / "server" / "rest" / "planted.py").write_text(
        "from server.models.datasets import Dataset\nfrom resolvers.sources import masked_source\n")
    # when
    rows, masks = offenders("server/rest", {"server.models"}), offenders("server/rest", MASKING)
    # then
    assert rows == ["server/rest/planted.py: server.models.datasets",
                    "server/rest/planted.py: server.models.datasets.Dataset"]
    assert masks == ["server/rest/planted.py: resolvers.sources.masked_source"]
