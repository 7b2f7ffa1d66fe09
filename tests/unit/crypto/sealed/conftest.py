"""Fixtures for sealed-file tests: a multi-chunk sealed CSV file and an empty output folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from sealed_helpers import KEY_A, csv_text, seeded_random

from accord.crypto.sealed import SealSummary, seal_file


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An empty folder for plaintext output (checked to stay empty after failures)."""
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


@pytest.fixture
def plain_csv(tmp_path: Path) -> Path:
    """A CSV input of 200 records (about 2.6 KB)."""
    path = tmp_path / "input.csv"
    path.write_bytes(csv_text(200))
    return path


@pytest.fixture
def sealed_csv(tmp_path: Path, plain_csv: Path) -> tuple[Path, SealSummary]:
    """``plain_csv`` sealed with KEY_A in chunks of about 512 bytes (several chunks)."""
    path = tmp_path / "input.sealed"
    summary = seal_file(plain_csv, path, KEY_A, chunk_size=512, random_bytes=seeded_random(1))
    assert summary.chunks >= 4
    return path, summary
