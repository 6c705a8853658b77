"""Settings precedence: option > environment > settings file > embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest
from segassist.core.errors import UserInputError
from segassist.core.settings import load_settings


def test_default_is_embedded_sqlite_in_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"SEGASSIST_HOME": str(tmp_path / "h")})
    assert settings.database_url == f"sqlite:///{tmp_path / 'h' / 'segassist.db'}"


def test_file_then_environment_then_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("segassist.toml").write_text('db_url = "sqlite:///from-file.db"\n')
    assert load_settings({}).database_url == "sqlite:///from-file.db"
    env = {"SEGASSIST_DB_URL": "sqlite:///from-env.db"}
    assert load_settings(env).database_url == "sqlite:///from-env.db"
    assert (
        load_settings(env).with_overrides(db_url="sqlite:///opt.db").database_url
        == "sqlite:///opt.db"
    )


def test_bad_settings_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("segassist.toml").write_text("db_ur = 'x'\n")
    with pytest.raises(UserInputError, match="unknown keys \\['db_ur'\\]"):
        load_settings({})
    with pytest.raises(UserInputError, match="does not exist"):
        load_settings({"SEGASSIST_CONFIG": str(tmp_path / "missing.toml")})


def test_agent_examples_is_a_switch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings({}).agent_examples is False
    assert load_settings({"SEGASSIST_AGENT_EXAMPLES": "on"}).agent_examples is True
    Path("segassist.toml").write_text("agent_examples = true\n")
    assert load_settings({}).agent_examples is True
    assert load_settings({"SEGASSIST_AGENT_EXAMPLES": "no"}).agent_examples is False
    with pytest.raises(UserInputError, match="agent_examples must be true or false, not 'maybe'"):
        load_settings({"SEGASSIST_AGENT_EXAMPLES": "maybe"})
