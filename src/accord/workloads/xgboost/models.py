"""Models as bytes: XGBoost's own JSON and UBJSON formats only, never pickle.

A model leaves the enclave as ``Booster.save_raw("json")`` or ``save_raw("ubj")`` bytes,
sealed for each recipient by the executor. A sealed model comes back in (``load_model``)
as a blob sealed with its owner's data key: the node opens it with the key that owner
released to the session, checks that the plaintext is a JSON or UBJSON document (both start
with ``{``) and lets XGBoost parse it. Nothing else is accepted: XGBoost's deprecated binary
format and anything that is not an XGBoost model are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import xgboost

from accord.crypto.sealed import ContentType, SealedReader, inspect_file
from accord.enclave.session import EnclaveSession
from accord.errors import UsageError
from accord.workloads.xgboost.training import xgboost_refusal

__all__ = [
    "MAX_MODEL_BYTES",
    "MODEL_FORMATS",
    "booster_from_bytes",
    "model_bytes",
    "read_sealed_model",
]

MODEL_FORMATS: Final = ("json", "ubj")
"""The model formats: XGBoost JSON and UBJSON (Universal Binary JSON)."""
MAX_MODEL_BYTES: Final = 2 * 1024**3
"""The largest sealed model ``load_model`` reads: 2 GiB."""


def model_bytes(booster: xgboost.Booster, model_format: str) -> bytes:
    """Return the model in ``model_format`` (``"json"`` or ``"ubj"``).

    Raises
    ------
    UsageError
        For any other format.
    """
    if model_format not in MODEL_FORMATS:
        raise UsageError(f"model format must be one of {', '.join(MODEL_FORMATS)}")
    return bytes(booster.save_raw(raw_format=model_format))


def booster_from_bytes(data: bytes, *, nthread: int, where: str) -> xgboost.Booster:
    """Parse an XGBoost JSON or UBJSON model.

    Parameters
    ----------
    data
        The model document.
    nthread
        Threads the booster uses to predict.
    where
        What the bytes are, for messages.

    Raises
    ------
    UsageError
        If the bytes are not an XGBoost JSON or UBJSON model.
    """
    if not data.startswith(b"{"):
        raise UsageError(
            f"{where} is not an XGBoost JSON or UBJSON model",
            hint="Save models with save_model or release_model; other formats are refused.",
        )
    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(data))
        booster.set_param({"nthread": nthread})
    except xgboost.core.XGBoostError as error:
        raise xgboost_refusal(error, "read it as a model", where=where) from None
    return booster


def read_sealed_model(path: Path, *, session: EnclaveSession, owner: str, where: str) -> bytes:
    """Open a sealed model blob with the key ``owner`` released; return its plaintext.

    Raises
    ------
    KeyMaterialError
        If the blob was sealed with a key that ``owner`` did not release to the session.
    IntegrityError
        If the blob is damaged or tampered with.
    UsageError
        If the blob is not sealed opaque bytes, or is larger than :data:`MAX_MODEL_BYTES`.
    """
    info = inspect_file(path)  # unauthenticated: only key id, file id and size are used
    if info.file_size > MAX_MODEL_BYTES:
        raise UsageError(f"{where} is {info.file_size} bytes; at most {MAX_MODEL_BYTES} are read")
    key = session.data_key(info.header.key_id, owner=owner)
    with SealedReader.open(path, key, expected_file_id=info.header.file_id) as reader:
        reader.verify_last_chunk()
        if reader.header.content_type is not ContentType.BYTES:
            raise UsageError(
                f"{where} holds {reader.header.content_type.value} records, not a saved model"
            )
        return b"".join(chunk.data for chunk in reader.iter_chunks())
