"""``accord seal``, ``unseal`` and ``inspect`` through the real console script."""

from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey
from accord.crypto.sealed import seal_bytes
from accord.party import PartyIdentity

ACCORD = Path(sys.executable).parent / "accord"
CSV = b'id,name,score\n1,"Ada, L.",3.5\n2,"multi\nline",4\n3,Grace,-1\r\n'


def accord(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    return subprocess.run(
        [str(ACCORD), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], *texts: str) -> None:
    assert result.returncode == 1, result
    for text in texts:
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("parties")
    made = {}
    for name in ("alice", "bob"):
        result = accord("party", "init", name, "--dir", root / name)
        assert result.returncode == 0, result.stderr
        made[name] = root / name
    return made


def key_id(party: Path) -> str:
    return PartyIdentity.load(party, passphrase=None).data_key.key_id


def test_seal_inspect_unseal_csv(parties: dict[str, Path], tmp_path: Path):
    plain = tmp_path / "people.csv"
    plain.write_bytes(CSV)
    sealed = tmp_path / "people.sealed"
    result = accord(
        "seal",
        plain,
        "--party",
        parties["alice"],
        "--out",
        sealed,
        "--label",
        "score",
        "--chunk-size",
        "16",
        "--name",
        "people",
    )
    assert result.returncode == 0, result.stderr
    assert "3 rows" in result.stdout and key_id(parties["alice"]) in result.stdout

    shown = accord("inspect", sealed)
    assert shown.returncode == 0, shown.stderr
    for text in (
        "format version",
        key_id(parties["alice"]),
        "csv",
        "id, name, score",
        "label column",
        "score",
        "total rows",
        "Not authenticated",
    ):
        assert text in shown.stdout, text

    details = json.loads(accord("inspect", sealed, "--json").stdout)
    assert details["authenticated"] is False
    assert details["total_rows"] == 3 and len(details["chunks"]) == details["total_rows"]
    assert details["metadata"]["name"] == "people"

    back = tmp_path / "back.csv"
    result = accord("unseal", sealed, "--party", parties["alice"], "--out", back)
    assert result.returncode == 0, result.stderr
    assert back.read_bytes() == CSV
    assert stat.S_IMODE(back.stat().st_mode) == 0o600

    identity = PartyIdentity.load(parties["alice"], passphrase=None)
    secret = identity.data_key.export_bytes(SECRET_KEY_ACCESS).hex()
    assert secret not in shown.stdout + json.dumps(details) + result.stdout


def test_wrong_party_names_the_wanted_key(parties: dict[str, Path], tmp_path: Path):
    plain = tmp_path / "p.csv"
    plain.write_bytes(CSV)
    sealed = tmp_path / "p.sealed"
    assert accord("seal", plain, "--party", parties["alice"], "--out", sealed).returncode == 0
    out = tmp_path / "out"
    out.mkdir()
    result = accord("unseal", sealed, "--party", parties["bob"], "--out", out / "p.csv")
    assert_clean_failure(result, "KeyMaterialError", key_id(parties["alice"]))
    assert os.listdir(out) == []


def test_tampered_file_is_refused_and_nothing_is_written(parties, tmp_path: Path):
    plain = tmp_path / "p.csv"
    plain.write_bytes(CSV * 20)
    sealed = tmp_path / "p.sealed"
    result = accord(
        "seal", plain, "--party", parties["alice"], "--out", sealed, "--chunk-size", "64"
    )
    assert result.returncode == 0, result.stderr
    data = bytearray(sealed.read_bytes())
    data[-5] ^= 0x10
    sealed.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    last = len(json.loads(accord("inspect", sealed, "--json").stdout)["chunks"]) - 1
    result = accord("unseal", sealed, "--party", parties["alice"], "--out", out / "p.csv")
    assert_clean_failure(result, "IntegrityError", str(sealed), f"chunk {last}")
    assert os.listdir(out) == []


def test_malformed_csv_line_is_reported(parties: dict[str, Path], tmp_path: Path):
    plain = tmp_path / "bad.csv"
    plain.write_bytes(b"a,b\n1,2\n3\n")
    result = accord("seal", plain, "--party", parties["alice"], "--out", tmp_path / "b.sealed")
    assert_clean_failure(result, "UsageError", "line 3", "chunk 0", "1 fields")
    assert not (tmp_path / "b.sealed").exists()


def test_format_guess_and_options(parties: dict[str, Path], tmp_path: Path):
    plain = tmp_path / "data.txt.train"
    plain.write_bytes(b"1 1:1 3:0.5\n0 2:1\n")
    target = tmp_path / "d.sealed"
    result = accord("seal", plain, "--party", parties["alice"], "--out", target)
    assert_clean_failure(result, "cannot tell the format", "--format")
    result = accord(
        "seal",
        plain,
        "--party",
        parties["alice"],
        "--out",
        target,
        "--format",
        "libsvm",
        "--chunk-size",
        "1K",
    )
    assert result.returncode == 0, result.stderr
    assert "2 rows" in result.stdout
    again = accord(
        "seal", plain, "--party", parties["alice"], "--out", target, "--format", "libsvm"
    )
    assert_clean_failure(again, "already exists", "--force")
    forced = accord(
        "seal", plain, "--party", parties["alice"], "--out", target, "--format", "bytes", "--force"
    )
    assert forced.returncode == 0, forced.stderr
    assert_clean_failure(
        accord(
            "seal",
            plain,
            "--party",
            parties["alice"],
            "--out",
            tmp_path / "x",
            "--chunk-size",
            "lots",
        ),
        "not a size",
    )


def test_parquet_and_inspect_of_a_non_sealed_file(parties: dict[str, Path], tmp_path: Path):
    table = pa.table({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    plain = tmp_path / "t.parquet"
    pq.write_table(table, plain)
    sealed = tmp_path / "t.sealed"
    result = accord("seal", plain, "--party", parties["alice"], "--out", sealed, "--label", "y")
    assert result.returncode == 0, result.stderr
    shown = accord("inspect", sealed)
    assert "arrow" in shown.stdout and "x (double)" in shown.stdout
    back = tmp_path / "back.parquet"
    assert accord("unseal", sealed, "--party", parties["alice"], "--out", back).returncode == 0
    assert pq.read_table(back).equals(table)
    assert_clean_failure(accord("inspect", plain), "not an Accord sealed file")


# --- inspect shows untrusted header text safely and in bounded time ---------------------------


def forged_metadata(tmp_path: Path, metadata: bytes, name: str = "forged.sealed") -> Path:
    """A sealed file whose (unauthenticated) header metadata was replaced by ``metadata``."""
    sealed = seal_bytes(b"x" * 40, DataKey(bytes(32), SECRET_KEY_ACCESS), chunk_size=16)
    (body_length,) = struct.unpack_from(">I", sealed, 12)
    body = sealed[16 : 16 + body_length]
    fixed = body[: 37 + body[36]]
    new_body = fixed + struct.pack(">I", len(metadata)) + metadata
    path = tmp_path / name
    path.write_bytes(
        sealed[:12] + struct.pack(">I", len(new_body)) + new_body + sealed[16 + body_length :]
    )
    return path


def test_inspect_escapes_invisible_characters(tmp_path: Path):
    metadata = {"name": "invoice\u202etxt.exe\u200b", "columns": ["a\u2028b", "ok"]}
    path = forged_metadata(tmp_path, json.dumps(metadata).encode())
    shown = accord("inspect", path)
    assert shown.returncode == 0, shown.stderr
    assert "invoice\\u202etxt.exe\\u200b" in shown.stdout
    assert "a\\u2028b, ok" in shown.stdout
    assert "\u202e" not in shown.stdout and "\u200b" not in shown.stdout
    details = accord("inspect", path, "--json").stdout
    assert details.isascii() and json.loads(details)["metadata"] == metadata


@pytest.mark.parametrize(
    ("metadata", "cause"),
    [
        (
            b'{"name":"x\\u001b[2K\\r\\u001b[32mAUTHENTICATED OK\\u001b]52;c;cHduZWQ=\\u0007"}',
            "control character U+001B",
        ),
        (b'{"name":"\\ud800"}', "lone surrogate"),
        (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests deeper than 16 levels"),
    ],
)
def test_inspect_refuses_hostile_header_text_cleanly(tmp_path: Path, metadata: bytes, cause: str):
    path = forged_metadata(tmp_path, metadata)
    for args in ((), ("--json",)):
        result = accord("inspect", path, *args)
        assert_clean_failure(result, "IntegrityError", str(path), cause)
        assert "\x1b" not in result.stdout + result.stderr.replace("\x1b[", "")


def test_printable_escapes_and_bounds_text():
    from accord.cli.sealing import printable

    assert printable("plain text, é, 日本") == "plain text, é, 日本"
    assert printable("a\x1bb\x07\x9b") == "a\\x1bb\\x07\\x9b"
    assert printable("\ud800\u202e\u2028\ue000") == "\\ud800\\u202e\\u2028\\ue000"
    assert printable("x" * 300, 10) == "x" * 10 + "... (290 more characters)"


def test_inspect_of_a_full_size_header_is_bounded(tmp_path: Path):
    count = (1024 * 1024 - 5100) // 4  # fills the 1 MiB header body
    metadata = b'{"name":"' + b"n" * 5000 + b'","columns":[' + b'"c",' * (count - 1) + b'"c"]}'
    path = forged_metadata(tmp_path, metadata)
    started = time.perf_counter()
    shown = accord("inspect", path)
    assert time.perf_counter() - started < 30
    assert shown.returncode == 0, shown.stderr
    assert "more," in shown.stdout and "in all)" in shown.stdout
    assert len(shown.stdout) < 20_000
    many_objects = b'{"columns":[' + b"{}," * ((1024 * 1024 - 100) // 3 - 1) + b"{}]}"
    shown = accord("inspect", forged_metadata(tmp_path, many_objects, "objects.sealed"))
    assert shown.returncode == 0 and "?, ?" in shown.stdout and len(shown.stdout) < 20_000


def test_unseal_of_a_forged_header_line_writes_nothing(parties: dict[str, Path], tmp_path: Path):
    plain = tmp_path / "p.csv"
    plain.write_bytes(CSV)
    sealed = tmp_path / "p.sealed"
    assert accord("seal", plain, "--party", parties["alice"], "--out", sealed).returncode == 0
    raw = sealed.read_bytes()
    (body_length,) = struct.unpack_from(">I", raw, 12)
    body = raw[16 : 16 + body_length]
    start = 37 + body[36]
    metadata = json.loads(body[start + 4 :])
    metadata["header_line"] = "forged,header\n"
    encoded = json.dumps(metadata).encode()
    new_body = body[:start] + struct.pack(">I", len(encoded)) + encoded
    sealed.write_bytes(
        raw[:12] + struct.pack(">I", len(new_body)) + new_body + raw[16 + body_length :]
    )
    out = tmp_path / "out"
    out.mkdir()
    result = accord("unseal", sealed, "--party", parties["alice"], "--out", out / "p.csv")
    assert_clean_failure(result, "IntegrityError", str(sealed), "chunk 0 of 1 failed")
    assert os.listdir(out) == []


def test_output_that_appears_is_not_replaced(parties: dict[str, Path], tmp_path: Path):
    plain = tmp_path / "p.csv"
    plain.write_bytes(CSV)
    target = tmp_path / "p.sealed"
    target.write_bytes(b"precious")
    result = accord("seal", plain, "--party", parties["alice"], "--out", target)
    assert_clean_failure(result, "already exists")
    assert target.read_bytes() == b"precious"


def test_streamed_json_is_what_json_dumps_writes():
    """``inspect --json`` writes chunk by chunk; the text equals one json.dumps of it all."""
    import io

    from accord.cli.sealing import _write_info_json
    from accord.crypto.sealed import inspect_file

    path = Path(__file__).parents[1] / "vectors" / "sealed" / "valid-csv.sealed"
    info = inspect_file(path)
    header = info.header
    expected = {
        "authenticated": False,
        "version": header.version,
        "key_id": header.key_id,
        "file_id": header.file_id,
        "content_type": str(header.content_type),
        "chunk_size": header.chunk_size,
        "metadata": dict(header.metadata),
        "chunks": [
            {"index": c.index, "offset": c.offset, "rows": c.rows, "bytes": c.plaintext_length}
            for c in info.chunks
        ],
        "total_rows": info.total_rows,
        "plaintext_bytes": info.plaintext_bytes,
        "file_size": info.file_size,
    }
    written = io.StringIO()
    _write_info_json(info, written)
    assert len(expected["chunks"]) > 1
    assert written.getvalue() == json.dumps(expected, indent=2, sort_keys=True) + "\n"
