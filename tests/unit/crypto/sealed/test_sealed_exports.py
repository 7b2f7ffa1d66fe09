"""The curated public API of accord.crypto.sealed."""

from __future__ import annotations

import inspect
import sys

import accord.crypto.sealed

EXPECTED = {
    "DEFAULT_CHUNK_SIZE",
    "FORMAT_VERSION",
    "SUPPORTED_VERSIONS",
    "ChunkInfo",
    "ContentType",
    "InputFormat",
    "LibSvmBatch",
    "PlaintextChunk",
    "SealSummary",
    "SealedFileInfo",
    "SealedHeader",
    "SealedReader",
    "SealedWriter",
    "UnsealSummary",
    "guess_input_format",
    "inspect_file",
    "seal_bytes",
    "seal_file",
    "unseal_bytes",
    "unseal_file",
}


def test_public_names_are_exactly_the_curated_list() -> None:
    assert set(accord.crypto.sealed.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(accord.crypto.sealed, name) is not None


def test_public_classes_and_functions_are_documented() -> None:
    for name in EXPECTED:
        value = getattr(accord.crypto.sealed, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), name


def test_opaque_bytes_do_not_import_pyarrow() -> None:
    """The bytes path stays light: sealing a model must not pull in Arrow."""
    import subprocess

    code = (
        "import sys\n"
        "from accord.crypto.keys import DataKey\n"
        "from accord.crypto.sealed import seal_bytes, unseal_bytes\n"
        "k = DataKey.generate()\n"
        "assert unseal_bytes(seal_bytes(b'x' * 10, k), k) == b'x' * 10\n"
        "print('pyarrow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
