"""Rule tests: example records, frozen moments and the expected state of each record.

The rule is the 1-business-hour MQL rule (due 16:00 EST for an MQL at 15:00 EST on Tuesday
2026-12-01; tier 2 on Wednesday 10:00 EST). Line numbers are counted in the YAML written here.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

from helpers import make_rule

from alerter.loader import RuleSet
from alerter.ruletests import find_test_files, run_rule_tests

RULES = RuleSet(rules=(make_rule(),))

RECORDS = """\
rule: mql-first-touch
records:
  Lead:
    - {Id: 00Q000000000001, Name: Ada, Status: MQL, IsConverted: false,
       OwnerId: "005000000000001", CreatedDate: "2026-12-01T20:00:00.000+0000"}
    - {Id: 00Q000000000002, Name: Bob, Status: Working, IsConverted: false,
       OwnerId: "005000000000001", CreatedDate: "2026-12-01T20:00:00.000+0000"}
cases:
"""  # the first case starts on line 9


def write(tmp_path: Path, cases: str, name: str = "mql.yaml", head: str = RECORDS) -> Path:
    """A rule test file: the shared records and the given cases (YAML, indented as a list)."""
    path = tmp_path / name
    path.write_text(head + textwrap.dedent(cases), encoding="utf-8")
    return path


class TestPassing:
    def test_good_file_passes(self, tmp_path: Path) -> None:
        """Correct expectations at exact boundaries give no failures and no errors."""
        path = write(
            tmp_path,
            """\
            - name: one second before the deadline
              at: 2026-12-01T15:59:59-05:00
              expect:
                00Q000000000001: warning
                00Q000000000002: out_of_scope
            - name: at the deadline
              at: 2026-12-01T21:00:00Z
              expect:
                00Q000000000001: breached tier 1
            - at: 2026-12-02T10:00:00-05:00
              expect:
                00Q000000000001: breached tier 2
            """,
        )
        report = run_rule_tests([path], RULES)
        assert report.failures == ()
        assert report.errors == ()
        assert report.checked == 4

    def test_breached_matches_any_tier(self, tmp_path: Path) -> None:
        """Plain "breached" is met at tier 1 and at tier 2."""
        path = write(
            tmp_path,
            """\
            - at: 2026-12-01T16:00:00-05:00
              expect: {00Q000000000001: breached}
            - at: 2026-12-02T10:00:00-05:00
              expect: {00Q000000000001: breached}
            """,
        )
        report = run_rule_tests([path], RULES)
        assert report.failures == ()
        assert report.checked == 2

    def test_breached_without_a_tier(self, tmp_path: Path) -> None:
        """A breach before the first tier is "breached", and "breached tier 1" is not met yet."""
        rules = RuleSet(
            rules=(make_rule(escalation=[{"after": "30 business minutes", "to": "owner"}]),)
        )
        path = write(
            tmp_path,
            """\
            - at: 2026-12-01T16:00:00-05:00
              expect: {00Q000000000001: breached}
            - at: 2026-12-01T16:00:00-05:00
              expect: {00Q000000000001: breached tier 1}
            """,
        )
        report = run_rule_tests([path], rules)
        assert [(f.expected, f.actual) for f in report.failures] == [
            ("breached tier 1", "breached")
        ]

    def test_several_files(self, tmp_path: Path) -> None:
        """Every file is run and the expectations are counted together."""
        cases = """\
            - at: 2026-12-01T16:00:00-05:00
              expect: {00Q000000000001: breached, 00Q000000000002: out_of_scope}
            """
        files = [write(tmp_path, cases, "a.yaml"), write(tmp_path, cases, "b.yaml")]
        report = run_rule_tests(files, RULES)
        assert report.checked == 4
        assert report.failures == ()


class TestFailures:
    def test_wrong_expectation_is_reported_at_its_line(self, tmp_path: Path) -> None:
        """A wrong expectation gives a Failure pointing at the expectation's line."""
        path = write(
            tmp_path,
            """\
            - name: at the deadline
              at: 2026-12-01T16:00:00-05:00
              expect:
                00Q000000000002: out_of_scope
                00Q000000000001: not_due
            """,
        )
        report = run_rule_tests([path], RULES)
        (failure,) = report.failures
        assert report.checked == 2
        assert failure.path == path
        assert failure.line == 13
        assert failure.case == "at the deadline"
        assert failure.at == datetime(2026, 12, 1, 16, 0, tzinfo=timezone(timedelta(hours=-5)))
        assert failure.rule_id == "mql-first-touch"
        assert failure.record_id == "00Q000000000001"
        assert failure.expected == "not_due"
        assert failure.actual == "breached tier 1"
        assert "due Tue 01 Dec 16:00 EST" in failure.why

    def test_failure_text_shows_expected_and_actual(self, tmp_path: Path) -> None:
        """The printed failure names the place and shows the two states as a diff."""
        path = write(
            tmp_path,
            """\
            - at: 2026-12-01T15:59:59-05:00
              expect: {00Q000000000001: breached}
            """,
        )
        (failure,) = run_rule_tests([path], RULES).failures
        text = str(failure)
        assert text.startswith(f"FAIL {path}:10: case 1 (at 2026-12-01T15:59:59-05:00)")
        assert "  - expected: breached\n" in text
        assert "  + actual:   warning\n" in text

    def test_exact_tier_must_match(self, tmp_path: Path) -> None:
        """ "breached tier 2" is not met at tier 1, nor "breached tier 1" at tier 2."""
        path = write(
            tmp_path,
            """\
            - at: 2026-12-02T09:59:59-05:00
              expect: {00Q000000000001: breached tier 2}
            - at: 2026-12-02T10:00:00-05:00
              expect: {00Q000000000001: breached tier 1}
            """,
        )
        report = run_rule_tests([path], RULES)
        assert [(f.line, f.expected, f.actual) for f in report.failures] == [
            (10, "breached tier 2", "breached tier 1"),
            (12, "breached tier 1", "breached tier 2"),
        ]

    def test_breached_is_not_a_prefix_of_other_states(self, tmp_path: Path) -> None:
        """ "warning" is not met by a breach, though the words share no tier suffix."""
        path = write(
            tmp_path,
            """\
            - at: 2026-12-01T16:00:00-05:00
              expect: {00Q000000000001: warning}
            """,
        )
        (failure,) = run_rule_tests([path], RULES).failures
        assert failure.actual == "breached tier 1"

    def test_expected_out_of_scope_but_in_scope(self, tmp_path: Path) -> None:
        """A record the rule watches fails an out_of_scope expectation."""
        path = write(
            tmp_path,
            """\
            - at: 2026-12-01T15:00:00-05:00
              expect: {00Q000000000001: out_of_scope}
            """,
        )
        (failure,) = run_rule_tests([path], RULES).failures
        assert failure.actual == "not_due"

    def test_out_of_scope_record_expected_in_a_state(self, tmp_path: Path) -> None:
        """A record outside the rule's scope, or missing altogether, is out_of_scope."""
        path = write(
            tmp_path,
            """\
            - at: 2026-12-01T15:00:00-05:00
              expect: {00Q000000000002: not_due, 00Q000000000009: not_due}
            """,
        )
        failures = run_rule_tests([path], RULES).failures
        assert [(f.record_id, f.actual, f.why) for f in failures] == [
            ("00Q000000000002", "out_of_scope", "not in the rule's scope"),
            ("00Q000000000009", "out_of_scope", "not in the rule's scope"),
        ]


class TestFileErrors:
    def test_unknown_rule_id(self, tmp_path: Path) -> None:
        """A test for a rule that did not load is an error at the ``rule:`` line."""
        path = write(
            tmp_path,
            """\
            - at: 2026-12-01T16:00:00-05:00
              expect: {00Q000000000001: breached}
            """,
            head=RECORDS.replace("rule: mql-first-touch", "# a comment\nrule: mql-frist-touch"),
        )
        report = run_rule_tests([path], RULES)
        assert report.checked == 0
        assert [str(e) for e in report.errors] == [
            f"{path}:2: rule: no valid rule with id 'mql-frist-touch' (see alerter check)"
        ]

    def test_bad_expectation_word(self, tmp_path: Path) -> None:
        """An unknown state word is an error at its line, naming the words allowed."""
        path = write(
            tmp_path,
            """\
            - at: 2026-12-01T16:00:00-05:00
              expect:
                00Q000000000001: late
            """,
        )
        report = run_rule_tests([path], RULES)
        (error,) = report.errors
        assert error.path == path
        assert error.line == 11
        assert str(error).startswith(f"{path}:11: cases[0].expect.00Q000000000001: ")
        assert "unknown expectation 'late'" in error.message
        assert "breached tier N" in error.message
        assert report.checked == 0

    def test_tier_only_after_breached(self, tmp_path: Path) -> None:
        """Only a breach has a tier, so "warning tier 2" is a file error, not a failure."""
        path = write(
            tmp_path,
            """\
            - at: 2026-12-01T15:50:00-05:00
              expect: {00Q000000000001: warning tier 2}
            """,
        )
        report = run_rule_tests([path], RULES)
        assert [e.line for e in report.errors] == [10]

    def test_naive_at(self, tmp_path: Path) -> None:
        """A moment without a time zone is an error at the ``at:`` line."""
        path = write(
            tmp_path,
            """\
            - name: fine
              at: 2026-12-01T16:00:00-05:00
              expect: {00Q000000000001: breached}
            - name: naive
              at: 2026-12-01T16:00:00
              expect: {00Q000000000001: breached}
            """,
        )
        report = run_rule_tests([path], RULES)
        (error,) = report.errors
        assert error.line == 13
        assert str(error).startswith(f"{path}:13: cases[1].at: ")
        assert "time zone" in error.message

    def test_invalid_yaml(self, tmp_path: Path) -> None:
        """A file that is not YAML is an error with its line; other files still run."""
        broken = tmp_path / "broken.yaml"
        broken.write_text("rule: mql-first-touch\ncases: [\n", encoding="utf-8")
        good = write(
            tmp_path,
            """\
            - at: 2026-12-01T16:00:00-05:00
              expect: {00Q000000000001: breached}
            """,
        )
        report = run_rule_tests([broken, good], RULES)
        (error,) = report.errors
        assert error.path == broken
        assert "invalid YAML" in error.message
        assert report.checked == 1

    def test_missing_cases(self, tmp_path: Path) -> None:
        """A file without cases says which key is missing."""
        path = tmp_path / "empty.yaml"
        path.write_text("rule: mql-first-touch\nrecords: {}\n", encoding="utf-8")
        (error,) = run_rule_tests([path], RULES).errors
        assert str(error) == f"{path}:1: missing key 'cases'"


class TestFindTestFiles:
    def test_tests_folder_under_rules(self, tmp_path: Path) -> None:
        """A rules folder means its ``tests/*.yaml``, sorted; a file is taken as given."""
        (tmp_path / "tests").mkdir()
        for name in ("b.yaml", "a.yml", "notes.txt"):
            (tmp_path / "tests" / name).write_text("", encoding="utf-8")
        single = tmp_path / "single.yaml"
        assert find_test_files([tmp_path, single]) == [
            tmp_path / "tests" / "a.yml",
            tmp_path / "tests" / "b.yaml",
            single,
        ]

    def test_folder_without_tests(self, tmp_path: Path) -> None:
        """A rules folder with no tests folder has no test files."""
        assert find_test_files([tmp_path]) == []
