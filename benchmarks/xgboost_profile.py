"""Where a node's time goes: the same commands in this process, profiled, without RPC.

:func:`profile_in_process` runs ``load``, ``train`` and ``predict`` through the node's own
command path (:class:`~accord.enclave.executor.CommandRunner` with the XGBoost operations:
consensus gate, handler, sealing of outputs, audit log) in this process, with no
orchestrator, no gRPC and no other process, under :mod:`cProfile`. It splits each command
into the parts below by the cumulative time of the functions that do them (XGBoost's and
Arrow's native work is counted in the Python call that started it):

=====================  ==========================================================================
part                   functions
=====================  ==========================================================================
open + authenticate    ``inspect_file``, ``SealedReader.open``, ``verify_last_chunk``
decrypt chunks         ``SealedReader.read_chunk`` (read, AES-GCM open of each chunk)
parse Arrow IPC        ``BatchParser.parse``
columns to float32     ``column_as_float32`` (Arrow cast, copy to NumPy)
copy into the matrix   the rest of ``_read_dense`` (strided writes, one column at a time)
build DMatrix          ``FeatureTable.dmatrix``
boosting               ``xgboost.train`` (``xgboost.training.train``)
predict                ``Booster.predict``
encode + seal output   ``encode_predictions`` and the executor's sealing of each output
=====================  ==========================================================================

The remainder of each command (argument checks, gate, audit log) is listed as ``other``.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import hashlib
import pstats
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xgboost_accord import Parties

__all__ = ["profile_in_process"]

# (part, file suffix, function name); cumulative times, nested parts subtracted below.
_FUNCTIONS = {
    "inspect": ("crypto/sealed/inspection.py", "inspect_file"),
    "open": ("crypto/sealed/reader.py", "open"),
    "verify_last": ("crypto/sealed/reader.py", "verify_last_chunk"),
    "read_chunk": ("crypto/sealed/reader.py", "read_chunk"),
    "parse": ("crypto/sealed/batches.py", "parse"),
    "columns": ("workloads/xgboost/matrices.py", "column_as_float32"),
    "read_dense": ("workloads/xgboost/datasets.py", "_read_dense"),
    "dmatrix": ("workloads/xgboost/matrices.py", "dmatrix"),
    "boost": ("xgboost/training.py", "train"),
    "predict": ("xgboost/core.py", "predict"),
    "encode": ("workloads/xgboost/prediction.py", "encode_predictions"),
    "seal": ("crypto/sealed/files.py", "seal_bytes"),
}


def _cumulative(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile)
    found = dict.fromkeys(_FUNCTIONS, 0.0)
    for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        for key, (suffix, function) in _FUNCTIONS.items():
            if name == function and filename.replace("\\", "/").endswith(suffix):
                found[key] += row[3]
    return found


def _parts(operation: str, seconds: float, cumulative: Mapping[str, float]) -> dict[str, float]:
    c = cumulative
    if operation == "load":
        parts = {
            "open + authenticate": c["inspect"] + c["open"] + c["verify_last"],
            "decrypt chunks": c["read_chunk"],
            "parse Arrow IPC": c["parse"],
            "columns to float32": c["columns"],
            "copy into the matrix": c["read_dense"] - c["read_chunk"] - c["parse"] - c["columns"],
        }
    elif operation == "train":
        parts = {"build DMatrix": c["dmatrix"], "boosting": c["boost"]}
    else:
        parts = {
            "build DMatrix": c["dmatrix"],
            "predict": c["predict"],
            "encode + seal output": c["encode"] + c["seal"],
        }
    parts["other (gate, arguments, audit log)"] = seconds - sum(parts.values())
    return parts


def profile_in_process(
    parties: Parties, params: Mapping[str, Any], rounds: int
) -> dict[str, dict[str, float]]:
    """Run load, train and predict through a node's command path here; split their times.

    Returns
    -------
    dict
        For ``load``, ``train`` and ``predict`` (both parties): ``total`` and each part.
    """
    from accord.agreement import load_signed_agreement
    from accord.crypto.keyrelease import seal_key_release
    from accord.enclave import EnclaveSession
    from accord.enclave.blobs import BlobStore
    from accord.enclave.commands import Approval, Command, sign_command
    from accord.enclave.executor import BUILTIN_OPERATIONS, CommandRunner
    from accord.party import PartyIdentity
    from accord.workloads.xgboost import XGBOOST_OPERATIONS

    agreement = load_signed_agreement(parties.agreement_path)
    identities = {
        name: PartyIdentity.load(path, passphrase=None)
        for name, path in parties.directories.items()
    }
    session = EnclaveSession.create(agreement.digest)
    for identity in identities.values():
        message = seal_key_release(
            data_key=identity.data_key,
            party=identity.name,
            signing_key=identity.signing_key,
            session=session.public_keys,
        )
        session.accept_key_release(message, parties=agreement.party_keys)
    with tempfile.TemporaryDirectory(dir=parties.root) as folder:
        blobs = BlobStore(Path(folder))
        blob_ids = {}
        for name, path in parties.sealed.items():
            data = path.read_bytes()
            blob_ids[name] = hashlib.sha256(data).hexdigest()
            blobs.put(blob_ids[name], [data])
            del data
        runner = CommandRunner(
            agreement,
            session,
            blobs,
            operations={**BUILTIN_OPERATIONS, **XGBOOST_OPERATIONS},
        )

        def run(operation: str, arguments: Mapping[str, Any], recipients: list[str]) -> float:
            command = Command.create(
                agreement_digest=agreement.digest,
                session_ids=[session.session_id],
                sequence=runner.gate.next_sequence,
                operation=operation,
                arguments=dict(arguments),
                recipients=recipients,
                proposer="alice",
                ttl=dt.timedelta(hours=1),
            )
            approvals = [
                Approval(p.name, sign_command(command, p.signing_key)) for p in identities.values()
            ]
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            outcome = runner.run(command.to_bytes(), approvals)
            profile.disable()
            seconds = time.perf_counter() - started
            if outcome.status != "executed":
                raise RuntimeError(f"{operation} failed in process: {outcome.error}")
            cumulative = _cumulative(profile)
            for key, value in cumulative.items():
                totals[operation][key] = totals[operation].get(key, 0.0) + value
            return seconds

        totals: dict[str, dict[str, float]] = {"load": {}, "train": {}, "predict": {}}
        seconds = {"load": 0.0, "train": 0.0, "predict": 0.0}
        datasets = [
            {"name": f"{name}_train", "owner": name, "blob": blob}
            for name, blob in blob_ids.items()
        ]
        seconds["load"] = run("load", {"as": "train", "datasets": datasets}, [])
        train = {"data": "train", "params": dict(params), "num_boost_round": rounds, "model": "m"}
        seconds["train"] = run("train", train, [])
        for owner in parties.directories:
            arguments = {"model": "m", "data": f"{owner}_train", "data_owner": owner}
            seconds["predict"] += run("predict", arguments, [owner])
    return {
        operation: {"total": took, **_parts(operation, took, totals[operation])}
        for operation, took in seconds.items()
    }
