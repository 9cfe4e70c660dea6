"""The SOQL subset the emulator answers, parsed strictly into a frozen AST.

The point of the emulator is to fail where Salesforce fails, so anything outside the subset
(``GROUP BY``, ``COUNT()``, ``TYPEOF``, ``OFFSET``, mixing AND with OR without parentheses, ...)
is a ``MALFORMED_QUERY`` naming the offending token rather than something silently ignored.
Names are kept as written; the org resolves them against its schema case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeAlias

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from alerter.records import parse_datetime
from alerter.sandbox.errors import SalesforceError, query_error

_GRAMMAR = r"""
start: query

query: _SELECT select_list _FROM NAME where? order_by? limit?
select_list: select_item ("," select_item)*
?select_item: field_path | subquery
subquery: "(" _SELECT field_list _FROM NAME where? order_by? limit? ")"
field_list: field_path ("," field_path)*
field_path: NAME ("." NAME)*

where: _WHERE condition
// SOQL refuses `a AND b OR c`: mixing needs parentheses, so a chain is all ANDs or all ORs.
?condition: operand
          | operand (_AND operand)+              -> all_of
          | operand (_OR operand)+               -> any_of
?operand: _NOT operand                          -> negation
        | "(" condition ")"
        | field_path COMPARATOR value           -> comparison
        | field_path _LIKE STRING               -> like
        | field_path _IN "(" values ")"         -> in_list
        | field_path _NOT _IN "(" values ")"    -> not_in_list
        | field_path _IN semi_join              -> semi_join_in
        | field_path _NOT _IN semi_join         -> anti_join_in
semi_join: "(" _SELECT field_path _FROM NAME where? ")"
values: value ("," value)*
value: STRING | NUMBER | DATETIME | DATE | DATE_N | DATE_WORD | NULL | TRUE | FALSE

order_by: _ORDER _BY order_item ("," order_item)*
order_item: field_path DIRECTION? (_NULLS NULLS_AT)?
limit: _LIMIT INT

// Keywords are whole words (`\b`) and outrank NAME, so `INCLUDES` is never `IN` + `CLUDES`.
_SELECT.2: /select\b/i
_FROM.2: /from\b/i
_WHERE.2: /where\b/i
_AND.2: /and\b/i
_OR.2: /or\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
_LIKE.2: /like\b/i
_ORDER.2: /order\b/i
_BY.2: /by\b/i
_NULLS.2: /nulls\b/i
_LIMIT.2: /limit\b/i
DIRECTION.2: /(asc|desc)\b/i
NULLS_AT.2: /(first|last)\b/i
NULL.2: /null\b/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i
DATE_WORD.2: /(today|yesterday|tomorrow)\b/i
DATE_N.2: /(last_n_days|n_days_ago|next_n_days):\d+\b/i
COMPARATOR: "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
DATETIME.3: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)\b/
DATE.2: /\d{4}-\d\d-\d\d\b/
NUMBER: /[+-]?\d+(\.\d+)?\b/
INT: /\d+\b/
STRING: /'(?:[^'\\]|\\[\s\S])*'/
NAME: /[a-z][a-z0-9_]*/i
%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)

# Words Salesforce knows but the emulator does not; an error just after one names it instead.
_UNSUPPORTED_WORDS = """TYPEOF COUNT COUNT_DISTINCT FIELDS GROUP HAVING OFFSET WITH FOR USING ROLLUP
CUBE FORMAT TOLABEL CONVERTCURRENCY CONVERTTIMEZONE SUM AVG MIN MAX INCLUDES EXCLUDES DISTANCE
GEOLOCATION CALENDAR_YEAR DAY_ONLY HOUR_IN_DAY"""
_UNSUPPORTED = frozenset(_UNSUPPORTED_WORDS.split())
_KEYWORDS = frozenset(["SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE"])
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class FieldPath:
    """A field or a parent path (``Owner.Manager.Email``), with where it was written."""

    parts: tuple[str, ...]
    line: int
    column: int

    @property
    def text(self) -> str:
        """The path as written."""
        return ".".join(self.parts)


@dataclass(frozen=True)
class DateLiteral:
    """A relative date (``TODAY``, ``LAST_N_DAYS:7``) that names a range of whole UTC days."""

    name: str
    n: int = 0

    def day_range(self, today: date) -> tuple[date, date]:
        """The days it covers, ``[start, end)``; LAST_N_DAYS includes today, NEXT_N_DAYS not."""
        one = timedelta(days=1)
        if self.name == "YESTERDAY":
            return today - one, today
        if self.name == "TOMORROW":
            return today + one, today + 2 * one
        if self.name == "LAST_N_DAYS":
            return today - self.n * one, today + one
        if self.name == "NEXT_N_DAYS":
            return today + one, today + (self.n + 1) * one
        if self.name == "N_DAYS_AGO":
            return today - self.n * one, today - (self.n - 1) * one
        return today, today + one


Value: TypeAlias = str | int | float | bool | date | datetime | DateLiteral | None


@dataclass(frozen=True)
class Comparison:
    """``field op value`` with op one of ``= != < <= > >=`` (``<>`` is read as ``!=``)."""

    field: FieldPath
    op: str
    value: Value


@dataclass(frozen=True)
class InList:
    """``field [NOT] IN (values)``."""

    field: FieldPath
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    """``field LIKE 'pattern'``; ``regex`` is the pattern compiled from the literal's escapes."""

    field: FieldPath
    pattern: str
    regex: str


@dataclass(frozen=True)
class SemiJoin:
    """``field [NOT] IN (SELECT f FROM Object WHERE ...)``: a semi-join or an anti-join."""

    field: FieldPath
    query: Query
    negated: bool


@dataclass(frozen=True)
class Not:
    """``NOT operand``."""

    operand: Condition


@dataclass(frozen=True)
class And:
    """Every operand holds."""

    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """Some operand holds."""

    operands: tuple[Condition, ...]


Condition: TypeAlias = Comparison | InList | Like | SemiJoin | Not | And | Or


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key; nulls come first unless told otherwise (last by default for DESC)."""

    field: FieldPath
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class Query:
    """A SELECT; in a child subquery ``source`` is a relationship name, else an object name."""

    fields: tuple[FieldPath | Query, ...]
    source: str
    line: int
    column: int
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None


def parse(soql: str) -> Query:
    """Parse a query of the subset, or raise ``MALFORMED_QUERY`` located at the offending token."""
    try:
        tree = _PARSER.parse(soql)
    except UnexpectedInput as exc:
        raise _syntax_error(soql, exc) from None
    return _Reader(soql).query(_child_tree(tree, 0))


def _syntax_error(soql: str, exc: UnexpectedInput) -> SalesforceError:
    """Name the token Salesforce would name: the unsupported word just before, if there is one."""
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        offset, token = len(soql.rstrip()), "<EOF>"
    elif isinstance(exc, UnexpectedToken):
        offset, token = exc.token.start_pos or 0, f"'{exc.token.value}'"
    elif isinstance(exc, UnexpectedCharacters):
        offset = exc.pos_in_stream or 0
        token = f"'{soql[offset]}'"
    else:  # pragma: no cover - lark raises only the two kinds above from parse()
        offset, token = 0, "<EOF>"
    start, word = _word_before(soql, offset)
    function_call = token == "'('" and word.upper() not in _KEYWORDS  # COUNT(, FIELDS(, ...
    if word and (word.upper() in _UNSUPPORTED or function_call):
        offset, token = start, f"'{word}'"
    line = soql.count("\n", 0, offset) + 1
    column = offset - (soql.rfind("\n", 0, offset) + 1) + 1
    return query_error("MALFORMED_QUERY", soql, line, column, f"unexpected token: {token}")


def _word_before(text: str, offset: int) -> tuple[int, str]:
    """The identifier ending just before ``offset`` (spaces skipped), with where it starts."""
    end = offset
    while end > 0 and text[end - 1].isspace():
        end -= 1
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return start, text[start:end]


def _child_tree(tree: Tree[Token], index: int) -> Tree[Token]:
    child = tree.children[index]
    assert isinstance(child, Tree)
    return child


class _Reader:
    """Turns lark's tree into the AST, decoding literals (and rejecting bad ones) on the way."""

    def __init__(self, soql: str) -> None:
        self._soql = soql

    def query(self, tree: Tree[Token]) -> Query:
        """A ``query``, ``subquery`` or ``semi_join`` node."""
        fields: list[FieldPath | Query] = []
        source: Token | None = None
        where: Condition | None = None
        order_by: tuple[OrderItem, ...] = ()
        limit: int | None = None
        for child in tree.children:
            if isinstance(child, Token):
                source = child
            elif child.data in ("select_list", "field_list"):
                fields.extend(self.select_item(item) for item in child.children)
            elif child.data == "field_path":
                fields.append(self.field_path(child))
            elif child.data == "where":
                where = self.condition(_child_tree(child, 0))
            elif child.data == "order_by":
                order_by = tuple(self.order_item(item) for item in child.children)
            elif child.data == "limit":
                limit = int(str(child.children[0]))
        assert source is not None
        line, column = source.line or 1, source.column or 1
        return Query(tuple(fields), str(source), line, column, where, order_by, limit)

    def select_item(self, item: Tree[Token] | Token) -> FieldPath | Query:
        assert isinstance(item, Tree)
        return self.field_path(item) if item.data == "field_path" else self.query(item)

    def field_path(self, tree: Tree[Token]) -> FieldPath:
        first = tree.children[0]
        assert isinstance(first, Token)
        parts = tuple(str(part) for part in tree.children)
        return FieldPath(parts, first.line or 1, first.column or 1)

    def order_item(self, tree: Tree[Token] | Token) -> OrderItem:
        assert isinstance(tree, Tree)
        descending, nulls_at = False, ""
        for child in tree.children[1:]:
            if isinstance(child, Token) and child.type == "DIRECTION":
                descending = child.upper() == "DESC"
            elif isinstance(child, Token):
                nulls_at = child.upper()
        nulls_first = nulls_at == "FIRST" if nulls_at else not descending
        return OrderItem(self.field_path(_child_tree(tree, 0)), descending, nulls_first)

    def condition(self, tree: Tree[Token]) -> Condition:
        kind = tree.data
        if kind in ("all_of", "any_of", "negation"):
            operands = tuple(
                self.condition(_child_tree(tree, i)) for i in range(len(tree.children))
            )
            if kind == "negation":
                return Not(operands[0])
            return And(operands) if kind == "all_of" else Or(operands)
        field = self.field_path(_child_tree(tree, 0))
        last = tree.children[-1]
        if kind == "comparison":
            op = str(tree.children[1])
            return Comparison(field, "!=" if op == "<>" else op, self.value(_child_tree(tree, 2)))
        if kind == "like":
            assert isinstance(last, Token)
            return Like(field, self.string(last), self.like_regex(last))
        if kind in ("in_list", "not_in_list"):
            assert isinstance(last, Tree)
            values = tuple(self.value(value) for value in last.children if isinstance(value, Tree))
            return InList(field, values, negated=kind == "not_in_list")
        assert isinstance(last, Tree)
        return SemiJoin(field, self.query(last), negated=kind == "anti_join_in")

    def value(self, tree: Tree[Token]) -> Value:
        token = tree.children[0]
        assert isinstance(token, Token)
        text, kind = str(token), token.type
        if kind == "STRING":
            return self.string(token)
        if kind == "NUMBER":
            return float(text) if "." in text else int(text)
        if kind in ("NULL", "TRUE", "FALSE"):
            return None if kind == "NULL" else kind == "TRUE"
        if kind == "DATE_WORD":
            return DateLiteral(text.upper())
        if kind == "DATE_N":
            name, _, n = text.partition(":")
            return DateLiteral(name.upper(), int(n))
        try:
            if kind == "DATE":
                return date.fromisoformat(text)
            moment = parse_datetime(text)
        except ValueError:
            moment = None
        if moment is None:
            raise self._error(token, 0, f"invalid date/time value: '{text}'")
        return moment.astimezone(UTC)

    def string(self, token: Token) -> str:
        """The literal's value; ``\\%`` and ``\\_`` keep their backslash, which only LIKE reads."""
        return "".join(char if escaped is None else escaped for char, escaped in self._chars(token))

    def like_regex(self, token: Token) -> str:
        """A regex for the LIKE pattern: ``%`` any run, ``_`` one character, escapes literal."""
        parts = []
        for char, escaped in self._chars(token):
            if escaped is not None:
                parts.append(re.escape(char))
            else:
                parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        return "".join(parts)

    def _chars(self, token: Token) -> list[tuple[str, str | None]]:
        """The literal's characters; for an escape, the character and its plain-value spelling."""
        raw = str(token)[1:-1]
        result: list[tuple[str, str | None]] = []
        index = 0
        while index < len(raw):
            char = raw[index]
            if char != "\\":
                result.append((char, None))
                index += 1
                continue
            code = raw[index + 1]
            if code in "%_":
                result.append((code, "\\" + code))
            elif code in _ESCAPES:
                result.append((_ESCAPES[code], _ESCAPES[code]))
            else:
                message = (
                    f"Invalid string literal '{raw}'. "
                    f"Illegal character sequence '\\{code}' in string literal."
                )
                raise self._error(token, index + 1, message)
            index += 2
        return result

    def _error(self, token: Token, offset: int, text: str) -> SalesforceError:
        return query_error(
            "MALFORMED_QUERY", self._soql, token.line or 1, (token.column or 1) + offset, text
        )
