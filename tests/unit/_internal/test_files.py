import os
import stat

import pytest

from accord._internal.files import atomic_output, write_atomically
from accord.errors import UsageError


def test_write_atomically_sets_mode_and_content(tmp_path):
    target = tmp_path / "secret.bin"
    write_atomically(target, b"hello", mode=0o600)
    assert target.read_bytes() == b"hello"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["secret.bin"]


def test_failure_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_output(target) as handle:
        handle.write(b"partial plaintext")
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_failure_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(target) as handle:
        handle.write(b"new")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_refuses_to_overwrite_when_asked(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(UsageError, match="already exists"):
        write_atomically(target, b"new", overwrite=False)
    assert target.read_bytes() == b"old"


def test_missing_folder_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        write_atomically(tmp_path / "nope" / "out.bin", b"x")
