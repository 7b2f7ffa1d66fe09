"""The XGBoost benchmark's report: tables of times, ratios, CPU time and memory.

Every table compares the best run of each configuration (the fastest total); the noise
rows (median, fastest phases, CPU time) show how far the ratio can be trusted on a busy
machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from xgboost_accord import AccordRun

__all__ = ["print_report"]

PARTIES = ("alice", "bob")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def auc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve (Mann-Whitney U; ties count half)."""
    from scipy.stats import rankdata

    positives = np.asarray(labels) == 1
    count = int(positives.sum())
    negatives = len(positives) - count
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - count * (count + 1) / 2) / (count * negatives))


def joined(predictions: dict[str, Any]) -> Any:
    """Both parties' predictions in row order (alice's rows, then bob's)."""
    return np.concatenate([predictions[p] for p in PARTIES])


def max_difference(run: AccordRun, plain: dict[str, Any]) -> float:
    differences = (run.predictions[p] - plain["predictions"][p] for p in PARTIES)
    return max(float(np.max(np.abs(difference))) for difference in differences)


def print_report(
    args: argparse.Namespace,
    plains: list[dict[str, Any]],
    runs: dict[int, list[AccordRun]],
    missing: dict[int, str],
    prepared: dict[str, float],
    profile: dict[str, dict[str, float]] | None = None,
    labels: Any = None,
) -> dict[str, Any]:
    """Print the tables (best run of each configuration) and return the results as JSON."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    plain = min(plains, key=lambda p: p["total"])
    best = {nodes: min(attempts, key=lambda r: r.total) for nodes, attempts in runs.items()}
    console.print(
        f"machine: {cpu_model()}, nproc {os.cpu_count()}, affinity "
        f"{len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}, "
        f"xgboost {_version('xgboost')}, pyarrow {_version('pyarrow')}"
    )
    console.print(
        f"data: {args.rows:,} rows x {args.features} features (alice {args.rows // 2:,}, bob "
        f"{args.rows - args.rows // 2:,}), {args.rounds} rounds of hist, max_depth 6, eta 0.1, "
        f"nthread {args.nthread}; best of {args.repeat} run(s) each"
    )
    console.print(
        "preparation (not timed below): " + ", ".join(f"{k} {v:.1f} s" for k, v in prepared.items())
    )
    table = Table(title="load + train + predict: seconds (ratio to plain xgboost)")
    table.add_column("phase")
    table.add_column("plain xgboost", justify="right")
    for nodes in best:
        table.add_column(f"Accord, {nodes} node{'s' if nodes > 1 else ''}", justify="right")

    def cell(seconds: float, base: float) -> str:
        return f"{seconds:.2f} ({seconds / base:.2f}x)" if base > 0 else f"{seconds:.2f}"

    for label, plain_key, accord_key in PHASES:
        base = plain["times"][plain_key]
        row = (cell(r.phases[accord_key], base) for r in best.values())
        table.add_row(label, f"{base:.2f}", *row)
    table.add_row(
        "[bold]total[/]",
        f"[bold]{plain['total']:.2f}[/]",
        *(f"[bold]{cell(r.total, plain['total'])}[/]" for r in best.values()),
    )
    plain_median = statistics.median(p["total"] for p in plains)
    table.add_row(
        "median total of all runs",
        f"{plain_median:.2f}",
        *(cell(statistics.median(r.total for r in runs[n]), plain_median) for n in best),
    )
    plain_phases = sum(min(p["times"][key] for p in plains) for _, key, _ in PHASES)
    fastest_phases = {n: sum(min(r.phases[k] for r in runs[n]) for _, _, k in PHASES) for n in best}
    table.add_row(
        "sum of each phase's fastest run",
        f"{plain_phases:.2f}",
        *(cell(seconds, plain_phases) for seconds in fastest_phases.values()),
    )
    plain_cpu = min(plain_cpu_seconds(p) for p in plains)
    table.add_row(
        "CPU seconds, all processes (least of all runs)",
        f"{plain_cpu:.2f}",
        *(cell(min(accord_cpu_seconds(r) for r in runs[n]), plain_cpu) for n in best),
    )
    table.add_row(
        "peak RSS (VmHWM), each node",
        mib(plain["peak_kib"]),
        *(", ".join(mib(v) for v in r.node_peak_kib.values()) for r in best.values()),
    )
    table.add_row(
        "RSS before load",
        mib(plain["idle_kib"]),
        *(", ".join(mib(v) for v in r.node_idle_kib.values()) for r in best.values()),
    )
    for phase in ("load", "train", "predict"):
        cells = [
            ", ".join(f"{rss // 1024}/{mib(hwm)}" for rss, hwm in run.memory_after[phase].values())
            for run in best.values()
        ]
        table.add_row(f"node RSS/peak after {phase}", "", *cells)
    if labels is not None:
        plain_auc = auc(labels, joined(plain["predictions"]))
        table.add_row(
            "AUC on the training rows",
            f"{plain_auc:.5f}",
            *(f"{auc(labels, joined(r.predictions)):.5f}" for r in best.values()),
        )
    table.add_row(
        "max |prediction - plain|", "", *(f"{max_difference(r, plain):.1e}" for r in best.values())
    )
    console.print(table)
    for nodes, reason in missing.items():
        console.print(f"{nodes} nodes: {reason}")
    if best:
        console.print(cpu_table(plain, best))
        console.print(setup_table(best))
    if profile is not None:
        console.print(profile_table(profile, best.get(1)))
    console.print(
        "every run's total (s): plain "
        + ", ".join(f"{p['total']:.2f}" for p in plains)
        + "".join(
            f"; {nodes} node(s) " + ", ".join(f"{r.total:.2f}" for r in attempts)
            for nodes, attempts in runs.items()
        )
        + f"; plain predict on the cached training matrix: "
        f"{plain['times']['predict on dtrain (cached)']:.3f} s"
    )
    return {
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "plain": [{k: v for k, v in p.items() if k != "predictions"} for p in plains],
        "plain_auc": auc(labels, joined(plain["predictions"])) if labels is not None else None,
        "accord": {
            str(nodes): [run_json(r, plain, labels) for r in attempts]
            for nodes, attempts in runs.items()
        },
        "missing": {str(k): v for k, v in missing.items()},
        "profile": profile,
    }


def plain_cpu_seconds(plain: dict[str, Any]) -> float:
    """CPU time of the plain child over load, train and predict."""
    return sum(float(plain["cpu"][key]) for _, key, _ in PHASES)


def accord_cpu_seconds(run: AccordRun) -> float:
    """CPU time of every process (nodes, orchestrator, parties) over the three commands."""
    return sum(sum(processes.values()) for processes in run.cpu.values())


PHASES = (
    ("load / DMatrix", "dmatrix", "load"),
    ("train", "train", "train"),
    ("predict (both parties)", "predict", "predict"),
)


def cpu_table(plain: dict[str, Any], best: dict[int, AccordRun]) -> Any:
    """CPU seconds (user + system, all threads) of every process in each phase."""
    from rich.table import Table

    table = Table(title="CPU seconds per phase (user + system, all threads)")
    table.add_column("phase")
    table.add_column("plain", justify="right")
    for nodes, run in best.items():
        for process in next(iter(run.cpu.values())):
            table.add_column(f"{nodes}n: {process}", justify="right")
    for label, plain_key, accord_key in PHASES:
        cells = [f"{plain['cpu'][plain_key]:.2f}"]
        for run in best.values():
            cells += [f"{v:.2f}" for v in run.cpu[accord_key].values()]
        table.add_row(label, *cells)
    return table


def profile_table(profile: dict[str, dict[str, float]], cluster: AccordRun | None) -> Any:
    """Where a node's time goes: each command's parts in one process, and the rest."""
    from rich.table import Table

    table = Table(title="where the time goes: a node's command path in one process (cProfile)")
    table.add_column("phase")
    table.add_column("part")
    table.add_column("seconds", justify="right")
    for phase, parts in profile.items():
        for part, seconds in parts.items():
            if part != "total":
                table.add_row(phase, part, f"{seconds:.3f}")
        table.add_row(phase, "[bold]in one process[/]", f"[bold]{parts['total']:.3f}[/]")
        if cluster is not None:
            rest = cluster.phases[phase] - parts["total"]
            table.add_row(phase, "1-node cluster, end to end", f"{cluster.phases[phase]:.3f}")
            if phase == "load":
                table.add_row(
                    phase, "1-node cluster, blobs already on the node (no push)",
                    f"{cluster.load_without_push:.3f}",
                )  # fmt: skip
            table.add_row(
                phase, "[italic]difference: RPC, orchestrator, blob push, approvals[/]",
                f"{rest:.3f}",
            )  # fmt: skip
    return table


def setup_table(best: dict[int, AccordRun]) -> Any:
    """What the Accord runs measured outside the total."""
    from rich.table import Table

    table = Table(title="outside the total")
    table.add_column("what")
    for nodes in best:
        table.add_column(f"{nodes} node(s)", justify="right")
    first = next(iter(best.values()))
    for key in first.setup:
        table.add_row(key + " (s)", *(f"{r.setup[key]:.2f}" for r in best.values()))
    table.add_row(
        "one echo command, end to end (s)", *(f"{r.command_overhead:.3f}" for r in best.values())
    )
    table.add_row(
        "load again, blobs already on the nodes (s)",
        *(f"{r.load_without_push:.2f}" for r in best.values()),
    )
    table.add_row("orchestrator peak RSS", *(mib(r.orchestrator_peak_kib) for r in best.values()))
    return table


def run_json(run: AccordRun, plain: dict[str, Any], labels: Any) -> dict[str, Any]:
    return {
        "auc": auc(labels, joined(run.predictions)) if labels is not None else None,
        "nodes": run.nodes,
        "phases": run.phases,
        "total": run.total,
        "ratio_to_best_plain": run.total / plain["total"],
        "cpu": run.cpu,
        "setup": run.setup,
        "echo_seconds": run.command_overhead,
        "load_without_push_seconds": run.load_without_push,
        "node_peak_kib": run.node_peak_kib,
        "node_idle_kib": run.node_idle_kib,
        "node_memory_after_kib": run.memory_after,
        "orchestrator_peak_kib": run.orchestrator_peak_kib,
        "max_abs_difference": max_difference(run, plain),
    }


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)
