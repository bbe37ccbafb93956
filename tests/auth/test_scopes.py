"""One table of scopes: every REST route and GraphQL root field declares one; refusals name it."""

from __future__ import annotations

from strawberry.permission import PermissionExtension

from resolvers.scopes import SCOPES
from schema import build_schema
from schema.permissions import HasScope
from server.app import API_PREFIX, OAUTH_ROUTES, REST_ROUTES, create_app
from server.config import Settings

PUBLIC_ROUTES = {"/oauth/token", "/oauth/refresh"}
PUBLIC_PATHS = {"/healthz", "/readyz", "/api/v1/openapi.json", "/graphql"}
DATASETS_QUERY = "{ datasets(first: 5) { totalCount } }"


def test_every_rest_route_declares_a_known_scope_or_is_explicitly_public():
    for route in [*REST_ROUTES, *OAUTH_ROUTES]:
        if route.path in PUBLIC_ROUTES:
            assert route.public and route.scope is None, route.path
        else:
            assert not route.public and route.scope in SCOPES, f"{route.method} {route.path} has no scope"


def test_no_route_is_registered_outside_the_table():
    # given the routes the app serves
    app = create_app(Settings(database_url="sqlite://:memory:"))
    tabled = {API_PREFIX + r.path for r in REST_ROUTES} | {r.path for r in OAUTH_ROUTES}
    # then every served path is in the table or a known public path (GraphQL guards each field)
    served = {resource.canonical for resource in app.router.resources()}
    assert served - tabled == PUBLIC_PATHS


def test_every_graphql_root_field_declares_a_scope():
    schema = build_schema()
    roots = [schema.schema_converter.type_map[name].definition for name in ("Query", "Mutation")
             if name in schema.schema_converter.type_map]
    if schema.subscription is not None:
        roots.append(schema.schema_converter.type_map["Subscription"].definition)
    checked = 0
    for root in roots:
        for field in root.fields:
            guards = [p for ext in field.extensions if isinstance(ext, PermissionExtension)
                      for p in ext.permissions if isinstance(p, HasScope)]
            assert guards and all(g.scope in SCOPES for g in guards), f"{root.name}.{field.name} declares no scope"
            checked += 1
    assert checked >= 10


async def test_insufficient_scope_on_rest_is_403_with_the_scope(reader):
    # when a read-only key writes
    resp = await reader.post("/api/v1/datasets", json={"name": "x", "source": {"type": "file", "path": "/data/a.csv"}})
    # then
    body = await resp.json()
    assert resp.status == 403
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="docc", error="insufficient_scope", scope="write:datasets"'
    assert body["error"]["code"] == "FORBIDDEN"
    assert body["error"]["details"]["required_scope"] == "write:datasets"


async def test_admin_routes_need_admin(reader):
    resp = await reader.get("/api/v1/workspaces/ws_default/keys")
    assert resp.status == 403
    assert (await resp.json())["error"]["details"]["required_scope"] == "admin"


async def test_insufficient_scope_on_graphql_is_forbidden(reader):
    # when a read-only key calls a mutation, and a query it may run
    mutation = await reader.post("/graphql", json={"query": 'mutation { deleteDataset(id: "ds_x") { __typename } }'})
    query = await reader.post("/graphql", json={"query": DATASETS_QUERY})
    # then
    error = (await mutation.json())["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["details"]["required_scope"] == "write:datasets"
    assert (await query.json())["data"]["datasets"]["totalCount"] == 0


async def test_graphql_without_credential_is_401_envelope(anonymous):
    resp = await anonymous.post("/graphql", json={"query": DATASETS_QUERY})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "UNAUTHORIZED"
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="docc"'


async def test_public_paths_need_no_credential(anonymous):
    for path in ("/healthz", "/readyz", "/api/v1/openapi.json"):
        assert (await anonymous.get(path)).status == 200, path
    ide = await anonymous.get("/graphql", headers={"Accept": "text/html"})
    assert ide.status == 200 and ide.content_type == "text/html"


async def test_suggestions_and_introspection_are_on_by_default(client):
    typo = await (await client.post("/graphql", json={"query": '{ dataset(id: "x") { nam } }'})).json()
    schema = await (await client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})).json()
    assert "Did you mean 'name'?" in typo["errors"][0]["message"]
    assert schema["data"]["__schema"]["queryType"]["name"] == "Query"
