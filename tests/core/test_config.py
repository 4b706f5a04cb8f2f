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


BROKEN = [
    ("[storage]\npath = 5\n", "[storage] path"),
    ('[storage]\npath = ""\n', "[storage] path"),
    ('[storage]\npath = "/"\n', "[storage] path must name a file"),
    ('[storage]\npath = "a\\u0000b.db"\n', "[storage] path"),
    ('[storage]\npath = "/proc/1/no/such/dir/c.db"\n', "/proc/1/no/such/dir"),
    ("[storage]\nkey_path = 5\n", "[storage] key_path"),
    ('[storage]\npath = "c.db"\nkey_path = "/"\n', "([storage] key_path) cannot be used"),
    ('[storage]\npath = "c.db"\nkey_path = "/proc/self/c.key"\n', "key_path) cannot be used"),
    ('[community]\ndefault_timezone = "Mars/Olympus"\n', "default_timezone"),
    ('[community]\ndefault_timezone = "../../etc/passwd"\n', "default_timezone"),
    ("[community]\ndefault_timezone = 5\n", "default_timezone"),
    ("[community]\nwindow_seconds = nan\n", "window_seconds"),
    ("[community]\nwindow_seconds = inf\n", "window_seconds"),
    ("[community]\nsuggestions_per_day = true\n", "suggestions_per_day"),
    ("[scheduler]\ngrace_hours = nan\n", "grace_hours"),
    ("[scheduler]\ngrace_hours = 1e300\n", "grace_hours"),
    ('[metrics]\nenabled = "no"\n', "[metrics] enabled"),
    ("[metrics]\nbind = 5\n", "[metrics] bind"),
    ('[metrics]\nbind = "999.1.1.1"\n', "[metrics] bind must be an IP address"),
    ('[web]\nbind = "999.1.1.1"\n', "[web] bind must be an IP address"),
    ("[web]\nbind = 5\n", "[web] bind must be an IP address"),
    ("[metrics]\nstale_after_seconds = nan\n", "stale_after_seconds"),
    ("[web]\nenabled = true\nsession_hours = nan\n", "session_hours"),
    ("[web]\nenabled = true\nsession_hours = 1e300\n", "session_hours"),
    ("[web]\nenabled = true\nbody_timeout = inf\n", "body_timeout"),
]


@pytest.mark.parametrize(("table", "named"), BROKEN, ids=[t for t, _ in BROKEN])
def test_a_wrong_value_stops_run_and_fails_doctor_with_a_message(tmp_path, capsys, table, named):
    """Each of these once started anyway (and broke later: metrics on for "no", a session
    that cannot expire), or ended in a traceback; doctor said "all checks passed" for most."""
    from companion.cli import main

    path = tmp_path / "companion.toml"
    storage = "" if "[storage]" in table else '[storage]\npath = "c.db"\n'  # not in ~
    path.write_text("[console]\n" + storage + table)
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err, err
    assert main(["doctor", "--config", str(path)]) != 0
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err


@pytest.mark.parametrize(
    "option", [["--db", "/"], ["--db", "/proc/1/no/c.db"], ["--timezone", "Mars/Olympus"]]
)
def test_a_wrong_console_option_is_a_message_not_a_traceback(capsys, option):
    from companion.cli import main

    assert main(["ask", *option, "help"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("companion: ") and option[1] in err, err


def test_a_time_zone_in_any_case_is_still_accepted(tmp_path):
    path = tmp_path / "companion.toml"
    path.write_text('[console]\n[community]\ndefault_timezone = "europe/berlin"\n')
    assert load_settings(path).default_timezone == "europe/berlin"


def test_a_config_path_that_is_a_directory_or_binary_is_a_message(tmp_path, capsys):
    """`--config` naming a directory or a binary file ended every command in a traceback."""
    from companion.cli import main

    binary = tmp_path / "companion.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    for path, said in ((tmp_path, "Cannot read the config file"), (binary, "not UTF-8")):
        for command in (["run"], ["doctor"], ["db", "check"], ["healthcheck"]):
            code = main([*command, "--config", str(path)])
            out, err = capsys.readouterr()
            assert code != 0 and said in out + err and "Traceback" not in out + err
