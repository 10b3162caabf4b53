"""Configuration is validated at start, and every error names the setting and how to fix it."""

from datetime import date
from pathlib import Path

import pytest

from pli_pulse.config import ConfigError, Settings, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "pli-pulse.example.toml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("PLI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray pli-pulse.toml


def write(tmp_path, text):
    path = tmp_path / "pli-pulse.toml"
    path.write_text(text)
    return path


def test_defaults_are_valid_without_any_file():
    loaded = load_config()
    assert loaded.source == "defaults and environment"
    assert loaded.settings.graph_base_url == "https://graph.microsoft.com"
    assert loaded.settings.privacy_min_n == 10
    assert loaded.settings.database_url.startswith("sqlite:///var/")


def test_the_example_file_documents_every_setting_and_loads():
    text = EXAMPLE.read_text()
    settings = load_config(EXAMPLE).settings
    for name in Settings.model_fields:
        env = "PLI_" + name.upper()
        assert env in text, f"{env} is not documented in pli-pulse.example.toml"
    assert settings.calendar_timezone == "America/Los_Angeles"


def test_sections_in_the_file_map_to_settings(tmp_path):
    path = write(
        tmp_path, '[database]\nurl = "sqlite:///x.db"\n[privacy]\nmin_n = 12\n[calendar]\nholidays = [2026-11-26]\n'
    )
    s = load_config(path).settings
    assert s.database_url == "sqlite:///x.db"
    assert s.privacy_min_n == 12
    assert s.calendar_holidays == [date(2026, 11, 26)]


def test_environment_variables_override_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "[privacy]\nmin_n = 12\n")
    monkeypatch.setenv("PLI_PRIVACY_MIN_N", "15")
    monkeypatch.setenv("PLI_DATABASE_URL", "postgresql://u:p@db/pli")
    s = load_config(path).settings
    assert s.privacy_min_n == 15
    assert s.database_url == "postgresql+psycopg://u:p@db/pli"


@pytest.mark.parametrize(
    ("toml", "env_name", "words"),
    [
        ("[privacy]\nmin_n = 0\n", "PLI_PRIVACY_MIN_N", "at least 2"),
        ('[calendar]\ntimezone = "Mars/Olympus"\n', "PLI_CALENDAR_TIMEZONE", "IANA"),
        ('[digest]\nschedule = "every monday"\n', "PLI_DIGEST_SCHEDULE", "cron"),
        ('[graph]\nbase_url = "graph.microsoft.com"\n', "PLI_GRAPH_BASE_URL", "https://"),
        ('[graph]\ncredentials = "password"\n', "PLI_GRAPH_CREDENTIALS", "client_secret"),
        ('[database]\nurl = "mysql://x"\n', "PLI_DATABASE_URL", "PostgreSQL"),
        ("[calendar]\nterm_start = 2026-12-01\nterm_end = 2026-08-01\n", "PLI_CALENDAR_TERM_END", "on or after"),
    ],
)
def test_a_bad_value_is_reported_with_the_setting_name_and_a_fix(tmp_path, toml, env_name, words):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, toml))
    text = str(err.value)
    assert env_name in text
    assert words in text
    assert "Traceback" not in text


def test_a_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("PLI_PRIVACY_MIN_N", "ten")
    with pytest.raises(ConfigError, match="PLI_PRIVACY_MIN_N"):
        load_config()


def test_an_unknown_key_in_the_file_is_an_error_not_silently_ignored(tmp_path):
    with pytest.raises(ConfigError, match=r"\[database\] uri"):
        load_config(write(tmp_path, '[database]\nuri = "sqlite:///x.db"\n'))


def test_a_missing_named_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml_is_reported_with_the_file_name(tmp_path):
    with pytest.raises(ConfigError, match=r"pli-pulse\.toml: is not valid TOML"):
        load_config(write(tmp_path, "[database\n"))


def test_secrets_are_hidden_when_the_configuration_is_described(monkeypatch):
    monkeypatch.setenv("PLI_GRAPH_CLIENT_SECRET", "s3cr3t-value-123")
    monkeypatch.setenv("PLI_DATABASE_URL", "postgresql://pli:dbpass-456@db/pli")
    shown = " ".join(v for _, v in load_config().settings.describe())
    assert "s3cr3t-value-123" not in shown
    assert "dbpass-456" not in shown
    assert "(set)" in shown


def test_the_readme_configuration_table_lists_every_setting():
    readme = (EXAMPLE.parent / "README.md").read_text()
    missing = [f"PLI_{n.upper()}" for n in Settings.model_fields if f"`PLI_{n.upper()}`" not in readme]
    assert missing == []
