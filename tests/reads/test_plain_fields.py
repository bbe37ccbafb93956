"""The plain-field road of GraphQL execution answers exactly as graphql-core's own, data and errors alike."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.principal import ADMIN_SCOPE, DEFAULT_WORKSPACE_ID, Principal
from schema import build_schema
from schema.context import Context
from schema.execution import PlainFieldsExecutionContext
from tests.reads.rows import write_rows

PAGE = """query { datasets(first: 20) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id name description status tags schemaVersion qualityScore createdAt
  source { type connection path format } fields { name type nullable description }
  schemaHistory(first: 3) { edges { node { version fields { name type } } } } } } } }"""


async def test_a_dataset_page_is_the_same_on_both_roads(db):
    # given
    await write_rows(20)
    fast, reference = build_schema(), build_schema()
    reference.execution_context_class = StrawberryGraphQLCoreExecutionContext
    principal = Principal(subject="t", workspace_id=DEFAULT_WORKSPACE_ID, scopes=frozenset({ADMIN_SCOPE}))
    # when
    quick = await fast.execute(PAGE, context_value=Context(principal=principal, request_id="r1"))
    slow = await reference.execute(PAGE, context_value=Context(principal=principal, request_id="r2"))
    # then
    assert quick.errors is None and slow.errors is None
    assert quick.data == slow.data
    assert len(quick.data["datasets"]["edges"]) == 20


@strawberry.enum
class Colour(Enum):
    RED = "red"


@strawberry.type
class Part:
    name: str
    size: int | None


@strawberry.type
class Item:
    name: str
    colour: Colour
    tags: list[str]
    parts: list[Part]
    main: Part


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        main = Part(name="m", size=None)
        good = Item(name="ok", colour=Colour.RED, tags=["a"], parts=[Part(name="p", size=1)], main=main)
        return [
            good,
            Item(name=None, colour=Colour.RED, tags=[], parts=[], main=good.main),  # type: ignore[arg-type]
            Item(name="x", colour="blue", tags=["a"], parts=[], main=good.main),  # type: ignore[arg-type]
            Item(name="y", colour=Colour.RED, tags=["a", None], parts=[], main=good.main),  # type: ignore[list-item]
            Item(name="z", colour=Colour.RED, tags=[], parts=[Part(name=None, size=2)], main=good.main),  # type: ignore[arg-type]
            Item(name="w", colour=Colour.RED, tags=[], parts=[], main=Part(name="m", size="big")),  # type: ignore[arg-type]
        ]


async def test_values_that_need_an_error_get_graphql_cores_error():
    # given: nulls where the type forbids them, an unknown enum value, a value the scalar cannot serialize
    fast = strawberry.Schema(query=Query, execution_context_class=PlainFieldsExecutionContext)
    reference = strawberry.Schema(query=Query)
    query = "{ items { name colour tags parts { name size } main { name size } } }"
    # when
    quick, slow = await fast.execute(query), await reference.execute(query)
    # then: the same data, and the same errors at the same paths
    assert quick.data == slow.data
    assert quick.data["items"][0] == {"name": "ok", "colour": "RED", "tags": ["a"], "parts": [{"name": "p", "size": 1}],
                                      "main": {"name": "m", "size": None}}
    assert quick.data["items"][1:] == [None] * 4 + [{"name": "w", "colour": "RED", "tags": [], "parts": [],
                                                      "main": {"name": "m", "size": None}}]
    assert sorted((e.message, tuple(e.path)) for e in quick.errors) == \
        sorted((e.message, tuple(e.path)) for e in slow.errors)
    assert len(quick.errors) == 5
