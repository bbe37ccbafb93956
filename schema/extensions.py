"""GraphQL error shaping: the REST codes in `extensions`, and nothing internal ever leaks."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types.execution import PreExecutionError

from resolvers.errors import DoccError

log = logging.getLogger("docc.graphql")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _request_id(context: Any) -> str | None:
    return getattr(context, "request_id", None)


class ErrorCodes(MaskErrors):
    """Every error gets `extensions.code`; unexpected ones are masked as INTERNAL_ERROR.

    With `suggestions=False`, "Did you mean ...?" hints are cut from validation messages so a
    production schema cannot be guessed field by field.
    """

    suggestions = True

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        request_id = _request_id(self.execution_context.context)
        return [self._shape(error, request_id) for error in errors]

    def _shape(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        original = error.original_error
        if isinstance(original, DoccError):
            message, extensions = original.message, {"code": original.code, "details": original.details}
        elif original is None:
            message = error.message if self.suggestions else _SUGGESTION.sub("", error.message)
            extensions = {"code": "GRAPHQL_VALIDATION_FAILED"}
        else:
            message, extensions = "Internal server error", {"code": "INTERNAL_ERROR"}
        extensions["request_id"] = request_id
        return GraphQLError(message=message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path, extensions=extensions)


class ErrorCodesWithoutSuggestions(ErrorCodes):
    suggestions = False


OperationGate = Callable[[Any, Any, Any, Any], Awaitable[None]]


async def _refused(error: DoccError, context: Any) -> AsyncIterator[PreExecutionError]:
    yield PreExecutionError(data=None, errors=[GraphQLError(error.message, extensions={
        "code": error.code, "details": error.details, "request_id": _request_id(context)})])


class DoccSchema(strawberry.Schema):
    """Logs only unexpected failures, and lets the transport admit each streamed (websocket) operation.

    `operation_gate(context, query, variables, operation_name)` runs before every operation started through `stream`
    (both websocket protocols go through it); a DoccError it raises refuses that operation alone.
    """

    operation_gate: OperationGate | None = None

    async def stream(self, query: Any, variable_values: Any = None, context_value: Any = None,
                     root_value: Any = None, operation_name: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self.operation_gate is not None:
            try:
                await self.operation_gate(context_value, query, variable_values, operation_name)
            except DoccError as error:
                return _refused(error, context_value)
        return await super().stream(query, variable_values, context_value, root_value, operation_name,
                                    *args, **kwargs)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, DoccError):
                continue
            log.error("Unexpected GraphQL error: %s", error.message, exc_info=original,
                      extra={"request_id": _request_id(getattr(execution_context, "context", None))})
