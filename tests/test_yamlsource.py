"""YAML that keeps the line of every value, and types values the way rule authors expect."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from alerter.yamlsource import Document, YamlError, parse_yaml, read_yaml


def value(text: str) -> Any:
    """The value of ``v:`` in a one-line document."""
    return parse_yaml(f"v: {text}\n").data["v"]


def yaml_error(text: str) -> YamlError:
    with pytest.raises(YamlError) as info:
        parse_yaml(text)
    return info.value


class TestScalars:
    @pytest.mark.parametrize("text", ["no", "No", "NO", "yes", "on", "off", "On", "y", "n"])
    def test_yaml_11_booleans_stay_text(self, text: str) -> None:
        """A lead status called ``No`` must not become False."""
        assert value(text) == text

    @pytest.mark.parametrize("text", ["true", "True", "TRUE"])
    def test_true(self, text: str) -> None:
        """The YAML 1.2 spellings of true are booleans."""
        assert value(text) is True

    @pytest.mark.parametrize("text", ["false", "False", "FALSE"])
    def test_false(self, text: str) -> None:
        """The YAML 1.2 spellings of false are booleans."""
        assert value(text) is False

    def test_mixed_case_true_is_text(self) -> None:
        """``tRUE`` is not one of the boolean spellings."""
        assert value("tRUE") == "tRUE"

    @pytest.mark.parametrize("text", ["09:00", "9:00", "17:30", "1:30:00"])
    def test_times_are_not_sexagesimal(self, text: str) -> None:
        """``09:00`` stays a time of day, not the number 540."""
        assert value(text) == text

    @pytest.mark.parametrize("text", ["005", "00G", "0123", "0x1F", "0o17", "1_000"])
    def test_id_prefixes_and_odd_numbers_stay_text(self, text: str) -> None:
        """A Salesforce Id prefix like ``005`` is text, not the octal number 5."""
        assert value(text) == text

    @pytest.mark.parametrize(("text", "expected"), [("0", 0), ("42", 42), ("-15", -15), ("+3", 3)])
    def test_integers(self, text: str, expected: int) -> None:
        """Plain decimal integers are numbers."""
        assert value(text) == expected
        assert type(value(text)) is int

    @pytest.mark.parametrize(("text", "expected"), [("1.5", 1.5), ("-0.25", -0.25), (".5", 0.5)])
    def test_floats(self, text: str, expected: float) -> None:
        """Decimal fractions are numbers."""
        assert value(text) == expected

    @pytest.mark.parametrize("text", ["null", "~", ""])
    def test_null(self, text: str) -> None:
        """``null``, ``~`` and nothing at all are None."""
        assert value(text) is None

    def test_date(self) -> None:
        """An ISO date is a date (calendars list holidays this way)."""
        assert value("2026-12-24") == date(2026, 12, 24)

    def test_datetime(self) -> None:
        """An ISO datetime with a zone is an aware datetime."""
        assert value("2026-12-01T14:03:00Z") == datetime(2026, 12, 1, 14, 3, tzinfo=UTC)

    def test_quoted_true_is_text(self) -> None:
        """Quoting keeps any value as text."""
        assert value('"true"') == "true"


class TestLines:
    TEXT = (
        "id: demo\n"  # 1
        "clock:\n"  # 2
        "  starts_at:\n"  # 3
        "    field: CreatedDate\n"  # 4
        "escalation:\n"  # 5
        "  - to: owner\n"  # 6
        "  - after: 2h\n"  # 7
        "    to: [manager, '#sales']\n"  # 8
    )

    def test_data(self) -> None:
        """The data is plain dicts and lists."""
        assert parse_yaml(self.TEXT).data == {
            "id": "demo",
            "clock": {"starts_at": {"field": "CreatedDate"}},
            "escalation": [{"to": "owner"}, {"after": "2h", "to": ["manager", "#sales"]}],
        }

    @pytest.mark.parametrize(
        ("loc", "line"),
        [
            ((), 1),
            (("id",), 1),
            (("clock",), 2),
            (("clock", "starts_at"), 3),
            (("clock", "starts_at", "field"), 4),
            (("escalation",), 5),
            (("escalation", 0), 6),
            (("escalation", 0, "to"), 6),
            (("escalation", 1), 7),
            (("escalation", 1, "after"), 7),
            (("escalation", 1, "to"), 8),
            (("escalation", 1, "to", 1), 8),
        ],
    )
    def test_line_of_each_value(self, loc: tuple[str | int, ...], line: int) -> None:
        """A key's line is where the key is written, even when its value starts below it."""
        assert parse_yaml(self.TEXT).line_of(loc) == line

    def test_missing_key_points_at_its_parent(self) -> None:
        """A key that is not there is reported where it should have been written."""
        assert parse_yaml(self.TEXT).line_of(("escalation", 1, "via")) == 7

    def test_missing_top_level_key_points_at_line_one(self) -> None:
        """A missing top-level key has no better place than the top of the file."""
        assert parse_yaml(self.TEXT).line_of(("sla",)) == 1

    def test_block_sequence_items(self) -> None:
        """Each item of a block list has its own line."""
        document = parse_yaml("to:\n  - owner\n  - manager\n")
        assert [document.line_of(("to", i)) for i in (0, 1)] == [2, 3]

    def test_leading_comments_shift_lines(self) -> None:
        """Lines count from the top of the file, comments included."""
        document = parse_yaml("# a rule\n\nid: demo\n")
        assert document.line_of(("id",)) == 3

    def test_integer_keys_are_located_as_text(self) -> None:
        """A numeric key is recorded under its text so paths stay uniform."""
        document = parse_yaml("a:\n  1: x\n")
        assert document.data == {"a": {1: "x"}}
        assert document.line_of(("a", "1")) == 2


class TestEmpty:
    @pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
    def test_empty_document(self, text: str) -> None:
        """An empty document is None, located at line 1."""
        assert parse_yaml(text) == Document(None, {(): 1})


class TestDuplicateKeys:
    def test_top_level(self) -> None:
        """The second occurrence of a key is reported at its line."""
        error = yaml_error("id: a\ntitle: t\nid: b\n")
        assert (error.line, error.message) == (3, "duplicate key 'id'")

    def test_nested(self) -> None:
        """A key repeated inside a nested mapping is found too."""
        error = yaml_error("escalation:\n  - to: owner\n    via: slack\n    to: manager\n")
        assert (error.line, error.message) == (4, "duplicate key 'to'")

    def test_same_key_in_different_mappings_is_fine(self) -> None:
        """Two tiers may each have their own ``to``."""
        assert parse_yaml("- to: a\n- to: b\n").data == [{"to": "a"}, {"to": "b"}]

    def test_message_is_the_error_text(self) -> None:
        """The exception's text is the message, without the line (the loader adds path:line)."""
        assert str(yaml_error("a: 1\na: 2\n")) == "duplicate key 'a'"


class TestInvalidYaml:
    def test_colon_in_plain_value(self) -> None:
        """A second ``: `` on a line is reported on that line."""
        error = yaml_error("id: a\ntitle: New MQL: not touched\n")
        assert (error.line, error.message) == (
            2,
            "invalid YAML: mapping values are not allowed here "
            "(a value containing ': ' needs quotes)",
        )

    def test_tab_indentation(self) -> None:
        """A tab is reported on its line."""
        error = yaml_error("clock:\n  starts_at:\n\tfield: CreatedDate\n")
        assert error.line == 3
        assert error.message.startswith("invalid YAML: ")

    def test_bad_indentation(self) -> None:
        """A key indented too far is reported at the first line that cannot fit."""
        error = yaml_error("clock:\n  starts_at: x\n   field: y\n")
        assert error.line == 3
        assert error.message.startswith("invalid YAML: ")

    def test_complex_keys_are_refused(self) -> None:
        """A list as a key is not something a rule file needs."""
        error = yaml_error("? [1, 2]\n: x\n")
        assert (error.line, error.message) == (1, "invalid YAML: keys must be plain")

    def test_unclosed_quote_points_at_the_quote(self) -> None:
        """An unclosed quote is reported where it opens, not at the end of the file."""
        error = yaml_error('id: a\ntitle: "New MQL\nsla: 1h\nobject: Lead\n')
        assert error.line == 2

    def test_unclosed_bracket_points_at_the_bracket(self) -> None:
        """An unclosed ``[`` is reported on its own line, not on a line past the end."""
        error = yaml_error("id: a\nvia: [slack, email\n")
        assert error.line == 2

    def test_two_documents_message_is_a_sentence(self) -> None:
        """Two rules in one file say that a file holds a single document."""
        error = yaml_error("id: a\n---\nid: b\n")
        assert error.line == 2
        assert "single document" in error.message


class TestValuesPyYamlCannotBuild:
    """Values that compose fine but fail to construct must still be YamlErrors with a line."""

    def test_impossible_date(self) -> None:
        """``2026-02-30`` is reported at its line instead of crashing the load."""
        error = yaml_error("holidays:\n  dates: [2026-02-30]\n")
        assert error.line == 2

    def test_merge_key(self) -> None:
        """``<<: *anchor`` is reported at its line instead of crashing the load."""
        error = yaml_error("base: &b {to: owner}\ntier:\n  <<: *b\n")
        assert error.line == 3

    def test_unknown_tag(self) -> None:
        """A ``!tag`` is reported at its line instead of crashing the load."""
        error = yaml_error("id: a\ntitle: !secret x\n")
        assert error.line == 2


class TestReadYaml:
    def test_reads_a_file(self, tmp_path: Path) -> None:
        """A file is read as UTF-8 and parsed with its lines."""
        path = tmp_path / "rule.yaml"
        path.write_text("# café\nid: café\n", encoding="utf-8")
        document = read_yaml(path)
        assert document.data == {"id": "café"}
        assert document.line_of(("id",)) == 2
