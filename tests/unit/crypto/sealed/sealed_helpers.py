"""Shared helpers for the sealed-file tests: fixed keys, inputs, and surgery on sealed bytes."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey
from accord.crypto.sealed import inspect_file

KEY_A = DataKey(bytes(range(32)), SECRET_KEY_ACCESS)
KEY_B = DataKey(bytes(range(100, 132)), SECRET_KEY_ACCESS)


def seeded_random(seed: int) -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom (tests only)."""
    generator = random.Random(seed)
    return generator.randbytes


def csv_text(rows: int, *, columns: int = 3, seed: int = 0) -> bytes:
    """A small CSV file with a header line and ``rows`` numeric records."""
    generator = random.Random(seed)
    header = ",".join(f"c{i}" for i in range(columns))
    lines = [header] + [
        ",".join(str(generator.randint(-1000, 1000)) for _ in range(columns)) for _ in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class SealedParts:
    """A sealed file cut into its header bytes and its frames (each with its 8-byte header)."""

    header: bytes
    frames: list[bytes]

    @classmethod
    def load(cls, path: Path) -> SealedParts:
        info = inspect_file(path)
        data = path.read_bytes()
        start = info.chunks[0].offset
        frames = [data[c.offset : c.offset + 8 + c.ciphertext_length] for c in info.chunks]
        return cls(data[:start], frames)

    def join(self) -> bytes:
        return self.header + b"".join(self.frames)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.join())
        return path


def flip_bit(data: bytes, position: int, bit: int = 0) -> bytes:
    """Return ``data`` with one bit flipped."""
    changed = bytearray(data)
    changed[position] ^= 1 << bit
    return bytes(changed)


def leftovers(directory: Path) -> list[str]:
    """Every entry of ``directory`` (to show that no output or temporary file is left)."""
    return sorted(os.listdir(directory))
