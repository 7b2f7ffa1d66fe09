"""XGBoost through Accord against plain XGBoost on the same data, in the same run.

Usage::

    python benchmarks/xgboost_overhead.py [--rows 1000000] [--features 28] [--rounds 50]
                                          [--nodes 1,2] [--nthread N] [--workdir DIR]

A synthetic HIGGS-shaped binary classification set (``xgboost_data.make_higgs_like``, fixed
seed) is split between two parties, alice (the first half of the rows) and bob (the second
half); each writes its half as Parquet and seals it with its own data key. Then, with the
same parameters (``tree_method=hist``, ``max_depth=6``, ``eta=0.1``, ``nthread`` as the node
uses: the CPUs this process may run on, unless ``--nthread``):

* **plain xgboost** (in a child process, so that its peak memory is its own): build a
  ``DMatrix`` from the concatenated arrays, ``xgboost.train``, then predict each party's
  rows (a ``DMatrix`` of each half, as the enclave does for each party's ``predict``).
* **Accord, N nodes**: a :class:`~accord.cluster.LocalCluster` of real processes
  (orchestrator and N ``accord node`` processes, simulated attestation, gRPC over loopback
  with TLS). alice and bob attest every node and release their keys, upload their sealed
  files (timed apart), then the commands are timed end to end: ``load`` (the orchestrator
  pushes the blobs to the nodes, the node decrypts, authenticates and parses every chunk),
  ``train``, and ``predict`` once per party on its own rows. Each command is proposed by one
  party, approved by the other, waited for (receipts verified) and, for ``predict``, its
  output opened and decoded by the data owner.

Each configuration runs ``--repeat`` times, interleaved (plain, 1 node, 2 nodes, plain, ...),
with one more plain run at the end; the fastest total of each is reported, and every run's
total is listed, to show the noise. For each phase the CPU time of every process (nodes,
orchestrator, the parties' process; the plain child) is measured too. Peak resident memory
is ``VmHWM`` from ``/proc/<pid>/status`` of each node process and of the plain child.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from xgboost_accord import (
    AccordRun,
    NotDistributedError,
    Parties,
    distribution_missing,
    find_parties,
    prepare_parties,
    proc_status_kib,
    run_accord,
    write_agreement,
)
from xgboost_data import make_higgs_like, write_parquet
from xgboost_report import print_report


def training_params(nthread: int) -> dict[str, Any]:
    """The XGBoost parameters of every run."""
    return {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": 6,
        "eta": 0.1,
        "seed": 0,
        "nthread": nthread,
    }


def party_rows(rows: int) -> dict[str, tuple[int, int]]:
    """alice's and bob's row ranges of the concatenated set."""
    half = rows // 2
    return {"alice": (0, half), "bob": (half, rows)}


# --- plain xgboost (child process) -------------------------------------------------------


def run_plain_child(data_dir: Path, rounds: int, nthread: int, output: Path) -> None:
    """Time DMatrix + train + predict with plain xgboost; print JSON; save predictions."""
    import xgboost

    features = np.load(data_dir / "features.npy")
    labels = np.load(data_dir / "labels.npy")
    idle = proc_status_kib("self", "VmRSS")
    params = training_params(nthread)
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    clock = (time.perf_counter(), time.process_time())

    def lap(name: str) -> None:
        nonlocal clock
        now = (time.perf_counter(), time.process_time())
        times[name], cpu[name] = now[0] - clock[0], now[1] - clock[1]
        clock = now

    dtrain = xgboost.DMatrix(features, label=labels, nthread=nthread)
    lap("dmatrix")
    booster = xgboost.train(params, dtrain, num_boost_round=rounds)
    lap("train")
    booster.predict(dtrain)  # XGBoost's prediction cache: the training matrix is already done
    lap("predict on dtrain (cached)")
    del dtrain  # as on the node, where the training matrix lives only while training runs
    predictions = {}
    for owner, (start, stop) in party_rows(len(labels)).items():
        matrix = xgboost.DMatrix(features[start:stop], nthread=nthread)
        predictions[owner] = booster.predict(matrix)
    lap("predict")
    np.savez(output, alice=predictions["alice"], bob=predictions["bob"])
    peak = proc_status_kib("self", "VmHWM")
    print(json.dumps({"times": times, "cpu": cpu, "peak_kib": peak, "idle_kib": idle}))


def run_plain(data_dir: Path, rounds: int, nthread: int) -> dict[str, Any]:
    """Run the plain baseline in a child process; return its times, memory, predictions."""
    output = data_dir / "plain-predictions.npz"
    command = [
        sys.executable, __file__, "--phase", "plain", "--workdir", str(data_dir),
        "--rounds", str(rounds), "--nthread", str(nthread),
    ]  # fmt: skip
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    with np.load(output) as saved:
        result["predictions"] = {name: saved[name] for name in saved.files}
    result["total"] = sum(result["times"][k] for k in ("dmatrix", "train", "predict"))
    return result


# --- where a node's time goes (child process) ----------------------------------------------


def run_profile(work: Path, rounds: int, nthread: int) -> dict[str, dict[str, float]]:
    """Run the node's command path in a fresh child process under cProfile (no RPC)."""
    command = [
        sys.executable, __file__, "--phase", "profile", "--workdir", str(work),
        "--rounds", str(rounds), "--nthread", str(nthread),
    ]  # fmt: skip
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    result: dict[str, dict[str, float]] = json.loads(done.stdout)
    return result


def run_profile_child(work: Path, rounds: int, nthread: int) -> None:
    from xgboost_profile import profile_in_process

    parties = find_parties(work / "parties")
    write_agreement(parties)
    print(json.dumps(profile_in_process(parties, training_params(nthread), rounds)))


# --- main ------------------------------------------------------------------------------------


def parse_nodes(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list such as 1,2") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("node counts must be 1 or more")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=28)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--nodes", type=parse_nodes, default=[1, 2], help="e.g. 1 or 1,2")
    parser.add_argument(
        "--nthread", type=int, default=len(os.sched_getaffinity(0)),
        help="XGBoost threads (default: the CPUs this process may run on, as a node uses)",
    )  # fmt: skip
    default_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None
    parser.add_argument("--workdir", type=Path, default=default_dir)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (best is kept)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--profile", action="store_true",
        help="also run a node's command path in one process under cProfile: where time goes",
    )  # fmt: skip
    parser.add_argument("--phase", choices=["plain", "profile"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "plain":
        output = args.workdir / "plain-predictions.npz"
        run_plain_child(args.workdir, args.rounds, args.nthread, output)
        return
    if args.phase == "profile":
        run_profile_child(args.workdir, args.rounds, args.nthread)
        return
    if args.rows < 4:
        parser.error("--rows must be at least 4")
    work = Path(tempfile.mkdtemp(prefix="accord-xgb-bench-", dir=args.workdir))
    try:
        results = run_all(args, work)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def node_threads(nthread: int, nodes: int) -> int:
    """XGBoost threads per node: the CPUs shared out, as nodes on one host should be."""
    return max(1, nthread // nodes)


def accord_once(
    parties: Parties,
    work: Path,
    nodes: int,
    attempt: int,
    args: argparse.Namespace,
    step: Callable[[str], None],
) -> AccordRun:
    """One Accord run; once more if the installed code changed while the cluster started."""
    from accord.errors import VerificationError

    for retry in (False, True):
        folder = work / f"cluster-{nodes}-{attempt}{'-retry' if retry else ''}"
        try:
            return run_accord(
                parties,
                folder,
                nodes=nodes,
                params=training_params(node_threads(args.nthread, nodes)),
                rounds=args.rounds,
                on_step=step,
            )
        except VerificationError as error:
            if retry or "measurement" not in str(error):
                raise
            step(f"the installed code changed during the run ({error}); running again")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    raise AssertionError("unreachable")


def run_all(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    def step(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    prepared: dict[str, float] = {}
    step(f"generating {args.rows:,} x {args.features}")
    started = time.perf_counter()
    features, labels = make_higgs_like(args.rows, args.features)
    np.save(work / "features.npy", features)
    np.save(work / "labels.npy", labels)
    halves, rows = {}, {}
    for owner, (start, stop) in party_rows(args.rows).items():
        halves[owner] = work / f"{owner}.parquet"
        write_parquet(halves[owner], features[start:stop], labels[start:stop])
        rows[owner] = stop - start
    del features, labels
    prepared["generate + write Parquet"] = time.perf_counter() - started
    step("creating the parties, each sealing its half")
    parties = prepare_parties(work / "parties", halves, rows)
    prepared["seal both halves"] = parties.seal_seconds
    missing: dict[int, str] = {}
    counts = list(args.nodes)
    reason = distribution_missing()
    for nodes in [n for n in counts if n > 1 and reason is not None]:
        missing[nodes] = str(reason)
        counts.remove(nodes)

    plains: list[dict[str, Any]] = []
    runs: dict[int, list[AccordRun]] = {nodes: [] for nodes in counts}
    for attempt in range(1, args.repeat + 1):  # interleaved, so that noise hits all alike
        step(f"run {attempt}/{args.repeat}: plain xgboost")
        plains.append(run_plain(work, args.rounds, args.nthread))
        for nodes in list(counts):
            try:
                runs[nodes].append(accord_once(parties, work, nodes, attempt, args, step))
            except NotDistributedError as error:
                step(f"{nodes} nodes: {error}")
                missing[nodes] = str(error)
                counts.remove(nodes)
                del runs[nodes]
    step("plain xgboost (once more, after the Accord runs)")
    plains.append(run_plain(work, args.rounds, args.nthread))
    profile = None
    if args.profile:
        step("profile: the node's command path in one process, no RPC (best of up to 3)")
        runs_wanted = range(min(3, args.repeat))
        profiles = [run_profile(work, args.rounds, args.nthread) for _ in runs_wanted]
        profile = min(profiles, key=lambda p: sum(phase["total"] for phase in p.values()))
    labels = np.load(work / "labels.npy")
    return print_report(args, plains, runs, missing, prepared, profile, labels)


if __name__ == "__main__":
    main()
