"""The cost of a GraphQL document, computed before it runs and counted toward the rate limit.

Every field costs 1, and the selections under a paginated field (one with a `first` argument)
count once per requested item: `datasets(first: 100) { nodes { id name } }` costs
1 + 100 * (1 + 2) = 301. The request is charged ceil(cost / DOCC_GRAPHQL_COST_UNIT) requests,
at least 1 per operation, so a batch of N operations counts as at least N requests.

The mutation fields that start data-plane work (resolvers.scopes.BULK_OPERATIONS) are also counted
once per occurrence on the bulk budget, before anything runs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
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
from resolvers.scopes import BULK_OPERATIONS

# Where Strawberry keeps its own definition of a field on graphql-core's (the code's names, extensions).
DEFINITION_KEY = "strawberry-definition"

PAGE_ARGUMENT = "first"
MAX_INT = 2**31 - 1
# Costs stop growing here: far past any budget, and an integer every JSON reader takes exactly.
COST_CEILING = 2**53 - 1


class QueryTooComplex(DoccError):
    code = "QUERY_TOO_COMPLEX"


def _condition(node: Any, directive: str, variables: Mapping[str, Any]) -> bool | None:
    """The `if:` of a @skip or @include on the node: a literal or a boolean variable; None if absent or unsure."""
    for found in getattr(node, "directives", None) or ():
        if found.name.value != directive:
            continue
        for argument in found.arguments or ():
            value = argument.value
            if argument.name.value != "if":
                continue
            if isinstance(value, BooleanValueNode):
                return value.value
            if isinstance(value, VariableNode) and isinstance(variables.get(value.name.value), bool):
                return variables[value.name.value]
    return None


def _included(node: Any, variables: Mapping[str, Any]) -> bool:
    """False for a selection that @skip/@include leave out; unsure (an invalid use) means included."""
    return _condition(node, "skip", variables) is not True and _condition(node, "include", variables) is not False


class _Walker:
    """Walks a document with the schema's types. Each named fragment is walked once per type it is spread
    on and the result reused, so nested fragments spread many times cost linear time, not exponential."""

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any]) -> None:
        self.schema, self.fragments, self.variables = schema, fragments, variables
        self._costs: dict[tuple[str, str], int] = {}
        self._counts: dict[tuple[str, str], Counter[tuple[str, str]]] = {}

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

    def _fragment(self, node: FragmentSpreadNode, seen: frozenset[str]) -> tuple[FragmentDefinitionNode, Any] | None:
        fragment = self.fragments.get(node.name.value)
        if fragment is None or node.name.value in seen:  # validation reports these; do not loop
            return None
        return fragment, self.schema.get_type(fragment.type_condition.name.value)

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
            elif isinstance(node, FragmentSpreadNode) and (found := self._fragment(node, seen)):
                key = (node.name.value, getattr(parent, "name", ""))
                if key not in self._costs:
                    self._costs[key] = self.cost(found[0].selection_set, found[1], seen | {node.name.value})
                total = min(total + self._costs[key], COST_CEILING)
        return total

    def occurrences(self, selections: SelectionSetNode | None, parent: Any,
                    seen: frozenset[str]) -> Counter[tuple[str, str]]:
        """How many times each (type, field) is selected: aliases and every fragment spread counted."""
        found: Counter[tuple[str, str]] = Counter()
        for node in selections.selections if selections else ():
            if not _included(node, self.variables):
                continue
            if isinstance(node, FieldNode):
                field_def = (getattr(parent, "fields", None) or {}).get(node.name.value)
                found[(getattr(parent, "name", ""), node.name.value)] += 1
                if field_def is not None and node.selection_set is not None:
                    found.update(self.occurrences(node.selection_set, get_named_type(field_def.type), seen))
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                found.update(self.occurrences(node.selection_set, target, seen))
            elif isinstance(node, FragmentSpreadNode) and (spread := self._fragment(node, seen)):
                key = (node.name.value, getattr(parent, "name", ""))
                if key not in self._counts:
                    self._counts[key] = self.occurrences(spread[0].selection_set, spread[1],
                                                         seen | {node.name.value})
                found.update(self._counts[key])
        return found


def selected_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs: the one named, or the only one; None when that is ambiguous."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        return next((op for op in operations if op.name is not None and op.name.value == operation_name), None)
    return operations[0] if len(operations) == 1 else None


def field_occurrences(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                      variables: Any) -> Counter[tuple[str, str]]:
    """Every (type name, field name) the request's operation selects, with how many times it runs."""
    operation = selected_operation(document, operation_name)
    if operation is None:
        return Counter()
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walker = _Walker(schema, fragments, variables if isinstance(variables, dict) else {})
    root = {"query": schema.query_type, "mutation": schema.mutation_type,
            "subscription": schema.subscription_type}[operation.operation.value]
    return walker.occurrences(operation.selection_set, root, frozenset())


def python_name(schema: GraphQLSchema, type_name: str, field_name: str) -> str | None:
    """The name a field has in the code that declares it (Strawberry keeps it on the field definition)."""
    parent = schema.get_type(type_name)
    field_def = (getattr(parent, "fields", None) or {}).get(field_name)
    definition = (field_def.extensions or {}).get(DEFINITION_KEY) if field_def is not None else None
    return getattr(definition, "python_name", None)


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


def bulk_count(schema: GraphQLSchema, body: Any, max_tokens: int) -> int:
    """How many job-starting mutation fields (BULK_OPERATIONS) a GraphQL HTTP body runs, every occurrence
    counted: aliases, inline and named fragments, and each operation of a batch."""
    mutation = schema.mutation_type
    if mutation is None:
        return 0
    bulk = {name for name in mutation.fields if python_name(schema, mutation.name, name) in BULK_OPERATIONS}
    count = 0
    for operation in body if isinstance(body, list) else [body]:
        if not isinstance(operation, dict):
            continue
        document = _parsed(operation.get("query"), max_tokens)
        if document is None:
            continue
        name = operation.get("operationName")
        found = field_occurrences(schema, document, name if isinstance(name, str) else None,
                                  operation.get("variables"))
        count += sum(times for (parent, field), times in found.items() if parent == mutation.name and field in bulk)
    return count
