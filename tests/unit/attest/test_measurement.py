"""Code measurement: reproducible for the same tree, different after any change to a file."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest

from accord.attest.measurement import (
    LISTING_HEADER,
    installed_package_root,
    measure_installed_package,
    measure_tree,
)
from accord.errors import UsageError


@pytest.fixture
def release(tmp_path):
    """A copy of the installed accord package, as an unpacked release would hold it."""
    target = tmp_path / "release" / "accord"
    shutil.copytree(installed_package_root(), target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_the_same_tree_gives_the_same_digest(release):
    first = measure_tree(release)
    second = measure_tree(release)
    assert first.digest == second.digest
    assert first.digest == measure_installed_package().digest  # a faithful copy measures alike


def test_changing_one_byte_of_one_file_changes_the_digest(release):
    before = measure_tree(release).digest
    target = release / "attest" / "policy.py"
    content = bytearray(target.read_bytes())
    content[100] ^= 0x01
    target.write_bytes(bytes(content))
    assert measure_tree(release).digest != before


@pytest.mark.parametrize("change", ["add", "remove", "rename"])
def test_adding_removing_or_renaming_a_file_changes_the_digest(release, change):
    before = measure_tree(release).digest
    if change == "add":
        (release / "attest" / "backdoor.py").write_text("import os\n")
    elif change == "remove":
        (release / "py.typed").unlink()
    else:
        (release / "errors.py").rename(release / "errors_.py")
    assert measure_tree(release).digest != before


def test_build_litter_is_ignored(release):
    before = measure_tree(release).digest
    cache = release / "attest" / "__pycache__"
    cache.mkdir()
    (cache / "policy.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (release / "stray.pyc").write_bytes(b"\x00")
    (release / "stray.pyo").write_bytes(b"\x00")
    assert measure_tree(release).digest == before


def test_listing_format_is_as_documented(tmp_path):
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "b.py").write_bytes(b"b")
    (root / "sub" / "a.py").write_bytes(b"a")
    (root / "Z.txt").write_bytes(b"")
    result = measure_tree(root)
    expected = LISTING_HEADER + b"".join(
        f"{hashlib.sha256(content).hexdigest()}  {path}\n".encode()
        for path, content in [("Z.txt", b""), ("b.py", b"b"), ("sub/a.py", b"a")]
    )
    assert result.listing() == expected
    assert result.digest == hashlib.sha256(expected).hexdigest()
    assert [item.path for item in result.files] == ["Z.txt", "b.py", "sub/a.py"]


def test_paths_sort_by_utf8_bytes(tmp_path):
    root = tmp_path / "pkg"
    root.mkdir()
    for name in ["é.py", "z.py", "a-b.py", "a.py", "a/x.py"]:
        path = root / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(name.encode())
    paths = [item.path for item in measure_tree(root).files]
    assert paths == sorted(paths, key=lambda p: p.encode("utf-8"))
    assert paths == ["a-b.py", "a.py", "a/x.py", "z.py", "é.py"]


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs GNU coreutils")
def test_the_documented_shell_recipe_reproduces_the_digest(release):
    recipe = (
        "{ printf 'accord-measurement-v1\\n'; "
        "find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -name '*.pyo' "
        "| sed 's|^\\./||' | LC_ALL=C sort | xargs -d '\\n' sha256sum; } | sha256sum"
    )
    out = subprocess.run(
        ["bash", "-c", recipe], cwd=release, capture_output=True, text=True, check=True
    ).stdout
    assert out.split()[0] == measure_tree(release).digest


def test_symbolic_links_are_refused(tmp_path):
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "a.py").write_text("x")
    os.symlink(tmp_path / "elsewhere.py", root / "link.py")
    with pytest.raises(UsageError, match=r"link\.py is a symbolic link"):
        measure_tree(root)


def test_line_breaks_in_names_are_refused(tmp_path):
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "a\nb.py").write_text("x")
    with pytest.raises(UsageError, match="line break"):
        measure_tree(root)


def test_missing_or_empty_trees_are_refused(tmp_path):
    with pytest.raises(UsageError, match="is not a directory"):
        measure_tree(tmp_path / "absent")
    (tmp_path / "empty" / "__pycache__").mkdir(parents=True)
    with pytest.raises(UsageError, match="contains no files"):
        measure_tree(tmp_path / "empty")
