"""Every scope a mutation's selection needs is checked before any of its fields runs.

Field permissions alone are checked field by field while the operation executes, so a mutation
field would write first and a nested field of its result (the object it returns) would then fail
with FORBIDDEN. This extension walks the operation that is about to run (aliases, inline and named
fragments included) against the scopes the schema declares on its fields (`needs(...)`), and
refuses the whole operation with FORBIDDEN when one is missing: nothing has run yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from weakref import WeakKeyDictionary

from graphql import ExecutionResult, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.permission import PermissionExtension
from strawberry.types.graphql import OperationType

from resolvers.errors import Forbidden
from schema.permissions import HasScope
from server.auth.graphql_cost import DEFINITION_KEY, field_occurrences

FieldScopes = dict[tuple[str, str], tuple[str, ...]]
_DECLARED: WeakKeyDictionary[GraphQLSchema, FieldScopes] = WeakKeyDictionary()


def declared_scopes(schema: GraphQLSchema) -> FieldScopes:
    """(type name, field name) -> the scopes its permission declares, for every guarded field of the schema."""
    found = _DECLARED.get(schema)
    if found is None:
        found = {}
        for type_name, graphql_type in schema.type_map.items():
            for field_name, field_def in (getattr(graphql_type, "fields", None) or {}).items():
                definition = (getattr(field_def, "extensions", None) or {}).get(DEFINITION_KEY)
                scopes = tuple(permission.scope for extension in getattr(definition, "extensions", None) or ()
                               if isinstance(extension, PermissionExtension)
                               for permission in extension.permissions if isinstance(permission, HasScope))
                if scopes:
                    found[(type_name, field_name)] = scopes
        _DECLARED[schema] = found
    return found


def required_scopes(schema: GraphQLSchema, document: Any, operation_name: str | None,
                    variables: Any) -> list[str]:
    """The scopes the operation's selected fields declare, in the order they are first met."""
    declared = declared_scopes(schema)
    needed: dict[str, None] = {}
    for key in field_occurrences(schema, document, operation_name, variables):
        for scope in declared.get(key, ()):
            needed.setdefault(scope, None)
    return list(needed)


class CheckScopesFirst(SchemaExtension):
    """Refuses a mutation with FORBIDDEN, before it runs, when the caller lacks a scope its selection needs."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.operation_type is OperationType.MUTATION and context.graphql_document is not None \
                and not context.result:
            principal = getattr(context.context, "principal", None)
            for scope in required_scopes(context.schema._schema, context.graphql_document,
                                         context.operation_name, context.variables):
                if principal is None or not principal.has_scope(scope):
                    refusal = Forbidden(f"This operation needs the '{scope}' scope", {"required_scope": scope})
                    # A result set here replaces execution: no resolver of the operation runs.
                    context.result = ExecutionResult(data=None, errors=[
                        GraphQLError(refusal.message, original_error=refusal)])
                    break
        yield
