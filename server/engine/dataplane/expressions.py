"""Bounds on user expressions (pipeline filters, and anything later that takes one), applied before any parser.

Polars' SQL expression parser recurses without a limit: a filter of about 7,000 `OR` terms overflows
the native stack and kills the process with no Python exception to catch. So the text is measured
here first, with a scanner that never recurses, and refused past any of four limits: length,
tokens, operators and nesting depth. Every place that parses an expression goes through
`sql_expression`, at save time and again when a job runs (a row saved before the limits existed,
or written to the database by hand, is measured again before Polars sees it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import DataPlaneConfigError

if TYPE_CHECKING:
    import polars as pl

MAX_LENGTH = 4_096
MAX_TOKENS = 1_024
MAX_OPERATORS = 256
MAX_DEPTH = 32

# One alternative per token kind; the scanner is a single left-to-right pass over the text.
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*'?)
  | (?P<quoted>"(?:[^"]|"")*"?)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<open>[(\[])
  | (?P<close>[)\]])
  | (?P<symbol><=>|<>|!=|<=|>=|\|\||::|->>|->|[-+*/%=<>!~^&|#@])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)

# Keywords that combine or test operands: each is one level of the parser's recursion, as a symbol is.
_WORD_OPERATORS = frozenset({"and", "or", "not", "in", "is", "like", "ilike", "between", "similar", "regexp",
                             "rlike", "glob", "escape", "xor", "div", "case", "when", "cast"})


@dataclass(frozen=True)
class ExpressionSize:
    """What an expression measures against the limits."""

    length: int
    tokens: int
    operators: int
    depth: int


def measure(text: str) -> ExpressionSize:
    """Length, tokens, operators and deepest bracket nesting of `text` (it is not parsed)."""
    tokens = operators = depth = deepest = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "space":
            continue
        tokens += 1
        if kind == "open":
            depth += 1
            deepest = max(deepest, depth)
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "symbol" or (kind == "word" and match.group().lower() in _WORD_OPERATORS):
            operators += 1
    return ExpressionSize(len(text), tokens, operators, deepest)


def check_expression(text: str, field: str) -> None:
    """Raise DataPlaneConfigError naming the field and the limit when `text` is too large to parse safely."""
    if len(text) > MAX_LENGTH:
        # Refused on length alone: the scan below never runs on an oversized text.
        raise _too_large(field, f"longer than {MAX_LENGTH} characters ({len(text)})", "length")
    size = measure(text)
    if size.tokens > MAX_TOKENS:
        raise _too_large(field, f"more than {MAX_TOKENS} tokens ({size.tokens})", "tokens")
    if size.operators > MAX_OPERATORS:
        raise _too_large(field, f"more than {MAX_OPERATORS} operators ({size.operators})", "operators")
    if size.depth > MAX_DEPTH:
        raise _too_large(field, f"nested deeper than {MAX_DEPTH} levels ({size.depth})", "depth")


def _too_large(field: str, what: str, limit: str) -> DataPlaneConfigError:
    reason = f"Expression too large: {what}; limit '{limit}'"
    return DataPlaneConfigError(f"{field}: {reason}", field=field, reason=reason)


def sql_expression(text: str, field: str = "filter") -> pl.Expr:
    """The Polars expression of `text`, parsed only once it is within every bound; raises DataPlaneConfigError."""
    check_expression(text, field)
    import polars as pl  # Imported here: measuring a text needs no Polars, parsing it does.

    return pl.sql_expr(text)
