"""Check every sealed-file test vector in manifest.json against the reader, and regeneration."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import accord.errors
from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey
from accord.crypto.sealed import SealedReader, inspect_file, unseal_file

HERE = Path(__file__).resolve().parent
MANIFEST = json.loads((HERE / "manifest.json").read_text())
VECTORS: list[dict[str, Any]] = MANIFEST["vectors"]


def key(name: str) -> DataKey:
    return DataKey(bytes.fromhex(MANIFEST["keys"][name]), SECRET_KEY_ACCESS)


def vector_id(vector: dict[str, Any]) -> str:
    return f"{vector['file']}[{vector['key']}]" + (
        "+expect" if "expected_file_id" in vector else ""
    )


def test_manifest_covers_every_file():
    sealed = {p.name for p in HERE.glob("*.sealed")}
    assert sealed == {v["file"] for v in VECTORS}
    assert sum(v["outcome"] == "valid" for v in VECTORS) == 4
    assert sum(v["outcome"] == "error" for v in VECTORS) >= 18


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_vector(vector: dict[str, Any], tmp_path: Path):
    path = HERE / vector["file"]
    output = tmp_path / "plain.out"
    expected_file_id = vector.get("expected_file_id")
    if vector["outcome"] == "valid":
        summary = unseal_file(path, output, key(vector["key"]))
        assert summary.chunks == vector["chunks"]
        assert summary.rows == vector["rows"]
        assert summary.header.file_id == vector["file_id"]
        assert str(summary.header.content_type) == vector["content_type"]
        assert [c.rows for c in inspect_file(path).chunks] == vector["chunk_rows"]
        plaintext = HERE / vector["plaintext"]
        if "plaintext_sha256" in vector:
            assert hashlib.sha256(output.read_bytes()).hexdigest() == vector["plaintext_sha256"]
            assert output.read_bytes() == plaintext.read_bytes()
        else:
            assert pq.read_table(output).equals(pq.read_table(plaintext))
        return
    error = getattr(accord.errors, vector["error"])
    with pytest.raises(error) as caught:
        unseal_file(path, output, key(vector["key"]), expected_file_id=expected_file_id)
    assert type(caught.value) is error
    message = str(caught.value)
    assert str(path) in message
    if vector["chunk"] is not None:
        assert f"chunk {vector['chunk']}" in message
    for text in vector["message_contains"]:
        assert text in message
    assert os.listdir(tmp_path) == []


def test_arrow_vector_batches():
    with SealedReader.open(HERE / "valid-arrow.sealed", key("party-a")) as reader:
        table = pa.Table.from_batches(list(reader.iter_batches()))
    assert table.equals(pq.read_table(HERE / "plain" / "table.parquet"))


def test_generator_is_deterministic(tmp_path: Path):
    subprocess.run(
        [sys.executable, str(HERE / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    stable = set(MANIFEST["not_byte_stable"])
    for path in sorted(HERE.rglob("*")):
        relative = path.relative_to(HERE).as_posix()
        if path.is_dir() or path.suffix == ".py" or relative in stable or "__pycache__" in relative:
            continue
        if relative == "manifest.json":
            fresh = json.loads((tmp_path / relative).read_text())
            kept = json.loads(path.read_text())
            for manifest in (fresh, kept):
                manifest["vectors"] = [v for v in manifest["vectors"] if v["file"] not in stable]
            assert fresh == kept
            continue
        assert (tmp_path / relative).read_bytes() == path.read_bytes(), relative
