"""GraphQL error shaping: the REST codes in `extensions`, and nothing internal ever leaks.

Codes of errors that are not domain errors (documented in the README):
- `GRAPHQL_PARSE_FAILED`: the document does not parse (syntax, too many tokens, nested too deeply);
- `GRAPHQL_VALIDATION_FAILED`: it parses but does not fit the schema or its bounds (depth, aliases);
- `BAD_USER_INPUT`: the variables do not fit their declared types, or the operation type is not
  allowed on this transport;
- `INTERNAL_ERROR`: anything else; masked, logged at ERROR with the request id.
Only INTERNAL_ERROR is logged at ERROR: the others are the caller's mistakes and are logged at INFO.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import lru_cache
from typing import Any

import strawberry
from graphql.error import GraphQLError, GraphQLSyntaxError
from graphql.language import Lexer, OperationDefinitionNode, Source, TokenKind
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from resolvers.errors import DoccError, SubscriberLagged

log = logging.getLogger("docc.graphql")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
PARSE_FAILED, VALIDATION_FAILED, BAD_USER_INPUT, INTERNAL = (
    "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT", "INTERNAL_ERROR")
# The parser recurses once per nesting level of braces, brackets and parentheses: a document of a few
# thousand tokens could exhaust Python's stack. Far deeper than any real query (depth is bounded at 12).
MAX_DOCUMENT_NESTING = 64
# Mistakes in the request itself, not failures of the server.
_CLIENT_FAULTS = (CannotGetOperationTypeError, InvalidOperationTypeError)


def _request_id(context: Any) -> str | None:
    return getattr(context, "request_id", None)


def error_code(error: GraphQLError) -> str:
    """The stable code of a GraphQL error (see the module docstring)."""
    original = error.original_error
    if isinstance(original, DoccError):
        return original.code
    if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
        return PARSE_FAILED
    if original is None:
        return PARSE_FAILED if error.message.startswith("Syntax Error:") else VALIDATION_FAILED
    # graphql-core reports every variable coercion failure (wrong type, missing, unknown enum value,
    # out-of-range Int) before execution, without a path, as "Variable '$name' ...".
    if error.path is None and error.message.startswith("Variable '$"):
        return BAD_USER_INPUT
    if isinstance(original, _CLIENT_FAULTS):
        return BAD_USER_INPUT
    return INTERNAL


class DocumentRefused(DoccError):
    """A document refused on its tokens, before the parser sees it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@lru_cache(maxsize=256)
def _document_error(query: str, max_tokens: int) -> DocumentRefused | None:
    """Why `query` must not reach the parser, or None (also when it does not lex: the parser says why).

    Too deep a nesting would exhaust the recursive parser's stack; a NUL inside a string literal could
    not be stored by PostgreSQL (REST bodies and variables are refused the same way).
    """
    lexer, depth, tokens = Lexer(Source(query)), 0, 0
    try:
        token = lexer.advance()
        while token.kind is not TokenKind.EOF and tokens <= max_tokens:
            tokens += 1
            if token.kind in (TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L):
                depth += 1
                if depth > MAX_DOCUMENT_NESTING:
                    return DocumentRefused(PARSE_FAILED, "Syntax Error: Document nests more than "
                                                         f"{MAX_DOCUMENT_NESTING} levels deep.")
            elif token.kind in (TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R):
                depth -= 1
            elif token.kind in (TokenKind.STRING, TokenKind.BLOCK_STRING) and "\x00" in (token.value or ""):
                return DocumentRefused(BAD_USER_INPUT, "String values must not contain NUL characters.")
            token = lexer.advance()
    except GraphQLSyntaxError:
        return None
    return None


def _ambiguous(context: Any) -> bool:
    """Whether the document has several operations and the request named none of them."""
    document = context.graphql_document
    if document is None or getattr(context, "_provided_operation_name", None) is not None:
        return False
    return sum(isinstance(node, OperationDefinitionNode) for node in document.definitions) > 1


class ErrorCodes(MaskErrors):
    """Every error gets `extensions.code`; unexpected ones are masked as INTERNAL_ERROR.

    With `suggestions=False`, "Did you mean ...?" hints are cut from validation messages so a
    production schema cannot be guessed field by field.
    """

    suggestions = True

    def _process_result(self, result: object) -> None:
        # MaskErrors tests `isinstance(result, <runtime-checkable protocol>)`, which costs more than the rest
        # of a streamed message (it runs for every line sent to every follower): an attribute read does it.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        request_id = _request_id(self.execution_context.context)
        return [self._shape(error, request_id) for error in errors]

    def _shape(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        if error.extensions and "code" in error.extensions:
            return error  # already shaped (a refusal of the operation gate, or shaped twice)
        code = error_code(error)
        original = error.original_error
        extensions: dict[str, Any] = {"code": code}
        if isinstance(original, DoccError):
            message, extensions["details"] = original.message, original.details
            if isinstance(original, SubscriberLagged):
                extensions["cursor"] = original.cursor  # where the client resubscribes from
        elif code == INTERNAL:
            message = "Internal server error"
        else:
            message = error.message if self.suggestions else _SUGGESTION.sub("", error.message)
        extensions["request_id"] = request_id
        return GraphQLError(message=message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path, extensions=extensions)


class ErrorCodesWithoutSuggestions(ErrorCodes):
    suggestions = False


# Returns the operation's release (called once when it ends), or None when there is nothing to release.
OperationGate = Callable[[Any, Any, Any, Any], Awaitable[Callable[[], None] | None]]


async def _refused(error: DoccError, context: Any) -> AsyncIterator[PreExecutionError]:
    yield PreExecutionError(data=None, errors=[GraphQLError(error.message, extensions={
        "code": error.code, "details": error.details, "request_id": _request_id(context)})])


class _Releasing:
    """`stream`, then `release()` however it ends: exhausted, failed, closed, or cancelled by the client (an
    operation closed before it ever started still releases its place)."""

    def __init__(self, stream: Any, release: Callable[[], None]) -> None:
        self.stream, self.release = stream, release

    def __aiter__(self) -> _Releasing:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.stream.__anext__()
        except BaseException:
            self.release()
            raise

    async def aclose(self) -> None:
        self.release()
        if hasattr(self.stream, "aclose"):
            await self.stream.aclose()


class DoccSchema(strawberry.Schema):
    """Logs only unexpected failures, and lets the transport admit each streamed (websocket) operation.

    `operation_gate(context, query, variables, operation_name)` runs before every operation started through `stream`
    (both websocket protocols go through it); a DoccError it raises refuses that operation alone.
    """

    operation_gate: OperationGate | None = None

    async def stream(self, query: Any, variable_values: Any = None, context_value: Any = None,
                     root_value: Any = None, operation_name: Any = None, *args: Any, **kwargs: Any) -> Any:
        release = None
        if self.operation_gate is not None:
            try:
                release = await self.operation_gate(context_value, query, variable_values, operation_name)
            except DoccError as error:
                return _refused(error, context_value)
        try:
            result = await super().stream(query, variable_values, context_value, root_value, operation_name,
                                          *args, **kwargs)
        except BaseException:
            if release is not None:
                release()
            raise
        if release is None:
            return result
        if not hasattr(result, "__aiter__"):
            release()
            return result
        return _Releasing(result, release)

    async def subscribe(self, query: Any, variable_values: Any = None, context_value: Any = None,
                        root_value: Any = None, operation_name: Any = None, operation_extensions: Any = None
                        ) -> Any:
        # The legacy `graphql-ws` protocol sends queries and mutations through `subscribe` as well;
        # its clients expect them to run, as they do over `graphql-transport-ws`.
        return await self.stream(query, variable_values, context_value, root_value=root_value,
                                 operation_name=operation_name, operation_extensions=operation_extensions,
                                 allowed_operation_types=tuple(OperationType))

    async def _prepare_operation_async(self, context: Any, extensions_runner: Any) -> PreExecutionError | None:
        # Refused here, inside the extension lifecycle so that they get their code: documents the parser
        # must not see (see _document_error), and syntax errors, which the parser-cache extension raises
        # from outside Strawberry's own handling.
        max_tokens = context.parse_options.get("max_tokens") or 1 << 20
        refused = _document_error(context.query, max_tokens) if isinstance(context.query, str) else None
        if refused is not None:
            context.pre_execution_errors = [GraphQLError(refused.message, original_error=refused)]
            return PreExecutionError(data=None, errors=context.pre_execution_errors)
        try:
            prepared = await super()._prepare_operation_async(context, extensions_runner)
        except GraphQLError as error:
            context.pre_execution_errors = [error]
            return PreExecutionError(data=None, errors=[error])
        if prepared is None and _ambiguous(context):
            # Strawberry would run the first operation; the GraphQL specification makes this a request error.
            refused = DocumentRefused(BAD_USER_INPUT, "The document holds several operations: name one "
                                                      "with operationName")
            context.pre_execution_errors = [GraphQLError(refused.message, original_error=refused)]
            return PreExecutionError(data=None, errors=context.pre_execution_errors)
        return prepared

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        request_id = _request_id(getattr(execution_context, "context", None))
        for error in errors:
            code = error_code(error)
            if code == INTERNAL:
                log.error("Unexpected GraphQL error: %s", error.message, exc_info=error.original_error,
                          extra={"request_id": request_id})
            elif not isinstance(error.original_error, DoccError):
                log.info("GraphQL request refused (%s): %s", code, error.message, extra={"request_id": request_id})
