"""The emulator's SOQL parser: each construct of the subset, literals, and strict refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from simple_salesforce.format import format_soql, quote_soql_value

from alerter.sandbox.errors import SalesforceError
from alerter.sandbox.soql import (
    And,
    Comparison,
    DateLiteral,
    FieldPath,
    InList,
    Like,
    Not,
    Or,
    OrderItem,
    Query,
    SemiJoin,
    parse,
)


def where(condition: str) -> object:
    """The parsed WHERE of ``SELECT Id FROM Lead WHERE <condition>``."""
    return parse(f"SELECT Id FROM Lead WHERE {condition}").where


def value(literal: str) -> object:
    """The value of ``X = <literal>``."""
    condition = where(f"X = {literal}")
    assert isinstance(condition, Comparison)
    return condition.value


def malformed(soql: str) -> str:
    """The message of the MALFORMED_QUERY a query raises."""
    with pytest.raises(SalesforceError) as raised:
        parse(soql)
    assert (raised.value.error_code, raised.value.status) == ("MALFORMED_QUERY", 400)
    return raised.value.message


class TestSelect:
    def test_fields_and_object(self) -> None:
        """Fields keep their order and where they were written."""
        query = parse("SELECT Id, Name FROM Lead")
        assert query == Query(
            fields=(FieldPath(("Id",), 1, 8), FieldPath(("Name",), 1, 12)),
            source="Lead",
            line=1,
            column=22,
        )

    def test_keywords_are_case_insensitive(self) -> None:
        """select/from/where/order by/limit parse in any case; names stay as written."""
        query = parse("select id from lead where name = 'x' order by name desc nulls last limit 2")
        assert (query.source, query.limit) == ("lead", 2)
        assert query.order_by == (OrderItem(FieldPath(("name",), 1, 47), True, False),)

    def test_parent_paths(self) -> None:
        """Dotted paths of any depth are one field path."""
        query = parse("SELECT Owner.Name, Owner.Manager.Email FROM Lead")
        assert [f.parts for f in query.fields if isinstance(f, FieldPath)] == [
            ("Owner", "Name"),
            ("Owner", "Manager", "Email"),
        ]

    def test_child_subquery(self) -> None:
        """A subquery names a relationship and carries its own WHERE, ORDER BY and LIMIT."""
        query = parse(
            "SELECT Id, (SELECT Subject FROM Tasks WHERE Status = 'Open' "
            "ORDER BY CreatedDate DESC LIMIT 1) FROM Lead"
        )
        subquery = query.fields[1]
        assert subquery == Query(
            fields=(FieldPath(("Subject",), 1, 20),),
            source="Tasks",
            line=1,
            column=33,
            where=Comparison(FieldPath(("Status",), 1, 45), "=", "Open"),
            order_by=(OrderItem(FieldPath(("CreatedDate",), 1, 70), True, False),),
            limit=1,
        )

    def test_subqueries_do_not_nest(self) -> None:
        """A subquery inside a subquery is refused, as Salesforce refuses it."""
        message = malformed("SELECT (SELECT (SELECT Id FROM Tasks) FROM Tasks) FROM Lead")
        assert message.endswith("unexpected token: '('")

    @pytest.mark.parametrize(
        ("clause", "descending", "nulls_first"),
        [
            ("Name", False, True),
            ("Name ASC", False, True),
            ("Name DESC", True, False),
            ("Name DESC NULLS FIRST", True, True),
            ("Name NULLS LAST", False, False),
        ],
    )
    def test_order_by_defaults(self, clause: str, descending: bool, nulls_first: bool) -> None:
        """Nulls sort as the smallest value unless NULLS says otherwise."""
        (item,) = parse(f"SELECT Id FROM Lead ORDER BY {clause}").order_by
        assert (item.descending, item.nulls_first) == (descending, nulls_first)

    def test_several_order_keys(self) -> None:
        """ORDER BY lists keys in priority order."""
        query = parse("SELECT Id FROM Lead ORDER BY Status, CreatedDate DESC")
        assert [(o.field.text, o.descending) for o in query.order_by] == [
            ("Status", False),
            ("CreatedDate", True),
        ]

    def test_positions_across_lines(self) -> None:
        """Positions count rows and columns from 1, as Salesforce's errors do."""
        query = parse("SELECT Id,\n  Name\nFROM Lead")
        assert (query.fields[1], query.line, query.column) == (FieldPath(("Name",), 2, 3), 3, 6)


class TestWhere:
    @pytest.mark.parametrize(
        ("op", "parsed"), [("=", "="), ("!=", "!="), ("<>", "!="), ("<", "<"), ("<=", "<="),
                           (">", ">"), (">=", ">=")],
    )  # fmt: skip
    def test_comparison_operators(self, op: str, parsed: str) -> None:
        """Each comparison operator parses; ``<>`` is ``!=``."""
        assert where(f"Score__c {op} 5") == Comparison(FieldPath(("Score__c",), 1, 27), parsed, 5)

    def test_and_or_not_and_parentheses(self) -> None:
        """NOT binds tighter than AND; parentheses group an OR inside an AND."""
        condition = where("NOT A = 1 AND (B = 2 OR C = 3)")
        assert condition == And(
            (
                Not(Comparison(FieldPath(("A",), 1, 31), "=", 1)),
                Or(
                    (
                        Comparison(FieldPath(("B",), 1, 42), "=", 2),
                        Comparison(FieldPath(("C",), 1, 51), "=", 3),
                    )
                ),
            )
        )

    def test_mixing_and_with_or_needs_parentheses(self) -> None:
        """``a AND b OR c`` is refused at the OR, as in Salesforce."""
        message = malformed("SELECT Id FROM Lead WHERE A = 1 AND B = 2 OR C = 3")
        assert message == (
            "\nSELECT Id FROM Lead WHERE A = 1 AND B = 2 OR C = 3\n"
            "                                          ^\n"
            "ERROR at Row:1:Column:43\n"
            "unexpected token: 'OR'"
        )

    def test_keywords_are_whole_words(self) -> None:
        """A word that starts with a keyword is not that keyword followed by the rest."""
        assert malformed("SELECT Id FROM Lead WHERE A = 1 ANDY = 2").endswith(
            "unexpected token: 'ANDY'"
        )
        assert malformed("SELECT Id FROM Lead ORDER BY Name DESCRIPTION").endswith(
            "unexpected token: 'DESCRIPTION'"
        )

    def test_names_may_start_with_keywords(self) -> None:
        """Fields named Nothing__c, Order__c or Notes are names, wherever a name may stand."""
        query = parse("SELECT Notes FROM Lead WHERE NOT Nothing__c = 1 ORDER BY Order__c")
        assert query.where == Not(Comparison(FieldPath(("Nothing__c",), 1, 34), "=", 1))
        assert [o.field.text for o in query.order_by] == ["Order__c"]

    def test_in_and_not_in(self) -> None:
        """IN and NOT IN take a list of literals."""
        assert where("Status IN ('MQL', 'New')") == InList(
            FieldPath(("Status",), 1, 27), ("MQL", "New"), negated=False
        )
        assert where("Status NOT IN ('MQL')") == InList(
            FieldPath(("Status",), 1, 27), ("MQL",), negated=True
        )

    def test_empty_in_list_is_refused(self) -> None:
        """``IN ()`` is malformed."""
        assert malformed("SELECT Id FROM Lead WHERE Id IN ()").endswith("unexpected token: ')'")

    def test_like(self) -> None:
        """LIKE compiles ``%`` and ``_`` to wildcards and their escapes to literal characters."""
        assert where(r"Name LIKE 'a\_b%c_'") == Like(
            FieldPath(("Name",), 1, 27), r"a\_b%c_", r"a_b.*c."
        )

    def test_semi_join_and_anti_join(self) -> None:
        """``IN (SELECT ...)`` is a semi-join; ``NOT IN (SELECT ...)`` an anti-join."""
        inner = Query(
            fields=(FieldPath(("WhoId",), 1, 41),),
            source="Task",
            line=1,
            column=52,
            where=Comparison(FieldPath(("Status",), 1, 63), "=", "Open"),
        )
        condition = where("Id IN (SELECT WhoId FROM Task WHERE Status = 'Open')")
        assert condition == SemiJoin(FieldPath(("Id",), 1, 27), inner, negated=False)
        anti = where("Id NOT IN (SELECT WhoId FROM Task)")
        assert isinstance(anti, SemiJoin)
        assert (anti.negated, anti.query.source) == (True, "Task")

    def test_semi_join_selects_one_field(self) -> None:
        """A semi-join selects exactly one field."""
        message = malformed("SELECT Id FROM Lead WHERE Id IN (SELECT WhoId, Id FROM Task)")
        assert message.endswith("unexpected token: ','")


class TestLiterals:
    @pytest.mark.parametrize(
        ("literal", "parsed"),
        [("null", None), ("NULL", None), ("true", True), ("False", False), ("42", 42),
         ("-3", -3), ("2.5", 2.5), ("-0.25", -0.25)],
    )  # fmt: skip
    def test_scalars(self, literal: str, parsed: object) -> None:
        """null, booleans and numbers, keywords in any case."""
        assert value(literal) == parsed
        assert type(value(literal)) is type(parsed)

    def test_date(self) -> None:
        """A date literal is a date."""
        assert value("2026-12-01") == date(2026, 12, 1)

    @pytest.mark.parametrize(
        "literal",
        [
            "2026-12-01T14:03:00Z",
            "2026-12-01T19:03:00+05:00",
            "2026-12-01T09:03:00-0500",
            "2026-12-01T14:03:00.000+0000",
            "2026-12-01T14:03:00+00:00",
        ],
    )
    def test_datetimes_are_utc_instants(self, literal: str) -> None:
        """Every zone form gives the same UTC instant."""
        assert value(literal) == datetime(2026, 12, 1, 14, 3, tzinfo=UTC)

    def test_impossible_date(self) -> None:
        """A date that does not exist is malformed, located at the literal."""
        message = malformed("SELECT Id FROM Lead WHERE X = 2026-13-01")
        assert message.endswith("ERROR at Row:1:Column:31\ninvalid date/time value: '2026-13-01'")

    @pytest.mark.parametrize(
        ("literal", "parsed"),
        [
            ("TODAY", DateLiteral("TODAY")),
            ("yesterday", DateLiteral("YESTERDAY")),
            ("Tomorrow", DateLiteral("TOMORROW")),
            ("LAST_N_DAYS:7", DateLiteral("LAST_N_DAYS", 7)),
            ("n_days_ago:3", DateLiteral("N_DAYS_AGO", 3)),
            ("NEXT_N_DAYS:2", DateLiteral("NEXT_N_DAYS", 2)),
        ],
    )
    def test_date_literals(self, literal: str, parsed: DateLiteral) -> None:
        """Relative date literals parse in any case."""
        assert value(literal) == parsed

    @pytest.mark.parametrize(
        ("literal", "start", "end"),
        [
            (DateLiteral("TODAY"), date(2026, 12, 1), date(2026, 12, 2)),
            (DateLiteral("YESTERDAY"), date(2026, 11, 30), date(2026, 12, 1)),
            (DateLiteral("TOMORROW"), date(2026, 12, 2), date(2026, 12, 3)),
            (DateLiteral("LAST_N_DAYS", 1), date(2026, 11, 30), date(2026, 12, 2)),
            (DateLiteral("NEXT_N_DAYS", 2), date(2026, 12, 2), date(2026, 12, 4)),
            (DateLiteral("N_DAYS_AGO", 3), date(2026, 11, 28), date(2026, 11, 29)),
        ],
    )
    def test_day_ranges(self, literal: DateLiteral, start: date, end: date) -> None:
        """LAST_N_DAYS includes today, NEXT_N_DAYS starts tomorrow, N_DAYS_AGO is one day."""
        assert literal.day_range(date(2026, 12, 1)) == (start, end)

    @pytest.mark.parametrize(
        ("literal", "decoded"),
        [
            (r"'it\'s'", "it's"),
            (r"'say \"hi\"'", 'say "hi"'),
            (r"'back\\slash'", "back\\slash"),
            (r"'a\nb\rc\td\be\ff'", "a\nb\rc\td\be\ff"),
            (r"'100\%'", r"100\%"),
            (r"'a\_b'", r"a\_b"),
        ],
    )
    def test_string_escapes(self, literal: str, decoded: str) -> None:
        """Each SOQL escape decodes; ``\\%`` and ``\\_`` keep their backslash outside LIKE."""
        assert value(literal) == decoded

    def test_quoted_value_round_trips(self) -> None:
        """A value with a quote, backslash and newline, quoted by simple-salesforce, survives."""
        original = "O'Brien \\ co\nline two"
        assert value(quote_soql_value(original)) == original

    def test_like_value_round_trips(self) -> None:
        """simple-salesforce's LIKE escaping matches the value literally, wildcards and all."""
        condition = where(format_soql("Name LIKE '{:like}%'", "50%_off'"))
        assert isinstance(condition, Like)
        assert condition.regex == r"50%_off'.*"

    def test_illegal_escape(self) -> None:
        """A backslash before any other character is malformed, located at the backslash."""
        message = malformed(r"SELECT Id FROM Lead WHERE Name = 'a\qb'")
        assert message == (
            "\nSELECT Id FROM Lead WHERE Name = 'a\\qb'\n"
            "                                   ^\n"
            "ERROR at Row:1:Column:36\n"
            "Invalid string literal 'a\\qb'. Illegal character sequence '\\q' in string literal."
        )

    def test_unterminated_string(self) -> None:
        """A string without its closing quote is malformed."""
        assert malformed("SELECT Id FROM Lead WHERE Name = 'abc").endswith("unexpected token: '''")


class TestUnsupported:
    @pytest.mark.parametrize(
        ("soql", "token"),
        [
            ("SELECT COUNT() FROM Lead", "COUNT"),
            ("SELECT COUNT(Id) FROM Lead", "COUNT"),
            ("SELECT FIELDS(ALL) FROM Lead LIMIT 200", "FIELDS"),
            ("SELECT TYPEOF What WHEN Account THEN Name END FROM Task", "TYPEOF"),
            ("SELECT Status, COUNT(Id) FROM Lead GROUP BY Status", "COUNT"),
            ("SELECT Status FROM Lead GROUP BY Status", "GROUP"),
            ("SELECT Id FROM Lead HAVING Id != null", "HAVING"),
            ("SELECT Id FROM Lead LIMIT 10 OFFSET 10", "OFFSET"),
            ("SELECT Id FROM Lead WITH SECURITY_ENFORCED", "WITH"),
            ("SELECT Id FROM Lead FOR UPDATE", "FOR"),
            ("SELECT Id FROM Lead USING SCOPE Mine", "USING"),
            ("SELECT Id FROM Lead WHERE Status INCLUDES ('a')", "INCLUDES"),
            ("SELECT Id FROM Lead l", "l"),
            ("SELECT Id FROM Lead LIMIT 5 garbage", "garbage"),
            ("SELECT Id FROM Lead;", ";"),
            ("SELECT Id FROM Lead WHERE CreatedDate = THIS_WEEK", "THIS_WEEK"),
            ('SELECT Id FROM Lead WHERE Name = "x"', '"'),
        ],
    )
    def test_refused_with_the_offending_token(self, soql: str, token: str) -> None:
        """Constructs outside the subset are MALFORMED_QUERY naming the token, never ignored."""
        assert malformed(soql).endswith(f"unexpected token: '{token}'")

    def test_message_locates_the_token(self) -> None:
        """The message shows the query line, a caret and the row and column, as Salesforce does."""
        assert malformed("SELECT Status FROM Lead GROUP BY Status") == (
            "\nSELECT Status FROM Lead GROUP BY Status\n"
            "                        ^\n"
            "ERROR at Row:1:Column:25\n"
            "unexpected token: 'GROUP'"
        )

    def test_end_of_query(self) -> None:
        """A query that stops early is unexpected <EOF> just past its end."""
        assert malformed("SELECT Id FROM Lead WHERE ").endswith(
            "ERROR at Row:1:Column:26\nunexpected token: <EOF>"
        )

    def test_misspelt_keyword(self) -> None:
        """A misspelt SELECT is refused at the first word."""
        assert malformed("SELEC Id FROM Lead").endswith("unexpected token: 'SELEC'")
