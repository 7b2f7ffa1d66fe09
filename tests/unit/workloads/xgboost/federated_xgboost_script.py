"""Run in a subprocess by test_xgboost_federation_grpc.py (XGBoost's communicator is global
to a process). Prints one JSON line with what it observed.

Mode ``train``: XGBoost's federated server (secure) reads its key, certificate and client
roots from anonymous memory files; one worker joins through a CollectiveProxy whose loopback
key and certificates also come from memory files; it trains and compares with plain XGBoost.

Mode ``trip``: the server waits for two workers but only one joins, so XGBoost would wait
forever; tripping the proxy must make its training fail at once.
"""

import datetime as dt
import json
import os
import sys
import threading
import time

import numpy as np
import xgboost
import xgboost.collective
import xgboost.federated

from accord.crypto.keys import SECRET_KEY_ACCESS
from accord.workloads.xgboost.federation import CollectiveProxy, FederationKey, memory_files

PARAMS = {"max_depth": 3, "tree_method": "hist", "nthread": 1, "seed": 0}


def main(mode: str) -> None:
    now = dt.datetime.now(dt.UTC)
    key = FederationKey("ab" * 16, now=now)
    workers = 1 if mode == "train" else 2
    observed = {}
    with memory_files(
        {
            "server-key": key.private_key_pem(SECRET_KEY_ACCESS),
            "server-cert": key.certificate_pem,
            "client-roots": key.certificate_pem,
        }
    ) as paths:
        observed["memfd"] = all(
            os.readlink(path).startswith("/memfd:accord-") for path in paths.values()
        )
        tracker = xgboost.federated.FederatedTracker(
            n_workers=workers,
            port=0,
            secure=True,
            server_key_path=paths["server-key"],
            server_cert_path=paths["server-cert"],
            client_cert_path=paths["client-roots"],
            timeout=20,
        )
        tracker.start()
        port = int(tracker.worker_args()["dmlc_tracker_port"])
    observed["closed"] = not any(os.path.exists(path) for path in paths.values())
    proxy = CollectiveProxy(
        upstream=f"127.0.0.1:{port}",
        upstream_certificate_pem=key.certificate_pem,
        identity=key,
        call_timeout=60,
        upstream_name="rank 0",
        now=lambda: now,
    )
    proxy.check_upstream(timeout=10)
    local = proxy.local
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 4)).astype(np.float32)
    labels = (features[:, 0] > 0).astype(np.float32)
    with memory_files(
        {
            "server-cert": local.certificate_pem,
            "client-key": local.private_key_pem(),
            "client-cert": local.certificate_pem,
        }
    ) as paths:
        communicator = xgboost.collective.CommunicatorContext(
            dmlc_communicator="federated",
            federated_server_address=proxy.address,
            federated_world_size=workers,
            federated_rank=0,
            federated_server_cert_path=paths["server-cert"],
            federated_client_key_path=paths["client-key"],
            federated_client_cert_path=paths["client-cert"],
        )
        communicator.__enter__()
    observed["distributed"] = xgboost.collective.is_distributed()
    if mode == "trip":
        threading.Timer(1.0, proxy.trip, args=("rank 1 stopped answering",)).start()
    started = time.monotonic()
    try:
        booster = xgboost.train(PARAMS, xgboost.DMatrix(features, labels), 3)
        observed["trained"] = True
    except xgboost.core.XGBoostError as error:
        observed["trained"] = False
        observed["reason_in_error"] = "rank 1 stopped answering" in str(error)
    observed["seconds"] = time.monotonic() - started
    communicator.__exit__(None, None, None)
    observed["after"] = xgboost.collective.is_distributed()
    proxy.close()
    vars(tracker).pop("handle", None)
    if observed["trained"]:
        plain = xgboost.train(PARAMS, xgboost.DMatrix(features, labels), 3)
        observed["same_model"] = bytes(booster.save_raw("json")) == bytes(plain.save_raw("json"))
    print(json.dumps(observed), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
