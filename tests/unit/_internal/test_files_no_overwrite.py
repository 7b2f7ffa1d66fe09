"""atomic_output(overwrite=False) never replaces a file, even one created while it writes."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from accord._internal.files import atomic_output, write_atomically
from accord.errors import UsageError


def test_file_created_during_the_write_is_kept(tmp_path: Path):
    """The race: the name is free when writing starts, taken when the output is finished."""
    target = tmp_path / "out.bin"
    with pytest.raises(UsageError) as caught, atomic_output(target, overwrite=False) as handle:
        handle.write(b"ours")
        target.write_bytes(b"someone else's")  # another process wins the race
    assert "already exists" in str(caught.value) and str(target) in str(caught.value)
    assert target.read_bytes() == b"someone else's"
    assert os.listdir(tmp_path) == ["out.bin"]  # no temporary file left


def test_dangling_symlink_counts_as_existing(tmp_path: Path):
    target = tmp_path / "out.bin"
    target.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UsageError, match="already exists"):
        write_atomically(target, b"x", overwrite=False)
    assert target.is_symlink() and not (tmp_path / "nowhere").exists()


def test_new_file_gets_its_content_and_mode_and_no_temporary_is_left(tmp_path: Path):
    target = tmp_path / "new.bin"
    write_atomically(target, b"fresh", mode=0o600, overwrite=False)
    assert target.read_bytes() == b"fresh"
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.stat().st_nlink == 1
    assert os.listdir(tmp_path) == ["new.bin"]


def test_without_hard_links_the_file_is_still_written_and_races_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Some file systems (FAT, some network mounts) refuse link(): fall back to a rename."""

    def no_links(source: object, destination: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "out.bin"
    write_atomically(target, b"data", overwrite=False)
    assert target.read_bytes() == b"data"
    other = tmp_path / "other.bin"
    with (
        pytest.raises(UsageError, match="already exists"),
        atomic_output(other, overwrite=False) as handle,
    ):
        handle.write(b"ours")
        other.write_bytes(b"theirs")
    assert other.read_bytes() == b"theirs"
    assert sorted(os.listdir(tmp_path)) == ["other.bin", "out.bin"]


def test_other_link_failures_are_reported_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def link_fails(source: object, destination: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "link", link_fails)
    with pytest.raises(UsageError, match=r"cannot write .*Input/output error"):
        write_atomically(tmp_path / "out.bin", b"data", overwrite=False)
    assert os.listdir(tmp_path) == []
