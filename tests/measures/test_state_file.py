"""The state file keeps arrays beside the pickle and gives them back as they were, or refuses a damaged file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures import state_file


def _payload() -> dict:
    return {
        "format": 5,
        "ints": np.arange(1000, dtype=np.int32),
        "bits": np.packbits(np.ones(77, dtype=bool)),
        "empty": np.empty(0, np.uint64),
        "index": pd.Index(np.arange(5, dtype=np.int64) * 7),
        "ids": pd.Index(["s-1", "s-2", "s-3"]),
        "nested": {"sday": np.array([3, -1, 2], dtype=np.int16)},
    }


def test_arrays_come_back_equal_in_their_own_types_and_aligned(tmp_path):
    path = tmp_path / "state"
    with path.open("wb") as fh:
        state_file.write(fh, _payload())
    back = state_file.read(path)
    for name in ("ints", "bits", "empty"):
        assert back[name].dtype == _payload()[name].dtype
        np.testing.assert_array_equal(back[name], _payload()[name])
        assert back[name].flags.aligned
    pd.testing.assert_index_equal(back["index"], _payload()["index"])
    pd.testing.assert_index_equal(back["ids"], _payload()["ids"])
    np.testing.assert_array_equal(back["nested"]["sday"], [3, -1, 2])
    back["ints"][0] = 42  # a writable array: a fold changes the state in place
    assert back["ints"][0] == 42


def test_arrays_are_stored_out_of_the_pickle_stream(tmp_path):
    path = tmp_path / "state"
    with path.open("wb") as fh:
        state_file.write(fh, {"big": np.arange(100_000, dtype=np.int64)})
    raw = path.read_bytes()
    assert raw.startswith(state_file.MAGIC)
    assert np.arange(100_000, dtype=np.int64).tobytes() in raw


@pytest.mark.parametrize("keep", [0, 7, 30, -1])
def test_a_file_cut_short_or_of_another_layout_is_refused_with_a_value_error(tmp_path, keep):
    path = tmp_path / "state"
    with path.open("wb") as fh:
        state_file.write(fh, _payload())
    whole = path.read_bytes()
    path.write_bytes(whole[:keep] if keep >= 0 else b"\x80\x05" + whole[8:])
    with pytest.raises(ValueError):
        state_file.read(path)
