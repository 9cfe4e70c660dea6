"""Loading rule files: every problem is reported as ``path:line: field: message``.

Each test writes a valid rule (``RULE``) and ``calendars.yaml`` into ``tmp_path``, breaks one
thing, and asserts the exact error a marketing-ops author would read. The ``# n`` comments give
each line's number; edits that keep the line count keep them true.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerter.durations import Duration
from alerter.loader import RuleError, RuleSet, load_rules

CALENDARS = """\
calendars:                                          # 1
  us-sales:                                         # 2
    time_zone: America/New_York                     # 3
    hours:                                          # 4
      weekdays: "09:00-17:00"                       # 5
  eu-sales:                                         # 6
    time_zone: Europe/Berlin                        # 7
    hours:                                          # 8
      weekdays: "08:00-16:00"                       # 9
    holidays:                                       # 10
      country: DE                                   # 11
"""

RULE = """\
id: mql-first-touch                                 # 1
title: New MQL not touched within 1 business hour   # 2
object: Lead                                        # 3
where:                                              # 4
  - field: Status                                   # 5
    equals: MQL                                     # 6
  - field: IsConverted                              # 7
    equals: false                                   # 8
clock:                                              # 9
  starts_at:                                        # 10
    entered_status: MQL                             # 11
    otherwise: CreatedDate                          # 12
  touched_by:                                       # 13
    tasks: true                                     # 14
    events: true                                    # 15
sla: 1 business hour                                # 16
calendar: us-sales                                  # 17
warning:                                            # 18
  before: 15 minutes                                # 19
  to: owner                                         # 20
escalation:                                         # 21
  - to: owner                                       # 22
    repeat_every: 1 business hour                   # 23
  - after: 2 business hours                         # 24
    to: manager                                     # 25
    via: [slack, email]                             # 26
    template: escalation                            # 27
quiet_hours: calendar                               # 28
"""

API_NAME_HELP = (
    "is not a Salesforce API name (letters, digits and underscores, starting with a letter, "
    "e.g. MQL_Date__c or Owner.IsActive)"
)
RECIPIENT_HELP = (
    "write owner, manager, skip_level_manager, a Slack channel like #sales-leads or an email "
    "address"
)
OPERATORS = (
    "equals, not_equals, in, not_in, greater_than, at_least, less_than, at_most, starts_with, "
    "is_null, older_than, newer_than"
)


def edit(text: str, old: str, new: str) -> str:
    """``text`` with the one occurrence of ``old`` replaced (fails loudly if ``old`` is absent)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def replace_lines(text: str, first: int, last: int, new: str) -> str:
    """``text`` with lines ``first`` to ``last`` (1-based, inclusive) replaced by ``new``."""
    lines = text.splitlines(keepends=True)
    lines[first - 1 : last] = [new]
    return "".join(lines)


def rule(old: str = "", new: str = "", *, rule_id: str = "mql-first-touch") -> str:
    """The base rule, with one edit and another id if asked."""
    text = edit(RULE, "id: mql-first-touch", f"id: {rule_id}")
    return edit(text, old, new) if old else text


def load(folder: Path, calendars: str | None = CALENDARS, **files: str) -> RuleSet:
    """Write ``calendars.yaml`` and the rule files (``name_yaml=text``) into a folder; load it."""
    folder.mkdir(parents=True, exist_ok=True)
    if calendars is not None:
        (folder / "calendars.yaml").write_text(calendars, encoding="utf-8")
    for name, text in files.items():
        (folder / name.replace("_yaml", ".yaml")).write_text(text, encoding="utf-8")
    return load_rules([folder])


def errors(ruleset: RuleSet) -> list[str]:
    return [str(error) for error in ruleset.errors]


def ids(ruleset: RuleSet) -> list[str]:
    return [r.id for r in ruleset.rules]


class TestFixtures:
    def test_line_comments_are_true(self) -> None:
        """The ``# n`` comments in the fixtures match the real line numbers."""
        for text in (RULE, CALENDARS):
            for number, line in enumerate(text.splitlines(), 1):
                assert line.endswith(f"# {number}"), line


class TestValidRules:
    def test_base_rule_loads(self, tmp_path: Path) -> None:
        """The base rule loads without errors."""
        ruleset = load(tmp_path, mql_yaml=RULE)
        assert (ids(ruleset), errors(ruleset)) == (["mql-first-touch"], [])

    def test_values_are_parsed_once(self, tmp_path: Path) -> None:
        """Durations, calendars and recipients are typed at load time."""
        (loaded,) = load(tmp_path, mql_yaml=RULE).rules
        assert loaded.sla == Duration(timedelta(hours=1), business=True)
        assert loaded.calendar.name == "us-sales"
        assert [str(r) for r in loaded.escalation[1].to] == ["manager"]

    def test_calendars_are_loaded(self, tmp_path: Path) -> None:
        """Every calendar in calendars.yaml is available, used or not."""
        assert sorted(load(tmp_path, mql_yaml=RULE).calendars) == ["eu-sales", "us-sales"]

    def test_sources_point_at_lines(self, tmp_path: Path) -> None:
        """Later checks can point at a rule's lines through its source."""
        source = load(tmp_path, mql_yaml=RULE).sources["mql-first-touch"]
        assert (source.path, source.line_of(("escalation", 1, "to"))) == (tmp_path / "mql.yaml", 25)

    def test_explicit_files_use_the_calendars_beside_them(self, tmp_path: Path) -> None:
        """A rule file named on its own still finds calendars.yaml in its folder."""
        load(tmp_path, mql_yaml=RULE)
        ruleset = load_rules([tmp_path / "mql.yaml"])
        assert (ids(ruleset), errors(ruleset)) == (["mql-first-touch"], [])

    def test_yml_files_and_subfolders(self, tmp_path: Path) -> None:
        """``.yml`` files load too; sub-folders (such as rule tests) and other files do not."""
        load(tmp_path / "tests", calendars=None, mql_yaml="not: a rule\n")
        (tmp_path / "notes.txt").write_text("not: a rule\n", encoding="utf-8")
        (tmp_path / "other.yml").write_text(rule(rule_id="other"), encoding="utf-8")
        ruleset = load(tmp_path)
        assert (ids(ruleset), errors(ruleset)) == (["other"], [])

    def test_error_format(self) -> None:
        """An error prints as ``path:line: message``."""
        assert str(RuleError(Path("rules/a.yaml"), 3, "sla: boom")) == "rules/a.yaml:3: sla: boom"


class TestYamlErrors:
    def test_invalid_yaml(self, tmp_path: Path) -> None:
        """A second ``: `` in an unquoted title is reported on the title's line."""
        text = rule("title: New MQL not touched", "title: New MQL: not touched")
        ruleset = load(tmp_path, mql_yaml=text)
        path = tmp_path / "mql.yaml"
        assert errors(ruleset) == [
            f"{path}:2: invalid YAML: mapping values are not allowed here "
            "(a value containing ': ' needs quotes)"
        ]

    def test_unclosed_quote(self, tmp_path: Path) -> None:
        """An unclosed quote is reported where it opens, not at the last line of the file."""
        text = rule("title: New MQL not touched", 'title: "New MQL not touched')
        (error,) = load(tmp_path, mql_yaml=text).errors
        assert error.line == 2

    def test_duplicate_key(self, tmp_path: Path) -> None:
        """A repeated key is reported at its second occurrence."""
        text = rule(
            "sla: 1 business hour                                # 16\n", "sla: 1h\nsla: 2h\n"
        )
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [f"{tmp_path / 'mql.yaml'}:17: duplicate key 'sla'"]

    def test_duplicate_nested_key(self, tmp_path: Path) -> None:
        """A key repeated inside a tier is found too."""
        text = rule("    template: escalation", "    to: owner")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [f"{tmp_path / 'mql.yaml'}:27: duplicate key 'to'"]

    def test_list_instead_of_mapping(self, tmp_path: Path) -> None:
        """Two rules written as a YAML list are one file that is not a rule."""
        ruleset = load(tmp_path, mql_yaml="- id: a\n  title: A\n- id: b\n  title: B\n")
        message = "a rule file is a mapping of keys (id, title, object, ...)"
        assert errors(ruleset) == [f"{tmp_path / 'mql.yaml'}:1: {message}"]

    @pytest.mark.parametrize("text", ["", "# retired rule\n"])
    def test_empty_file(self, tmp_path: Path, text: str) -> None:
        """An empty (or comment-only) rule file is an error at line 1, not silently skipped."""
        ruleset = load(tmp_path, mql_yaml=text)
        message = "the file is empty; a rule file is a mapping of keys (id, title, object, ...)"
        assert errors(ruleset) == [f"{tmp_path / 'mql.yaml'}:1: {message}"]

    def test_unreadable_path(self, tmp_path: Path) -> None:
        """A rule file that does not exist is reported, not raised."""
        missing = tmp_path / "gone.yaml"
        (error,) = load_rules([missing]).errors
        assert (error.path, error.line, error.message) == (
            missing,
            1,
            "cannot read the file: No such file or directory",
        )


class TestUnknownKeys:
    def test_top_level_typo(self, tmp_path: Path) -> None:
        """``escalaton`` is reported on its line with the key it was meant to be."""
        ruleset = load(tmp_path, mql_yaml=rule("escalation:", "escalaton:"))
        path = tmp_path / "mql.yaml"
        assert f"{path}:21: unknown key 'escalaton' (did you mean 'escalation'?)" in errors(ruleset)

    def test_nested_typo(self, tmp_path: Path) -> None:
        """A misspelt key inside ``clock.touched_by`` names its parent and its line."""
        ruleset = load(tmp_path, mql_yaml=rule("    tasks: true", "    taks: true"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:14: clock.touched_by: unknown key 'taks' "
            "(did you mean 'tasks'?)"
        ]

    def test_nested_typo_in_flow_style(self, tmp_path: Path) -> None:
        """``touched_by: {taks: true}`` is reported on its one line."""
        text = replace_lines(RULE, 13, 15, "  touched_by: {taks: true}\n")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:13: clock.touched_by: unknown key 'taks' "
            "(did you mean 'tasks'?)"
        ]

    def test_typo_in_a_tier(self, tmp_path: Path) -> None:
        """A misspelt tier key is located by tier."""
        text = rule("    repeat_every: 1 business hour", "    repeat: 1 business hour")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:23: escalation[0]: unknown key 'repeat' "
            "(did you mean 'repeat_every'?)"
        ]

    def test_typo_in_a_condition(self, tmp_path: Path) -> None:
        """A misspelt operator is located by condition."""
        ruleset = load(tmp_path, mql_yaml=rule("    equals: MQL", "    eqals: MQL"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:6: where[0]: unknown key 'eqals' (did you mean 'equals'?)"
        ]

    def test_suggestion_is_not_the_key_itself(self, tmp_path: Path) -> None:
        """``calendars:`` in a rule suggests ``calendar``, not ``calendars`` again."""
        ruleset = load(tmp_path, mql_yaml=rule("calendar: us-sales", "calendars: us-sales"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:17: unknown key 'calendars' (did you mean 'calendar'?)"
        ]

    def test_suggestion_is_a_key_of_that_place(self, tmp_path: Path) -> None:
        """``before:`` in a tier is unknown there: the keys a tier takes are listed instead."""
        text = rule("    template: escalation", "    before: 10m")
        (error,) = load(tmp_path, mql_yaml=text).errors
        assert error.message == (
            "escalation[1]: unknown key 'before' "
            "(expected one of: after, repeat_every, template, to, via)"
        )

    def test_calendar_keys_are_not_suggested_in_rules(self, tmp_path: Path) -> None:
        """``timezone:`` in a rule must not send the author to ``time_zone``, a calendar key."""
        text = rule("quiet_hours: calendar", "timezone: America/New_York")
        (error,) = load(tmp_path, mql_yaml=text).errors
        assert "time_zone" not in error.message


class TestMissingKeys:
    def test_missing_top_level_key(self, tmp_path: Path) -> None:
        """A rule without ``sla`` says so at the top of the file."""
        text = rule("sla: 1 business hour                                # 16\n", "")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [f"{tmp_path / 'mql.yaml'}:1: missing key 'sla'"]

    def test_tier_without_recipient(self, tmp_path: Path) -> None:
        """A tier without ``to`` is reported at the tier's first line."""
        text = rule("    to: manager                                     # 25\n", "")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [f"{tmp_path / 'mql.yaml'}:24: escalation[1]: missing key 'to'"]

    def test_missing_nested_key(self, tmp_path: Path) -> None:
        """A clock without ``starts_at`` is reported at ``clock:``."""
        text = rule("  starts_at:", "  not_a_start:")
        ruleset = load(tmp_path, mql_yaml=text)
        path = tmp_path / "mql.yaml"
        assert f"{path}:9: clock: missing key 'starts_at'" in errors(ruleset)


class TestDurations:
    def test_bad_unit(self, tmp_path: Path) -> None:
        """``sla: 1 hourz`` names the unit and shows the right forms."""
        ruleset = load(tmp_path, mql_yaml=rule("sla: 1 business hour", "sla: 1 hourz"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:16: sla: bad duration '1 hourz': unknown unit 'hourz'; "
            "write e.g. 1h, 90m, 2d, '1h 30m' or '1 business hour'"
        ]

    def test_business_days(self, tmp_path: Path) -> None:
        """Business days are refused with the hours to write instead."""
        ruleset = load(tmp_path, mql_yaml=rule("sla: 1 business hour", "sla: 2 business days"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:16: sla: bad duration '2 business days': business time is "
            "counted in hours and minutes (write '16 business hours' for two 8-hour days)"
        ]

    def test_bad_duration_in_a_tier(self, tmp_path: Path) -> None:
        """A tier's bad ``after`` is located by tier."""
        text = rule("  - after: 2 business hours", "  - after: two hours")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:24: escalation[1].after: bad duration 'two hours': "
            "write e.g. 1h, 90m, 2d, '1h 30m' or '1 business hour'"
        ]

    def test_business_time_without_calendar(self, tmp_path: Path) -> None:
        """Every business-time duration of a rule with no calendar is reported on its line."""
        text = rule("calendar: us-sales", "digest: true")
        ruleset = load(tmp_path, mql_yaml=text)
        path = tmp_path / "mql.yaml"
        fix = "needs a calendar: add calendar: <name from calendars.yaml>"
        assert errors(ruleset) == [
            f"{path}:16: sla: 1 business hour {fix}",
            f"{path}:23: escalation[0].repeat_every: 1 business hour {fix}",
            f"{path}:24: escalation[1].after: 2 business hours {fix}",
        ]
        assert ids(ruleset) == []


class TestCalendars:
    def test_unknown_calendar(self, tmp_path: Path) -> None:
        """An unknown calendar lists the calendars there are."""
        ruleset = load(tmp_path, mql_yaml=rule("calendar: us-sales", "calendar: uk-sales"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:17: calendar: unknown calendar 'uk-sales' "
            "(calendars: eu-sales, us-sales)"
        ]

    def test_no_calendars_file(self, tmp_path: Path) -> None:
        """Without calendars.yaml the author is told none are defined."""
        ruleset = load(tmp_path, calendars=None, mql_yaml=RULE)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:17: calendar: unknown calendar 'us-sales' "
            "(calendars: none are defined)"
        ]

    def test_calendar_with_errors(self, tmp_path: Path) -> None:
        """A broken calendar is reported in calendars.yaml and at each rule that names it."""
        calendars = edit(CALENDARS, "Europe/Berlin", "Europe/Berlinn")
        ruleset = load(
            tmp_path,
            calendars=calendars,
            eu_yaml=rule("calendar: us-sales", "calendar: eu-sales", rule_id="eu"),
            us_yaml=rule(rule_id="us"),
        )
        assert errors(ruleset) == [
            f"{tmp_path / 'calendars.yaml'}:7: calendars.eu-sales.time_zone: unknown time zone "
            "'Europe/Berlinn'; use a name like America/New_York or Europe/Berlin",
            f"{tmp_path / 'eu.yaml'}:17: calendar: calendar 'eu-sales' has errors "
            "(see calendars.yaml)",
        ]
        assert ids(ruleset) == ["us"]

    def test_nested_calendar_typo(self, tmp_path: Path) -> None:
        """A misspelt holidays key is reported on its line."""
        calendars = edit(CALENDARS, "      country: DE", "      contry: DE")
        ruleset = load(tmp_path, calendars=calendars, mql_yaml=RULE)
        assert errors(ruleset) == [
            f"{tmp_path / 'calendars.yaml'}:11: calendars.eu-sales.holidays: unknown key "
            "'contry' (did you mean 'country'?)"
        ]

    def test_calendars_file_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        """calendars.yaml must hold ``calendars:``."""
        ruleset = load(tmp_path, calendars="- us-sales\n", mql_yaml=rule(rule_id="x"))
        path = tmp_path / "calendars.yaml"
        assert errors(ruleset)[0] == (
            f"{path}:1: calendars.yaml holds `calendars:`, a mapping of names to calendars"
        )

    def test_unknown_day_points_at_the_day(self, tmp_path: Path) -> None:
        """A misspelt day is reported on its own line."""
        calendars = edit(
            CALENDARS, '      weekdays: "08:00-16:00"', '      weekdayz: "08:00-16:00"'
        )
        ruleset = load(tmp_path, calendars=calendars, mql_yaml=RULE)
        (error,) = ruleset.errors
        assert error.line == 9

    def test_unparsable_calendars_file(self, tmp_path: Path) -> None:
        """A rule naming a calendar in a broken calendars.yaml points there, not at 'none'."""
        calendars = edit(CALENDARS, "  eu-sales:", "  us-sales:")  # a duplicate key
        ruleset = load(tmp_path, calendars=calendars, mql_yaml=RULE)
        rule_error = next(e for e in ruleset.errors if e.path.name == "mql.yaml")
        assert "none are defined" not in rule_error.message
        assert "calendars.yaml" in rule_error.message

    def test_top_level_typo(self, tmp_path: Path) -> None:
        """``calender:`` in calendars.yaml suggests ``calendars``."""
        calendars = CALENDARS + "calender: x\n"
        ruleset = load(tmp_path, calendars=calendars, mql_yaml=RULE)
        assert errors(ruleset) == [
            f"{tmp_path / 'calendars.yaml'}:12: unknown key 'calender' (did you mean 'calendars'?)"
        ]

    def test_impossible_holiday_date(self, tmp_path: Path) -> None:
        """``dates: [2026-02-30]`` is reported on its line; a rule naming a calendar of that
        file says the calendar is unavailable rather than unknown."""
        calendars = replace_lines(CALENDARS, 11, 11, "      dates: [2026-02-30]\n")
        ruleset = load(tmp_path, calendars=calendars, mql_yaml=RULE)
        assert [(e.path.name, e.line) for e in ruleset.errors] == [
            ("calendars.yaml", 11),
            ("mql.yaml", 17),
        ]
        assert ruleset.errors[1].message == (
            "calendar: calendar 'us-sales' is not available: calendars.yaml has errors"
        )


class TestDuplicateIds:
    def test_second_file_is_reported(self, tmp_path: Path) -> None:
        """The second file with an id is reported, naming the first; the first still loads."""
        ruleset = load(tmp_path, a_yaml=RULE, b_yaml="# copied from a.yaml\n" + RULE)
        assert errors(ruleset) == [
            f"{tmp_path / 'b.yaml'}:2: id: duplicate rule id 'mql-first-touch' "
            f"(also in {tmp_path / 'a.yaml'}:1)"
        ]
        assert ids(ruleset) == ["mql-first-touch"]
        assert ruleset.sources["mql-first-touch"].path == tmp_path / "a.yaml"

    def test_across_folders(self, tmp_path: Path) -> None:
        """Ids are unique across every folder loaded together."""
        load(tmp_path / "sales", mql_yaml=RULE)
        load(tmp_path / "marketing", calendars=None, mql_yaml=RULE)
        ruleset = load_rules([tmp_path / "sales", tmp_path / "marketing"])
        assert errors(ruleset) == [
            f"{tmp_path / 'marketing' / 'mql.yaml'}:1: id: duplicate rule id 'mql-first-touch' "
            f"(also in {tmp_path / 'sales' / 'mql.yaml'}:1)"
        ]


class TestTiersAndWarning:
    def test_tier_before_the_deadline(self, tmp_path: Path) -> None:
        """A negative ``after`` is refused, pointing to ``warning:``."""
        text = rule("  - after: 2 business hours", "  - after: -30m")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:24: escalation[1].after: this tier fires 30m before the SLA "
            "deadline; tiers count from the deadline (use warning: for notices before it)"
        ]
        assert ids(ruleset) == []

    def test_tiers_out_of_order(self, tmp_path: Path) -> None:
        """A tier that comes no later than the one before it is reported on its ``after``."""
        text = rule(
            "quiet_hours: calendar",
            "  - after: 1 business hour\n    to: '#sales-leadership'\nquiet_hours: calendar",
        )
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:28: escalation[2].after: this tier must come after the "
            "previous one (2 business hours past the deadline)"
        ]

    def test_tiers_at_the_same_time(self, tmp_path: Path) -> None:
        """Two tiers at the same moment are out of order too."""
        text = rule("  - after: 2 business hours", "  - after: 0m")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:24: escalation[1].after: this tier must come after the "
            "previous one (at the deadline)"
        ]

    def test_deadline_tier_after_a_later_tier(self, tmp_path: Path) -> None:
        """A tier at the deadline (no ``after``) listed after a later tier is out of order."""
        tiers = "  - after: 2 business hours\n    to: manager\n  - to: owner\n"
        text = replace_lines(RULE, 22, 27, tiers)  # tier 2 (the deadline) is on line 24
        ruleset = load(tmp_path, mql_yaml=text)
        assert [(e.line, e.message.split(":")[0]) for e in ruleset.errors] == [
            (24, "escalation[1].after")
        ]

    def test_warning_longer_than_the_sla(self, tmp_path: Path) -> None:
        """A warning earlier than the clock's start is reported on ``before``."""
        text = rule("  before: 15 minutes", "  before: 2 business hours")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:19: warning.before: 2 business hours before the deadline "
            "is at or before the clock start (the SLA is 1 business hour)"
        ]


class TestFieldsAndRecipients:
    def test_label_instead_of_api_name(self, tmp_path: Path) -> None:
        """A field label with a space is refused with an API-name example."""
        ruleset = load(tmp_path, mql_yaml=rule("  - field: Status", '  - field: "MQL Date"'))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:5: where[0].field: 'MQL Date' {API_NAME_HELP}"
        ]

    def test_label_in_a_touch_filter(self, tmp_path: Path) -> None:
        """Field names are checked inside ``touched_by`` filters too."""
        text = rule("    tasks: true", "    tasks: {where: [{field: Task Type, equals: Call}]}")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:14: clock.touched_by.tasks.where[0].field: "
            f"'Task Type' {API_NAME_HELP}"
        ]

    def test_unknown_recipient(self, tmp_path: Path) -> None:
        """A misspelt role is reported once, with the role it was meant to be."""
        ruleset = load(tmp_path, mql_yaml=rule("    to: manager", "    to: managr"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:25: escalation[1].to: unknown recipient 'managr' "
            f"(did you mean 'manager'?): {RECIPIENT_HELP}"
        ]

    def test_unknown_recipient_in_a_list(self, tmp_path: Path) -> None:
        """In a block list, the bad recipient's own line is given."""
        text = rule("    to: manager", "    to:\n      - owner\n      - Manager")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:27: escalation[1].to[1]: unknown recipient 'Manager' "
            f"(did you mean 'manager'?): {RECIPIENT_HELP}"
        ]

    def test_channel_in_upper_case(self, tmp_path: Path) -> None:
        """Slack channel names are lower case."""
        ruleset = load(tmp_path, mql_yaml=rule("    to: manager", "    to: '#Sales-Leads'"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:25: escalation[1].to: '#Sales-Leads' is not a Slack channel "
            "name (lower case, e.g. #sales-ops)"
        ]

    def test_two_operators(self, tmp_path: Path) -> None:
        """A condition with two operators is reported at the condition, naming both."""
        text = rule("    equals: MQL", "    equals: MQL\n    not_equals: SQL")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:5: where[0]: give exactly one operator for Status "
            f"(found equals, not_equals); operators: {OPERATORS}"
        ]


class TestIsolation:
    def test_bad_files_do_not_hide_each_other(self, tmp_path: Path) -> None:
        """Two broken files are both reported, and a third good file's rule loads."""
        ruleset = load(
            tmp_path,
            a_yaml=rule("title: New MQL not touched", "title: New: MQL", rule_id="a"),
            b_yaml=rule("sla: 1 business hour", "sla: 1 hourz", rule_id="b"),
            c_yaml=rule(rule_id="c"),
        )
        assert errors(ruleset) == [
            f"{tmp_path / 'a.yaml'}:2: invalid YAML: mapping values are not allowed here "
            "(a value containing ': ' needs quotes)",
            f"{tmp_path / 'b.yaml'}:16: sla: bad duration '1 hourz': unknown unit 'hourz'; "
            "write e.g. 1h, 90m, 2d, '1h 30m' or '1 business hour'",
        ]
        assert ids(ruleset) == ["c"]

    def test_good_rules_load_beside_bad_ones(self, tmp_path: Path) -> None:
        """Rules with cross-field problems are reported and left out; the others load."""
        ruleset = load(
            tmp_path,
            a_yaml=rule(rule_id="a"),
            b_yaml=rule("  before: 15 minutes", "  before: 0m", rule_id="b"),
            c_yaml=rule(rule_id="c"),
        )
        assert errors(ruleset) == [
            f"{tmp_path / 'b.yaml'}:19: warning.before: the warning must come before the deadline"
        ]
        assert ids(ruleset) == ["a", "c"]

    def test_all_errors_of_one_file(self, tmp_path: Path) -> None:
        """Several problems in one file are all reported, in line order."""
        text = rule("  - field: Status", "  - field: Lead Status")
        text = edit(text, "sla: 1 business hour", "sla: 1 hourz")
        text = edit(text, "    to: manager", "    to: managr")
        ruleset = load(tmp_path, mql_yaml=text)
        assert [e.line for e in ruleset.errors] == [5, 16, 25]

    def test_impossible_date_in_a_rule(self, tmp_path: Path) -> None:
        """A bad date in one rule is reported on its line and the other rules still load."""
        text = rule("    equals: MQL", "    equals: 2026-02-30")
        ruleset = load(tmp_path, a_yaml=rule(rule_id="a"), b_yaml=text)
        assert ([(e.path.name, e.line) for e in ruleset.errors], ids(ruleset)) == (
            [("b.yaml", 6)],
            ["a"],
        )


class TestPlainMessages:
    """pydantic's programmer wording is replaced by what an author can act on."""

    def test_operator_without_a_value(self, tmp_path: Path) -> None:
        """``equals:`` with nothing after it points to ``is_null``."""
        ruleset = load(tmp_path, mql_yaml=rule("    equals: MQL", "    equals:"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:5: where[0]: equals has no value; to match an empty field "
            "write is_null: true"
        ]

    def test_activity_signal_that_is_not_a_flag(self, tmp_path: Path) -> None:
        """``tasks: yes`` (a string in YAML 1.2) says what the key takes."""
        ruleset = load(tmp_path, mql_yaml=rule("    tasks: true", "    tasks: yes"))
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:14: clock.touched_by.tasks: write true, false, or where: "
            "with conditions on the activity"
        ]

    def test_quiet_window_time(self, tmp_path: Path) -> None:
        """A quiet window in 12-hour notation is refused with an example."""
        text = rule("quiet_hours: calendar", 'quiet_hours: {from: "8pm", to: "07:00"}')
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:28: quiet_hours.from: '8pm' is not a time of day; "
            'write e.g. "20:00"'
        ]

    def test_where_written_as_a_mapping(self, tmp_path: Path) -> None:
        """``where:`` must be a list of conditions."""
        text = replace_lines(RULE, 5, 8, "  field: Status\n  equals: MQL\n")
        ruleset = load(tmp_path, mql_yaml=text)
        assert errors(ruleset) == [f"{tmp_path / 'mql.yaml'}:4: where: expected a list"]


class TestResolved:
    def test_off_by_default(self, tmp_path: Path) -> None:
        """Without ``resolved:`` a rule sends no resolved message."""
        (loaded,) = load(tmp_path, mql_yaml=RULE).rules
        assert loaded.resolved is None

    def test_true_uses_the_resolved_template(self, tmp_path: Path) -> None:
        """``resolved: true`` sends the shipped ``resolved`` template."""
        (loaded,) = load(tmp_path, mql_yaml=RULE + "resolved: true\n").rules
        assert loaded.resolved is not None
        assert loaded.resolved.template == "resolved"

    def test_false_is_off(self, tmp_path: Path) -> None:
        """``resolved: false`` is the same as leaving it out."""
        (loaded,) = load(tmp_path, mql_yaml=RULE + "resolved: false\n").rules
        assert loaded.resolved is None

    def test_named_template(self, tmp_path: Path) -> None:
        """``resolved: {template: ...}`` names another template."""
        (loaded,) = load(tmp_path, mql_yaml=RULE + "resolved: {template: all-clear}\n").rules
        assert loaded.resolved is not None
        assert loaded.resolved.template == "all-clear"

    def test_not_a_flag(self, tmp_path: Path) -> None:
        """Anything else says what the key takes, at its line."""
        ruleset = load(tmp_path, mql_yaml=RULE + "resolved: maybe\n")
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:29: resolved: write true, false, or template: <name>"
        ]

    def test_misspelt_key(self, tmp_path: Path) -> None:
        """A misspelt key inside it gets a suggestion."""
        ruleset = load(tmp_path, mql_yaml=RULE + "resolved: {templat: all-clear}\n")
        assert errors(ruleset) == [
            f"{tmp_path / 'mql.yaml'}:29: resolved: unknown key 'templat' (did you mean "
            "'template'?)"
        ]
