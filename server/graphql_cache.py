"""Answers to GraphQL reads kept per app, valid exactly while the workspace's read generation is unchanged.

A query is answered from memory when every field it selects shows only rows whose writes bump the
workspace's read generation (database triggers, datasets migration 0005): datasets with their schema
history, tags and quality, pipelines with their versions, schedules and datasets, quality rules, results
and profiles. Jobs, logs, keys, clients and workspaces change constantly or are not covered: a query
selecting any of them is always executed, and so are mutations, subscriptions and batches.

The generation is read from the database on every request (one statement), so a write made by any
process is seen by the next read on every process. The key holds everything else the answer depends on:
the workspace, the scopes the credential holds (field permissions, masked samples), the negotiated media
type, the document, the operation name and the variables. Of the principal, resolvers and permission
checks read only the workspace and the scopes (the subject is read by writes alone), whatever kind of
credential it came from. Only answers without errors are kept: each error names the request it belongs
to (`request_id`), and one may come from a passing failure (a database timeout) that the next request
should not inherit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationType,
    get_named_type,
    parse,
)

from resolvers.principal import ADMIN_SCOPE, Principal
from server.auth.graphql_cost import field_occurrences, selected_operation
from server.edge.cache import LruCache

# As many as the REST list cache keeps: a page of 100 datasets is about 70 KB, so at most about 18 MB.
DEFAULT_CAPACITY = 256
# A larger answer is sent but not kept, so the cache stays within about 32 MB whatever clients ask.
MAX_ANSWER_BYTES = 128 * 1024

# The root fields whose answers a cache may keep: each reads only tables that bump the read generation.
ROOTS = frozenset({"dataset", "datasets", "pipeline", "pipelines", "qualityRule", "qualityRules",
                   "qualityResult", "qualityResults", "datasetProfile", "profileRun"})
# Fields with a resolver of their own below those roots that read only covered tables too. Plain
# attributes need no entry: they show what their parent's resolver loaded. Anything else is not cached.
RESOLVED = frozenset({("Dataset", "qualityRules"), ("Dataset", "latestQualityResults"),
                      ("Dataset", "schemaHistory"), ("Pipeline", "schedule"), ("Pipeline", "datasets"),
                      ("Pipeline", "versions")}
                     | {(f"{item}Connection", "nodes") for item in ("Dataset", "Pipeline", "PipelineVersion",
                                                                    "QualityRule", "QualityResult", "SchemaVersion")})
# Plain attributes computed from the clock when the object is built: never kept.
CLOCK = frozenset({("PipelineSchedule", "nextRuns"), ("QualityRuleSchedule", "nextRuns")})
TYPENAME = "__typename"


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    body: bytes
    content_type: str


def _is_plain(field_def: Any) -> bool:
    """Strawberry's resolver of a plain attribute (no resolver, no permission, no arguments)."""
    resolve = field_def.resolve
    return resolve is not None and getattr(resolve, "_is_default", False) and not field_def.args


def covered_fields(schema: GraphQLSchema) -> frozenset[tuple[str, str]]:
    """Every (type, field) a cacheable query may select: the allowed roots, and what they reach through
    plain attributes and the allowed resolvers, minus the clock's."""
    query = schema.query_type
    assert query is not None
    covered: set[tuple[str, str]] = set()
    pending = [get_named_type(query.fields[name].type) for name in ROOTS if name in query.fields]
    covered.update((query.name, name) for name in ROOTS if name in query.fields)
    seen: set[str] = set()
    while pending:
        kind = pending.pop()
        if kind.name in seen:
            continue
        seen.add(kind.name)
        if isinstance(kind, GraphQLUnionType | GraphQLInterfaceType):
            pending.extend(schema.get_possible_types(kind))
        if not isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            continue
        covered.add((kind.name, TYPENAME))
        for name, field_def in kind.fields.items():
            key = (kind.name, name)
            if key in CLOCK or not (_is_plain(field_def) or key in RESOLVED):
                continue
            covered.add(key)
            pending.append(get_named_type(field_def.type))
    return frozenset(covered)


@lru_cache(maxsize=256)
def _document(query: str, max_tokens: int) -> DocumentNode | None:
    try:
        return parse(query, max_tokens=max_tokens, no_location=True)
    except (GraphQLError, RecursionError):  # the schema reports it when the request runs
        return None


def scope_key(principal: Principal) -> str:
    """The scopes as the permission checks see them: `admin` holds every other one."""
    return ADMIN_SCOPE if ADMIN_SCOPE in principal.scopes else ",".join(sorted(principal.scopes))


class GraphQLCache:
    """The cached answers of one app, and which requests may use them."""

    def __init__(self, schema: GraphQLSchema, max_tokens: int, capacity: int = DEFAULT_CAPACITY) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.covered = covered_fields(schema)
        self.answers: LruCache[tuple[str, ...], CachedAnswer] = LruCache(capacity)
        # (document, operation name, variables) -> whether its answer may be kept.
        self._plans: LruCache[tuple[str, str, str], bool] = LruCache(capacity)
        # Keys whose answer a request is building now: the same request arriving meanwhile waits for it.
        self._building: dict[tuple[str, ...], asyncio.Future[None]] = {}

    async def lookup(self, key: tuple[str, ...]) -> tuple[CachedAnswer | None, bool]:
        """The kept answer of `key`, and whether the caller is to build it (then it must call `built`).

        While one request builds an answer, others with the same key wait for it instead of each building
        it again (right after a write, a page read by many clients at once is built once). A waiter whose
        builder kept nothing (the answer had errors, or the request was cancelled) builds its own.
        """
        found = self.answers.get(key)
        if found is not None:
            return found, False
        pending = self._building.get(key)
        if pending is None:
            self._building[key] = asyncio.get_running_loop().create_future()
            return None, True
        await asyncio.shield(pending)  # a waiter cancelled does not cancel the others' wait
        return self.answers.get(key), False

    def built(self, key: tuple[str, ...], answer: CachedAnswer | None) -> None:
        """End the build of `key`: keep its answer (None: nothing to keep) and wake the requests waiting."""
        if answer is not None and len(answer.body) <= MAX_ANSWER_BYTES:
            self.answers.put(key, answer)
        pending = self._building.pop(key, None)
        if pending is not None and not pending.done():
            pending.set_result(None)

    def request_key(self, principal: Principal, media: str, body: Any) -> tuple[str, ...] | None:
        """The key of a request's answer but for the generation, or None when it is not to be cached."""
        if not isinstance(body, dict) or body.get("extensions"):
            return None
        query, name, variables = body.get("query"), body.get("operationName"), body.get("variables")
        if not isinstance(query, str) or not (name is None or isinstance(name, str)) \
                or not (variables is None or isinstance(variables, dict)):
            return None
        try:
            canonical = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # past 64-bit integers: the schema refuses them when the request runs
            return None
        plan = (query, name or "", canonical)
        allowed = self._plans.get(plan)
        if allowed is None:
            allowed = self._allowed(query, name, variables or {})
            self._plans.put(plan, allowed)
        if not allowed:
            return None
        return (principal.workspace_id, scope_key(principal), media, *plan)

    def _allowed(self, query: str, name: str | None, variables: dict[str, Any]) -> bool:
        document = _document(query, self.max_tokens)
        if document is None:
            return False
        operation = selected_operation(document, name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return False
        selected = field_occurrences(self.schema, document, name, variables)
        return bool(selected) and all(key in self.covered for key in selected)
