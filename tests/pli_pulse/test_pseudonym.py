"""Student pseudonyms are stable, keyed and domain-separated, with no lookup table."""

import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from pli_pulse.pseudonym import Pseudonymizer, Purpose, key_from_text, load_or_create_key_file

KEY = bytes(range(32))
STUDENT = "7d9a3c1e-0f4b-4a5c-9e2d-1b3c4d5e6f70"


def test_the_same_id_under_the_same_key_always_gives_the_same_pseudonym():
    assert Pseudonymizer(KEY).student(STUDENT) == Pseudonymizer(KEY).student(STUDENT)


def test_the_pseudonym_is_the_documented_hmac_so_it_can_be_reproduced_independently():
    import hashlib
    import hmac

    expected = hmac.new(KEY, b"student\x00" + STUDENT.encode(), hashlib.sha256).hexdigest()
    assert Pseudonymizer(KEY).student(STUDENT) == expected


def test_guid_case_and_whitespace_do_not_split_a_student_in_two():
    p = Pseudonymizer(KEY)
    assert p.student(STUDENT.upper()) == p.student(f"  {STUDENT} ")


def test_purposes_are_domain_separated():
    p = Pseudonymizer(KEY)
    values = {p.pseudonym(purpose, STUDENT) for purpose in Purpose}
    assert len(values) == len(Purpose)


def test_a_different_key_gives_unrelated_pseudonyms():
    assert Pseudonymizer(KEY).student(STUDENT) != Pseudonymizer(bytes(32)).student(STUDENT)


def test_the_pseudonym_does_not_contain_the_id_and_the_key_is_not_in_the_repr():
    p = Pseudonymizer(KEY)
    assert STUDENT not in p.student(STUDENT)
    assert KEY.hex() not in repr(p)


def test_short_keys_are_refused():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymizer(b"short")


def test_hex_keys_from_configuration_are_decoded():
    assert key_from_text(KEY.hex()) == KEY
    assert key_from_text("a passphrase of some length") == b"a passphrase of some length"


def test_the_key_file_is_created_once_with_mode_0600_and_reused(tmp_path):
    path = tmp_path / "var" / "pseudonym.key"
    first = load_or_create_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first) == 32
    assert load_or_create_key_file(path) == first


def test_processes_racing_to_create_the_key_file_end_up_with_one_key(tmp_path):
    path = tmp_path / "pseudonym.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_or_create_key_file(path), range(32)))
    assert len(keys) == 1
