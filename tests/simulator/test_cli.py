"""`pli-pulse simulate ...` is what other tools start: one JSON line when ready, a clean stop on a signal."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pli_pulse.cli import main

CLI = Path(sys.executable).with_name("pli-pulse")


def test_serve_prints_one_ready_line_with_every_address_and_stops_cleanly_on_sigterm():
    proc = subprocess.Popen(
        [str(CLI), "simulate", "serve", "--seed", "3", "--until", "2026-11-13"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        ready = json.loads(line)
        for key in ("graph_base_url", "token_url", "tenant_id", "client_id", "client_secret", "connector_url"):
            assert ready[key], key
        assert ready["graph_base_url"].startswith("http://127.0.0.1:")
        assert ready["connector_url"].startswith("http://127.0.0.1:")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_truth_and_district_files_are_written(tmp_path, capsys):
    assert main(["simulate", "truth", "--seed", "3", "--out", str(tmp_path / "truth.json")]) == 0
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["meta"]["seed"] == 3 and truth["classes"]
    assert main(["simulate", "files", "--seed", "3", "--out", str(tmp_path / "files")]) == 0
    header = (tmp_path / "files" / "pli-roster.csv").read_text().splitlines()[0]
    assert header.startswith("teacher_aad_id,")
    assert "term_start" in (tmp_path / "files" / "school-calendar.toml").read_text()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_serve_refuses_an_unknown_scale_with_usage_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["simulate", "serve", "--scale", "state"])
    assert done.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
