"""Every measures test keeps the saved prepared term in its own temporary folder, never in the checkout."""

import pytest


@pytest.fixture(autouse=True)
def measures_state_dir(monkeypatch, tmp_path):
    folder = tmp_path / "measures-state"
    monkeypatch.setenv("PLI_MEASURES_STATE_DIR", str(folder))
    return folder
