"""Settings come from ALERTER_* variables and .env files; secrets never show."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from alerter.logs import configure_logging
from alerter.settings import Settings


class TestSettings:
    def test_defaults(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """With no environment the service looks for rules/ and templates/ where it runs."""
        monkeypatch.chdir(tmp_path)
        settings = Settings()
        assert settings.rules_dir == Path("rules")
        assert settings.templates_dir == Path("templates")
        assert settings.salesforce.password is None

    def test_nested_variables(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """ALERTER_SALESFORCE__USERNAME sets salesforce.username."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ALERTER_SALESFORCE__USERNAME", "ops@example.com")
        monkeypatch.setenv("ALERTER_SALESFORCE__TIMEOUT", "12.5")
        monkeypatch.setenv("ALERTER_RULES_DIR", "/etc/alerter/rules")
        settings = Settings()
        assert settings.salesforce.username == "ops@example.com"
        assert settings.salesforce.timeout == 12.5
        assert settings.rules_dir == Path("/etc/alerter/rules")

    def test_dotenv_file(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """A .env file in the working folder is read, and the environment wins over it."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / ".env").write_text(
            "ALERTER_LOG_LEVEL=debug\nALERTER_SALESFORCE__DOMAIN=test\n", encoding="utf-8"
        )
        monkeypatch.setenv("ALERTER_LOG_LEVEL", "warning")
        settings = Settings()
        assert settings.salesforce.domain == "test"
        assert settings.log_level == "warning"

    def test_secrets_are_hidden(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """A password is usable by the code but never appears in a repr or a log line."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ALERTER_SALESFORCE__PASSWORD", "hunter2-very-secret")
        settings = Settings()
        assert settings.salesforce.password is not None
        assert settings.salesforce.password.get_secret_value() == "hunter2-very-secret"
        assert "hunter2" not in repr(settings)
        assert "hunter2" not in str(settings.model_dump())
        with capture_logs() as logs:
            structlog.get_logger().info("settings.loaded", settings=settings)
        assert "hunter2" not in repr(logs)

    def test_invalid_value_is_a_clear_error(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A setting outside its choices is rejected, naming the setting."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ALERTER_LOG_FORMAT", "xml")
        with pytest.raises(ValueError, match="log_format"):
            Settings()

    def test_budget_per_hour(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """The hourly budget defaults to 10, comes from ALERTER_BUDGET_PER_HOUR, and is >= 1."""
        monkeypatch.chdir(tmp_path)
        assert Settings().budget_per_hour == 10
        monkeypatch.setenv("ALERTER_BUDGET_PER_HOUR", "25")
        assert Settings().budget_per_hour == 25
        monkeypatch.setenv("ALERTER_BUDGET_PER_HOUR", "0")
        with pytest.raises(ValueError, match="budget_per_hour"):
            Settings()


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


class TestLogging:
    def test_json_lines_when_not_a_terminal(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Off a terminal (containers, CI) each event is one JSON object on stderr."""
        configure_logging("info", "json")
        structlog.get_logger().info("cycle.done", records=3)
        structlog.get_logger().debug("hidden")
        line = capsys.readouterr().err.strip()
        assert line.startswith("{")
        assert line.endswith("}")
        assert '"event": "cycle.done"' in line
        assert '"records": 3' in line
        assert "hidden" not in line

    def test_console_format(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The console format is for people: no JSON braces around the event."""
        configure_logging("debug", "console")
        structlog.get_logger().debug("rules.loaded", count=2)
        err = capsys.readouterr().err
        assert "rules.loaded" in err
        assert "count" in err
        assert not err.startswith("{")
