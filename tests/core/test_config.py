"""Settings: the documented example loads, secrets never come from the file."""

from pathlib import Path

import pytest

from companion.config import ConfigError, load_settings, secret

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_config_loads_with_every_documented_setting(tmp_path):
    example = (ROOT / "config.example.toml").read_text()
    path = tmp_path / "companion.toml"
    path.write_text(example)
    settings = load_settings(path)
    assert settings.db_path == tmp_path / "companion.db"
    assert settings.key_file == tmp_path / "companion.key"
    assert settings.suggestions_per_day == 5 and settings.grace_hours == 6
    assert settings.adapters == ("console",)  # matrix and discord are off in the example


@pytest.mark.parametrize("section", ["matrix", "discord"])
def test_a_token_in_the_file_is_refused(tmp_path, section):
    path = tmp_path / "companion.toml"
    path.write_text(f'[{section}]\ntoken = "s3cret"\n')
    with pytest.raises(ConfigError, match="environment"):
        load_settings(path)


def test_bad_values_are_explained(tmp_path):
    path = tmp_path / "companion.toml"
    path.write_text("[console]\n[scheduler]\ngrace_hours = -1\n")
    with pytest.raises(ConfigError, match="grace_hours"):
        load_settings(path)
    path.write_text("[console\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_secrets_come_from_the_environment_or_a_file_outside(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPANION_TEST_SECRET", raising=False)
    assert secret("COMPANION_TEST_SECRET") is None
    holder = tmp_path / "secret.txt"
    holder.write_text("from-a-file\n")
    monkeypatch.setenv("COMPANION_TEST_SECRET_FILE", str(holder))
    assert secret("COMPANION_TEST_SECRET") == "from-a-file"
    monkeypatch.setenv("COMPANION_TEST_SECRET", "from-env")
    assert secret("COMPANION_TEST_SECRET") == "from-env"
