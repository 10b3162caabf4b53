"""`pli-pulse ingest`, started the way an admin starts it, against `pli-pulse simulate serve`."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).with_name("pli-pulse"))


def test_ingest_from_the_command_line_fills_the_store_and_updates_the_measures(tmp_path):
    server = subprocess.Popen(
        [CLI, "simulate", "serve", "--seed", "4", "--no-throttling"], stdout=subprocess.PIPE, text=True
    )
    try:
        ready = json.loads(server.stdout.readline())
        subprocess.run([CLI, "simulate", "files", "--seed", "4", "--out", str(tmp_path)], check=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PLI_")},
            "PLI_TENANT_ID": ready["tenant_id"],
            "PLI_GRAPH_CLIENT_ID": ready["client_id"],
            "PLI_GRAPH_CLIENT_SECRET": ready["client_secret"],
            "PLI_GRAPH_BASE_URL": ready["graph_base_url"].removesuffix("/v1.0"),
            "PLI_GRAPH_AUTHORITY": ready["authority"],
            "PLI_GRAPH_CA_BUNDLE": ready["ca_file"],
            "PLI_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
            "PLI_PRIVACY_PSEUDONYM_KEY_FILE": str(tmp_path / "key"),
            "PLI_ROSTER_FILE": str(tmp_path / "pli-roster.csv"),
            "PLI_CALENDAR_FILE": str(tmp_path / "school-calendar.toml"),
            "PLI_LOGGING_FORMAT": "json",
        }
        subprocess.run([CLI, "db", "upgrade"], check=True, env=env, cwd=tmp_path)
        done = subprocess.run(
            [CLI, "ingest", "--summary-json", str(tmp_path / "summary.json")],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        summary = json.loads((tmp_path / "summary.json").read_text())
        sources = summary["sources"]
        assert summary["status"] == "succeeded"
        assert sources["teams"]["events"] > 0 and sources["assignments"]["events"] > 0
        assert sources["onenote"]["status"] == "skipped"  # an app-only token: a teacher has to sign in
        assert "Measures: recomputed" in done.stdout
        assert ready["client_secret"] not in done.stdout + done.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
