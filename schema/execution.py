"""A faster road for plain leaf fields: graphql-core's full machinery only where it does something.

graphql-core executes every field of every object the same way: a resolve-info object, a path, argument
coercion, then completion by type. For a page of 100 datasets that is thousands of fields, and for most
of them (a name, a status, a list of tags) it amounts to reading an attribute and serializing a scalar.
This execution context does exactly that for fields that are plain attributes (Strawberry's basic
fields: no resolver, no permission, no arguments) returning a scalar, an enum or a list of them, with no
resolver middleware installed. Anything else, and any value that needs an error (a null where the type
forbids one, a value the scalar cannot serialize), takes graphql-core's own path, so answers and errors
are the same as without it.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# graphql-core field definition -> (serialize, item serialize or None, non-null) when it is a plain leaf,
# or None when it needs the full road; decided once per field of the schema.
_PLAIN: dict[int, tuple[Any, Any, bool] | None] = {}
_LEAF = (GraphQLScalarType, GraphQLEnumType)


def _plain(field_def: GraphQLField) -> tuple[Any, Any, bool] | None:
    key = id(field_def)
    if key in _PLAIN:
        return _PLAIN[key]
    found = None
    resolve = field_def.resolve
    # Strawberry marks the resolver of a basic field (a plain attribute, no extensions) `_is_default`.
    if resolve is not None and getattr(resolve, "_is_default", False) and not field_def.args \
            and resolve.__name__ == "_get_basic_result":
        kind, non_null = field_def.type, False
        if isinstance(kind, GraphQLNonNull):
            kind, non_null = kind.of_type, True
        if isinstance(kind, _LEAF):
            found = (kind.serialize, None, non_null)
        elif isinstance(kind, GraphQLList):
            item = kind.of_type
            if isinstance(item, GraphQLNonNull) and isinstance(item.of_type, _LEAF):
                found = (None, item.of_type.serialize, non_null)
    _PLAIN[key] = found
    return found


def _value(plain: tuple[Any, Any, bool], raw: Any) -> Any:
    """The serialized value, or Undefined when the full road must produce it (or its error)."""
    serialize, serialize_item, non_null = plain
    if raw is None:
        return Undefined if non_null else None
    if serialize is not None:
        out = serialize(raw)
        return Undefined if out is None else out
    if isinstance(raw, (str, bytes, dict)) or not hasattr(raw, "__iter__"):
        return Undefined
    items = [serialize_item(item) if item is not None else None for item in raw]
    return Undefined if any(item is None or item is Undefined for item in items) else items


def _plain_object(field_def: GraphQLField) -> tuple[GraphQLObjectType, bool, bool] | None:
    """(object type, is a list, non-null) for a plain attribute holding an object or a non-null list of them."""
    resolve = field_def.resolve
    if resolve is None or not getattr(resolve, "_is_default", False) or field_def.args \
            or resolve.__name__ != "_get_basic_result":
        return None
    kind, non_null, many = field_def.type, False, False
    if isinstance(kind, GraphQLNonNull):
        kind, non_null = kind.of_type, True
    if isinstance(kind, GraphQLList):
        if not isinstance(kind.of_type, GraphQLNonNull):
            return None
        kind, many = kind.of_type.of_type, True
    # A type with is_type_of (one that implements an interface) keeps graphql-core's check.
    if not isinstance(kind, GraphQLObjectType) or kind.is_type_of is not None:
        return None
    return kind, many, non_null


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with plain leaf fields read and serialized directly."""

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any, path: Any,
                       grouped_field_set: Any, position_context: Any) -> Any:
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        fields = parent_type.fields
        slow: dict[str, Any] = {}
        fast: dict[str, Any] = {}
        for response_name, details in grouped_field_set.items():
            node = details[0].node
            field_def = fields.get(node.name.value)
            plain = _plain(field_def) if field_def is not None and not node.arguments else None
            if plain is not None:
                try:
                    value = _value(plain, field_def.resolve(source_value, None))  # type: ignore[union-attr]
                except Exception:  # the full road reports it, located, as graphql-core would
                    value = Undefined
                if value is not Undefined:
                    fast[response_name] = value
                    continue
            elif field_def is not None and not node.arguments:
                value = self._plain_objects(field_def, details, source_value)
                if value is not Undefined:
                    fast[response_name] = value
                    continue
            slow[response_name] = details
        if not slow:
            return {name: fast[name] for name in grouped_field_set}
        if not fast:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        rest = super().execute_fields(parent_type, source_value, path, slow, position_context)
        if self.is_awaitable(rest):
            async def merged() -> dict[str, Any]:
                done = await rest
                return {name: fast[name] if name in fast else done[name] for name in grouped_field_set
                        if name in fast or name in done}
            return merged()
        return {name: fast[name] if name in fast else rest[name] for name in grouped_field_set
                if name in fast or name in rest}

    def _plain_objects(self, field_def: GraphQLField, details: Any, source: Any) -> Any:
        """An object (or list of objects) whose selected fields are all plain leaves, read directly; else Undefined."""
        shape = _plain_object(field_def)
        if shape is None:
            return Undefined
        object_type, many, non_null = shape
        collected = self.collect_subfields(object_type, details)
        if collected.new_defer_usages:
            return Undefined
        subfields = []
        for name, sub_details in collected.grouped_field_set.items():
            sub_node = sub_details[0].node
            sub_def = object_type.fields.get(sub_node.name.value)
            plain = _plain(sub_def) if sub_def is not None and not sub_node.arguments else None
            if plain is None:
                return Undefined
            subfields.append((name, sub_def.resolve, plain))
        try:
            raw = field_def.resolve(source, None)  # type: ignore[misc]
            if raw is None:
                return Undefined if non_null else None
            items = list(raw) if many else [raw]
            out = []
            for item in items:
                row = {}
                for name, resolve, plain in subfields:
                    value = _value(plain, resolve(item, None))
                    if value is Undefined:
                        return Undefined
                    row[name] = value
                out.append(row)
        except Exception:  # the full road reports it, located, as graphql-core would
            return Undefined
        return out if many else out[0]
