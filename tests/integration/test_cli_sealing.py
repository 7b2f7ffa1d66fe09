"""``accord seal``, ``unseal`` and ``inspect`` through the real console script."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accord.crypto.keys import SECRET_KEY_ACCESS
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
