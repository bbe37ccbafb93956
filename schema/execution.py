"""A faster road for plain leaf fields: graphql-core's full machinery only where it does something.

graphql-core executes every field of every object the same way: a resolve-info object, a path, argument
coercion, then completion by type. For a page of 100 datasets that is thousands of fields, and for most
of them (a name, a status, a list of tags) it amounts to reading an attribute and serializing a scalar.
This execution context does exactly that for fields that are plain attributes (Strawberry's basic
fields: no resolver, no permission, no arguments) returning a scalar, an enum or a list of them, with no
resolver middleware installed. Anything else, and any value that needs an error (a null where the type
forbids one, a value the scalar cannot serialize), takes graphql-core's own path, so answers and errors
are the same as without it.

Subscription events get one more shortcut (see `build_per_event_executor`): an event object that several
followers share (a live log line) and whose selection reads only plain fields has its result computed by
the first follower with that selection and reused by the others, so a line followed by a thousand sockets
is executed once per selection, not a thousand times.

And a road around the per-message machinery altogether (`direct_sink`): a websocket operation whose
selection is plain fields may hand its socket to the domain's fan-out, which writes the shared result's
frame to every such socket itself (see server/websockets.py and resolvers/job_fanout.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    OperationType,
    Undefined,
)
from graphql.execution.collect_fields import collect_fields
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

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


class SharedData(dict[str, Any]):
    """The `data` of a subscription event shared by its followers; a transport may keep its encoding in
    `encoded` (the same bytes for every follower). Read it, never change it."""

    __slots__ = ("encoded",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.encoded: bytes | None = None


class _EventPlan:
    """How to read one subscription's result from an event of one Python type: every selected field is a
    plain leaf (or `__typename`) of the event's object type, read and serialized directly."""

    __slots__ = ("fields", "key", "response_name")

    def __init__(self, response_name: str, object_type: GraphQLObjectType,
                 fields: tuple[tuple[str, Any, Any], ...]) -> None:
        self.response_name, self.fields = response_name, fields
        # Two operations with the same selection get the same result from the same event: they share it.
        self.key = (response_name, object_type, tuple((name, resolve) for name, resolve, _ in fields))

    def run(self, event: Any) -> SharedData | None:
        """The event's data, or None when a value needs graphql-core (to be reported as an error)."""
        row: dict[str, Any] = {}
        try:
            for name, resolve, plain in self.fields:
                value = plain if resolve is None else _value(plain, resolve(event, None))
                if value is Undefined:
                    return None
                row[name] = value
        except Exception:  # the full road reports it, located, as graphql-core would
            return None
        return SharedData({self.response_name: row})


    def result(self, event: Any) -> SharedData | None:
        """The event's data for this selection, computed once for every follower sharing the event (through
        its `shared_results`); None when graphql-core must produce it."""
        shared = event.shared_results
        data = shared.get(self.key)
        if data is None and (data := self.run(event)) is not None:
            shared[self.key] = data
        return data


# The subscription operation running in this task (set when its executor is built), and how its socket takes
# events directly (set by the websocket protocol handlers, per operation task): see `direct_sink`.
_SUBSCRIPTION: ContextVar[PlainFieldsExecutionContext | None] = ContextVar("docc_subscription", default=None)
SocketSinkFactory = Callable[[Any, Callable[[Any], SharedData | None]], Any]
SOCKET_SINK: ContextVar[SocketSinkFactory | None] = ContextVar("docc_socket_sink", default=None)


def direct_sink(event_type: type, event_of: Callable[[Any], Any]) -> Any:
    """A sink that writes this subscription's events of `event_type` (made from a domain object by
    `event_of`) straight to its socket, or None when they must go through the per-message machinery: not
    over a websocket, a selection that is not all plain fields, a middleware, a compressed socket."""
    executor, factory = _SUBSCRIPTION.get(), SOCKET_SINK.get()
    if executor is None or factory is None:
        return None
    plan = executor._event_plan(event_type)
    if plan is None:
        return None
    return factory(plan.key, lambda item: plan.result(event_of(item)))


class _Ready:
    """A per-event executor whose result is already known."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with plain leaf fields read and serialized directly."""

    def build_per_event_executor(self, payload: Any) -> Any:
        """Each event of a subscription: an event that carries `shared_results` (a dict shared by every
        follower of it) and whose selection is all plain fields gets its result from there, computed by
        the first follower with the same selection. Anything else is executed as usual."""
        if isinstance(getattr(payload, "shared_results", None), dict):
            plan = self._event_plan(type(payload))
            if plan is not None and (data := plan.result(payload)) is not None:
                return _Ready(ExecutionResult(data, None))
        return super().build_per_event_executor(payload)

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        built = super().build(*args, **kwargs)
        # A subscription's resolver runs in the task that built its executor: it finds it there.
        if isinstance(built, PlainFieldsExecutionContext) and built.operation.operation == OperationType.SUBSCRIPTION:
            _SUBSCRIPTION.set(built)
        return built

    def _event_plan(self, event_type: type) -> _EventPlan | None:
        """This operation's plan for events of `event_type` (decided once), None when it must execute."""
        plans: dict[type, _EventPlan | None] = self.__dict__.setdefault("_docc_event_plans", {})
        if event_type not in plans:
            plans[event_type] = self._make_event_plan(event_type)
        return plans[event_type]

    def _make_event_plan(self, event_type: type) -> _EventPlan | None:
        manager = self.middleware_manager
        root_type = self.schema.subscription_type
        if (manager is not None and manager.middlewares) or root_type is None:
            return None
        grouped = collect_fields(self.schema, self.fragments, self.variable_values, root_type, self.operation,
                                 self.hide_suggestions).grouped_field_set
        if len(grouped) != 1:
            return None
        response_name, details = next(iter(grouped.items()))
        field_def = root_type.fields.get(details[0].node.name.value)
        definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field_def else None
        # Strawberry resolves a subscription field's events as themselves: the event is the field's value.
        if field_def is None or not getattr(definition, "is_subscription", False):
            return None
        object_type = self._event_type(field_def, event_type)
        if object_type is None:
            return None
        collected = self.collect_subfields(object_type, details)
        if collected.new_defer_usages:
            return None
        fields: list[tuple[str, Any, Any]] = []
        for name, sub_details in collected.grouped_field_set.items():
            node = sub_details[0].node
            if node.name.value == "__typename":
                fields.append((name, None, object_type.name))
                continue
            sub_def = object_type.fields.get(node.name.value)
            plain = _plain(sub_def) if sub_def is not None and not node.arguments else None
            if plain is None:
                return None
            fields.append((name, sub_def.resolve, plain))  # type: ignore[union-attr]
        return _EventPlan(response_name, object_type, tuple(fields))

    def _event_type(self, field_def: GraphQLField, event_type: type) -> GraphQLObjectType | None:
        """The object type an event of `event_type` completes as: the one Strawberry made of that class."""
        kind = field_def.type
        if isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
        if isinstance(kind, GraphQLAbstractType):
            candidates = list(self.schema.get_possible_types(kind))
        elif isinstance(kind, GraphQLObjectType):
            candidates = [kind]
        else:
            return None
        found = [candidate for candidate in candidates
                 if getattr(candidate.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF), "origin", None)
                 is event_type]
        return found[0] if len(found) == 1 else None

    def execute_fields_serially(self, parent_type: GraphQLObjectType, source_value: Any, path: Any,
                                grouped_field_set: Any, position_context: Any) -> Any:
        """The fields of a mutation, one after the other, each with fresh DataLoaders: what one mutation
        loaded (a page of versions, a dataset) must not stand in for what a later one of the same request
        reads after its write."""
        context = self.context_value
        if len(grouped_field_set) < 2 or not hasattr(context, "fresh_loaders"):
            return super().execute_fields_serially(parent_type, source_value, path, grouped_field_set,
                                                   position_context)
        serially = super().execute_fields_serially

        async def each() -> dict[str, Any]:
            results: dict[str, Any] = {}
            for name, details in grouped_field_set.items():
                context.loaders = context.fresh_loaders()
                found = serially(parent_type, source_value, path, {name: details}, position_context)
                results.update(await found if self.is_awaitable(found) else found)
            return results
        return each()

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
