"""Subscription events shared by several followers: the result of a selection of plain fields is computed
once per (event, selection) and shared; anything else runs through graphql-core, with the same answers."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry

from schema.execution import PlainFieldsExecutionContext, SharedData


@strawberry.type
class Line:
    seq: int
    message: str
    note: str | None = None
    shared_results: strawberry.Private[dict[Any, Any]] = dataclasses.field(default_factory=dict)

    @strawberry.field
    def shout(self) -> str:
        return self.message.upper()


@strawberry.type
class End:
    code: int


Item = Annotated[Line | End, strawberry.union("Item")]


@strawberry.type
class Query:
    ping: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def items(self, info: strawberry.Info) -> AsyncGenerator[Item, None]:
        for item in info.context["items"]:
            yield item


SCHEMA = strawberry.Schema(query=Query, subscription=Subscription,
                           execution_context_class=PlainFieldsExecutionContext)
PLAIN = "subscription { items { __typename ... on Line { seq message } ... on End { code } } }"


async def follow(query: str, items: list[Any], variables: dict[str, Any] | None = None) -> list[Any]:
    stream = await SCHEMA.subscribe(query, variable_values=variables, context_value={"items": items})
    return [result async for result in stream]


async def test_followers_with_the_same_selection_share_one_result_per_event():
    # given two events shared by every follower, and the end
    items = [Line(seq=1, message="a"), Line(seq=2, message="b"), End(code=0)]
    # when two followers with the same selection (in two spellings of the document) read them
    one = await follow(PLAIN, items)
    two = await follow(PLAIN.replace(" ", "  "), items)
    # then both get the right data, a line's being the very same object
    expected = [{"items": {"__typename": "Line", "seq": 1, "message": "a"}},
                {"items": {"__typename": "Line", "seq": 2, "message": "b"}},
                {"items": {"__typename": "End", "code": 0}}]
    assert [result.data for result in one] == [result.data for result in two] == expected
    assert all(result.errors is None for result in one + two)
    assert one[0].data is two[0].data and isinstance(one[0].data, SharedData)
    assert not isinstance(one[2].data, SharedData)  # the end is not shared: executed as usual


async def test_another_selection_gets_its_own_result_with_aliases_and_fragments():
    # given a shared line
    items = [Line(seq=3, message="c", note="n")]
    # when followers select it differently
    [plain] = await follow(PLAIN, items)
    [aliased] = await follow("subscription { it: items { ... on Line { n: seq, note, kind: __typename } } }", items)
    # then each gets its own shape
    assert plain.data == {"items": {"__typename": "Line", "seq": 3, "message": "c"}}
    assert aliased.data == {"it": {"n": 3, "note": "n", "kind": "Line"}}
    assert aliased.data is not plain.data


async def test_variables_that_change_the_selection_change_the_result():
    # given a shared line and a selection whose note depends on a variable
    items = [Line(seq=4, message="d", note="kept")]
    query = "subscription ($with: Boolean!) { items { ... on Line { seq note @include(if: $with) } } }"
    # when one follower asks for the note and one does not
    [with_note] = await follow(query, items, {"with": True})
    [without] = await follow(query, items, {"with": False})
    # then each gets what it asked for
    assert with_note.data == {"items": {"seq": 4, "note": "kept"}}
    assert without.data == {"items": {"seq": 4}}


async def test_a_field_with_a_resolver_runs_through_graphql_core():
    # given a shared line
    items = [Line(seq=5, message="quiet")]
    # when a follower selects a computed field beside plain ones
    [result] = await follow("subscription { items { ... on Line { seq shout } } }", items)
    # then it is computed as usual
    assert result.data == {"items": {"seq": 5, "shout": "QUIET"}}
    assert result.errors is None


async def test_a_value_the_type_forbids_is_reported_as_graphql_core_reports_it():
    # given a shared line whose non-null message is missing
    items = [Line(seq=6, message=None)]  # type: ignore[arg-type]
    # when a follower selects it
    [result] = await follow(PLAIN, items)
    # then the error names the field, and nothing was shared
    assert result.data is None
    assert [error.message for error in result.errors] == ["Cannot return null for non-nullable field Line.message."]
    assert items[0].shared_results == {}
