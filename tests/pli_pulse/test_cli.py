"""The command line works the way a district IT admin expects: help everywhere, clear exits."""

import os
import stat
import subprocess
import sys

import pytest

from pli_pulse.cli import EXIT_NOT_AVAILABLE, PLANNED, build_parser, main
from pli_pulse.pseudonym import Pseudonymizer, load_or_create_key_file
from store import schema as s
from store.db import make_engine


@pytest.fixture
def workdir(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("PLI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_verb_has_help(capsys):
    parser = build_parser()
    verbs = parser._subparsers._group_actions[0].choices  # the registered sub-commands
    assert {"doctor", "db", "forget", "demo", *PLANNED} <= set(verbs)
    for verb in verbs:
        with pytest.raises(SystemExit) as done:
            parser.parse_args([verb, "--help"])
        assert done.value.code == 0
    assert "usage: pli-pulse" in capsys.readouterr().out


def test_the_console_script_is_installed():
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "pli-pulse"), "--help"], capture_output=True)
    assert out.returncode == 0
    assert b"doctor" in out.stdout


def test_a_configuration_error_exits_2_with_the_setting_named(workdir, monkeypatch, capsys):
    monkeypatch.setenv("PLI_PRIVACY_MIN_N", "1")
    assert main(["doctor"]) == 2
    assert "PLI_PRIVACY_MIN_N" in capsys.readouterr().err


def test_db_upgrade_creates_the_store_under_var_by_default(workdir, capsys):
    assert main(["db", "upgrade"]) == 0
    assert (workdir / "var" / "pli-pulse.sqlite3").exists()
    assert "migrated from empty" in capsys.readouterr().out
    assert main(["db", "current"]) == 0


def test_doctor_reports_a_store_that_needs_migrating_with_the_command_to_run(workdir, capsys):
    assert main(["doctor", "--offline"]) == 1
    out = capsys.readouterr().out
    assert "pli-pulse db upgrade" in out


def test_doctor_passes_the_store_and_key_checks_once_set_up(workdir, monkeypatch, capsys):
    monkeypatch.setenv("PLI_TENANT_ID", "d1f0e8a2-0000-4000-8000-000000000001")
    monkeypatch.setenv("PLI_GRAPH_CLIENT_ID", "app")
    monkeypatch.setenv("PLI_GRAPH_CLIENT_SECRET", "secret-value")
    monkeypatch.setenv("PLI_BOT_APP_ID", "bot")
    monkeypatch.setenv("PLI_BOT_APP_PASSWORD", "pw-value")
    main(["db", "upgrade"])
    load_or_create_key_file(workdir / "var" / "pseudonym.key")
    capsys.readouterr()
    assert main(["doctor", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out


def test_doctor_flags_a_key_file_others_can_read(workdir, capsys):
    main(["db", "upgrade"])
    key = workdir / "var" / "pseudonym.key"
    load_or_create_key_file(key)
    os.chmod(key, 0o644)
    main(["doctor", "--offline"])
    assert "chmod 600" in capsys.readouterr().out


def test_forget_prints_what_it_removed(workdir, capsys):
    main(["db", "upgrade"])
    key = load_or_create_key_file(workdir / "var" / "pseudonym.key")
    student = "44444444-4444-4444-4444-444444444444"
    engine = make_engine(f"sqlite:///{workdir / 'var' / 'pli-pulse.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(s.people.insert().values(person_key=Pseudonymizer(key).student(student), role="student"))
    capsys.readouterr()
    assert main(["forget", "--user", student]) == 0
    out = capsys.readouterr().out
    assert "people" in out and "student" in out
    assert "total" in out


def test_forget_deletes_the_measures_saved_state_which_may_hold_the_persons_key(workdir, capsys):
    from measures.snapshot import state_path
    from pli_pulse.config import Settings

    main(["db", "upgrade"])
    saved = state_path(Settings(database_url=f"sqlite:///{workdir / 'var' / 'pli-pulse.sqlite3'}"))
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_bytes(b"a saved term state")
    assert main(["forget", "--user", "44444444-4444-4444-4444-444444444444"]) == 0
    assert not saved.exists()
    assert "saved state" in capsys.readouterr().out


def test_a_verb_of_a_later_stage_says_it_is_not_available_and_changes_nothing(workdir, capsys):
    assert main(["digest"]) == EXIT_NOT_AVAILABLE
    assert "not available" in capsys.readouterr().err
    assert not (workdir / "var").exists()


def test_the_demo_builds_its_own_store_and_key_and_lists_the_stages(workdir, capsys):
    out_dir = workdir / "demo-out"
    assert main(["demo", "--out", str(out_dir), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert (out_dir / "pli-pulse.sqlite3").exists()
    assert stat.S_IMODE(os.stat(out_dir / "pseudonym.key").st_mode) == 0o600
    assert "Demo summary" in out
    assert "stages exist so far" in out
    assert not (workdir / "var").exists()  # the demo never touches the district's store
