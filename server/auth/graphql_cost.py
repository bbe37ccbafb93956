"""The cost of a GraphQL document, computed before it runs and counted toward the rate limit.

Every field costs 1, and the selections under a paginated field (one with a `first` argument)
count once per requested item: `datasets(first: 100) { nodes { id name } }` costs
1 + 100 * (1 + 2) = 301. The request is charged ceil(cost / DOCC_GRAPHQL_COST_UNIT) requests,
at least 1 per operation, so a batch of N operations counts as at least N requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    parse,
)

from resolvers.errors import DoccError

PAGE_ARGUMENT = "first"
MAX_INT = 2**31 - 1
# Costs stop growing here: far past any budget, and an integer every JSON reader takes exactly.
COST_CEILING = 2**53 - 1
# Mutations that start data jobs: they also count on the bulk budget, as `POST /pipelines/{id}/run` does.
BULK_MUTATIONS = frozenset({"runPipeline", "retryJob"})


class QueryTooComplex(DoccError):
    code = "QUERY_TOO_COMPLEX"
    status = 400


class _Walker:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any]) -> None:
        self.schema, self.fragments, self.variables = schema, fragments, variables

    def _items(self, node: FieldNode, field_def: Any) -> int:
        if field_def is None or PAGE_ARGUMENT not in field_def.args:
            return 1
        for argument in node.arguments or ():
            if argument.name.value != PAGE_ARGUMENT:
                continue
            value = argument.value
            # A `first` past GraphQL's 32-bit Int is refused by validation; counting it as the
            # largest Int keeps the figure finite (the total saturates too, see `cost`).
            if isinstance(value, IntValueNode):
                return min(MAX_INT, max(1, int(value.value)))
            if isinstance(value, VariableNode) and isinstance(self.variables.get(value.name.value), int):
                return min(MAX_INT, max(1, self.variables[value.name.value]))
        default = field_def.args[PAGE_ARGUMENT].default_value
        return default if isinstance(default, int) else 1

    def cost(self, selections: SelectionSetNode | None, parent: Any, seen: frozenset[str]) -> int:
        total = 0
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                fields = getattr(parent, "fields", None) or {}
                field_def = fields.get(node.name.value)
                child = get_named_type(field_def.type) if field_def is not None else None
                total += 1 + self._items(node, field_def) * self.cost(node.selection_set, child, seen)
                total = min(total, COST_CEILING)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total = min(total + self.cost(node.selection_set, target, seen), COST_CEILING)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # validation reports these; do not loop
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                total = min(total + self.cost(fragment.selection_set, target, seen | {name}), COST_CEILING)
        return total


def _parsed(query: Any, max_tokens: int) -> Any:
    if not isinstance(query, str):
        return None
    try:
        return parse(query, max_tokens=max_tokens, no_location=True)
    except (GraphQLError, RecursionError):  # a document nested too deeply is refused by the schema
        return None


def document_cost(schema: GraphQLSchema, query: Any, variables: Any, max_tokens: int) -> int:
    """The field cost of one operation's document (0 when it does not parse: the executor reports that)."""
    document = _parsed(query, max_tokens)
    if document is None:
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walker = _Walker(schema, fragments, variables if isinstance(variables, dict) else {})
    roots = {"query": schema.query_type, "mutation": schema.mutation_type, "subscription": schema.subscription_type}
    return min(COST_CEILING, sum(walker.cost(d.selection_set, roots.get(d.operation.value), frozenset())
                                 for d in document.definitions if isinstance(d, OperationDefinitionNode)))


def request_cost(schema: GraphQLSchema, body: Any, max_tokens: int, max_cost: int, unit: int) -> int:
    """How many requests a GraphQL HTTP body counts as; raises QueryTooComplex past `max_cost`."""
    operations = body if isinstance(body, list) else [body]
    charged = 0
    for operation in operations:
        if not isinstance(operation, dict):
            charged += 1
            continue
        cost = document_cost(schema, operation.get("query"), operation.get("variables"), max_tokens)
        if cost > max_cost:
            raise QueryTooComplex(f"The query costs {cost}, more than the allowed {max_cost}",
                                  {"cost": cost, "max_cost": max_cost})
        charged += max(1, math.ceil(cost / unit))
    return charged


def bulk_count(body: Any, max_tokens: int) -> int:
    """How many job-starting mutations (BULK_MUTATIONS) a GraphQL HTTP body asks for."""
    count = 0
    for operation in body if isinstance(body, list) else [body]:
        document = _parsed(operation.get("query") if isinstance(operation, dict) else None, max_tokens)
        for definition in document.definitions if document is not None else ():
            if isinstance(definition, OperationDefinitionNode) and definition.operation.value == "mutation":
                count += sum(1 for node in definition.selection_set.selections
                             if isinstance(node, FieldNode) and node.name.value in BULK_MUTATIONS)
    return count
