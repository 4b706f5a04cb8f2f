"""Settings: the documented example loads, secrets never come from the file."""

from pathlib import Path

import pytest

from companion.config import ConfigError, secret
from companion.platforms import load_settings

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


def test_an_unknown_setting_is_refused_with_the_closest_known_one(tmp_path, capsys):
    from companion.cli import main

    path = tmp_path / "companion.toml"
    path.write_text('[console]\n[matrix]\nenabled = false\nhomesever = "https://m.org"\n')
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "[matrix] has no setting 'homesever' (did you mean homeserver?)" in err


def test_unknown_sections_and_misplaced_settings_are_named(tmp_path):
    path = tmp_path / "companion.toml"
    path.write_text(
        '[console]\n[matirx]\nuser_id = "@a:b"\n[storage]\ndefault_timezone = "UTC"\n'
        "[scheduler]\nwhatever_this_is = 1\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "[matirx] is not a section (did you mean [matrix]?)" in message
    assert "[storage] has no setting 'default_timezone' (it belongs under [community])" in message
    assert "[scheduler] has no setting 'whatever_this_is' (known: grace_hours)" in message


def test_the_schema_is_what_the_example_documents():
    """Every setting config.example.toml shows (set or commented out) is known, and every
    known setting is documented there."""
    import re

    from companion import platforms
    from companion.config import schema

    documented: dict[str, set[str]] = {}
    section = ""
    for line in (ROOT / "config.example.toml").read_text().splitlines():
        if match := re.match(r"^\[(\w+)\]$", line):
            section = match.group(1)
            documented[section] = set()
        elif match := re.match(r"^(?:# )?(\w+) = ", line):
            documented[section].add(match.group(1))
    assert documented == {
        name: set(keys) for name, keys in schema(platforms.all_platforms()).items()
    }
