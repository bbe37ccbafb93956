"""custom_sql conditions: parsed by a real SQL parser (sqlglot), refused unless plainly read-only.

Two forms are accepted in `config.condition`:
- a boolean expression over the dataset's columns (`age >= 18 AND email IS NOT NULL`): a row where it
  is true passes, false fails, NULL counts as a null (neither);
- one `SELECT * FROM <name> WHERE <expression>` (the dbt convention): the rows it returns are the
  failing ones, so a row where the expression is true fails, false passes, NULL is a null. The table
  name stands for the dataset and is not looked up.

Anything else is refused, before any database sees it: several statements, any statement that is not
that SELECT, and any node outside a small whitelist (columns, literals, comparisons, AND/OR/NOT,
IN over literals, BETWEEN, IS, CASE, + - * ||, and the functions LENGTH, TRIM, ABS, COALESCE). The
whitelist is what keeps the counts equal on PostgreSQL, SQLite and Polars: LIKE (case-insensitive on
SQLite), division (integer on two engines, not on the third), casts and subqueries are left out. The
text is bounded (expressions.check_expression) before the parser sees it, and it is checked again
when the rule runs; on PostgreSQL it runs in a read-only transaction besides.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from ..errors import DataPlaneConfigError
from ..expressions import check_expression

_ALLOWED = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Neg,
    exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is,
    exp.In, exp.Between, exp.Case, exp.If, exp.Add, exp.Sub, exp.Mul, exp.DPipe,
    exp.Length, exp.Trim, exp.Abs, exp.Coalesce,
)
_SELECT_ARGS = {"expressions", "from_", "where"}


class SqlRefused(ValueError):
    """The condition is not one of the accepted read-only forms."""


@dataclass(frozen=True)
class Condition:
    """A checked condition: the expression that passes a row, and the columns it reads."""

    passing: exp.Expression
    columns: frozenset[str]

    def sql(self, dialect: str) -> str:
        """The passing condition in `dialect` ('postgres', 'sqlite'), every identifier quoted, without the
        text's comments (nothing a database reads comes from text the whitelist did not see)."""
        return self.passing.sql(dialect=dialect, identify=True, comments=False)

    def polars(self) -> str:
        """The passing condition for pl.sql_expr (Polars' SQL reads the PostgreSQL spelling)."""
        return self.passing.sql(dialect="postgres", identify=True, comments=False)


def _parse(text: object) -> exp.Expression:
    if not isinstance(text, str) or not text.strip():
        raise SqlRefused("the condition must be a non-empty string")
    try:
        check_expression(text, "condition")
    except DataPlaneConfigError as exc:
        raise SqlRefused(exc.reason) from None
    try:
        statements = [s for s in sqlglot.parse(text, read="postgres") if s is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, RecursionError) as exc:
        raise SqlRefused(f"the condition does not parse: {str(exc).splitlines()[0][:200]}") from None
    if len(statements) != 1:
        raise SqlRefused("the condition must be a single expression or a single SELECT")
    return statements[0]


def _where_of_select(select: exp.Select) -> exp.Expression:
    extra = sorted(k for k, v in select.args.items() if v and k not in _SELECT_ARGS)
    if extra:
        raise SqlRefused(f"only SELECT * FROM <dataset> WHERE <condition> is accepted (found {', '.join(extra)})")
    if [type(e) for e in select.expressions] != [exp.Star]:
        raise SqlRefused("the SELECT must select * (the rows it returns are the failing rows)")
    source = select.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table) or source.this.args.get("db"):
        raise SqlRefused("the SELECT must read one table, the dataset")
    where = select.args.get("where")
    if where is None:
        raise SqlRefused("the SELECT needs a WHERE clause naming the failing rows")
    return where.this


def parse_condition(text: object) -> Condition:
    """The checked condition of a custom_sql rule; raises SqlRefused with the reason."""
    tree = _parse(text)
    if isinstance(tree, exp.Select):
        passing: exp.Expression = exp.Not(this=exp.Paren(this=_where_of_select(tree).copy()))
    else:
        passing = tree  # Any statement other than the SELECT fails the whitelist walk below.
    columns: set[str] = set()
    for node in passing.walk():
        if not isinstance(node, _ALLOWED):
            if isinstance(node, exp.Func):
                name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
                raise SqlRefused(f"the function {name.upper()} is not allowed (allowed: LENGTH, TRIM, ABS, COALESCE)")
            raise SqlRefused(f"{type(node).__name__.upper()} is not allowed in a custom_sql condition")
        if isinstance(node, exp.Column):
            if node.table or node.args.get("db"):
                raise SqlRefused(f"column {node.sql()} must not be qualified by a table")
            columns.add(node.name)
        if isinstance(node, exp.In) and (node.args.get("query") or node.args.get("unnest")):
            raise SqlRefused("IN takes a list of literals, not a subquery")
    return Condition(passing, frozenset(columns))


def select_problem(text: object) -> str | None:
    """Why a custom_sql condition is refused, else None (no database is touched)."""
    try:
        parse_condition(text)
    except SqlRefused as exc:
        return str(exc)
    return None
