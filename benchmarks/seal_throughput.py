"""Sealed-file throughput and memory against raw AES-256-GCM over the same bytes.

Usage::

    python benchmarks/seal_throughput.py [--size 1GiB] [--chunk-size 4MiB] [--workdir DIR]

Generates a random file (for the opaque ``bytes`` path: the format's own cost) and a numeric
CSV file (whose sealing also parses and validates every record) of the given size, then
runs each phase in its own child process, so that its peak resident memory (``VmHWM`` of
the child) is its own and nothing is cached between phases; each phase runs ``--repeat``
times and the fastest run is reported (the peak memory is the largest of the runs):

* ``raw encrypt`` / ``raw decrypt``: the baseline. The same file-to-file work without the
  format: read the input in chunks of the same size into a reused buffer,
  ``AESGCM.encrypt_into``/``decrypt_into`` each with ``cryptography`` (no allocation per
  chunk), write the result, fsync.
* ``raw in memory``: ``AESGCM.encrypt_into`` of one chunk buffer over and over, with no I/O
  at all: the machine's AES-GCM ceiling.
* ``seal in memory``: :class:`SealedWriter` sealing that same buffer over and over into an
  output that discards the bytes: the format's own per-chunk cost (key derivation, AAD,
  frames, the one-chunk hold-back) against the ceiling, with no file I/O.
* ``seal bytes`` / ``unseal bytes`` / ``seal csv`` / ``unseal csv``: :func:`seal_file` and
  :func:`unseal_file` as the command line runs them (atomic output, fsync included).

Times cover the operation only (not interpreter start-up or imports). MB/s is 10**6 bytes
of plaintext per second. The default work folder is /dev/shm where it exists, so that the
numbers measure the CPU rather than the disk; pass --workdir to measure a disk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
_SIZE = re.compile(r"^(\d+)([kmg]?)(i?b)?$", re.IGNORECASE)


def parse_size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 1GiB or 64MiB")
    return (
        int(match.group(1)) * {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB}[match.group(2).lower()]
    )


# --- inputs ----------------------------------------------------------------------------------


def make_random_file(path: Path, size: int) -> None:
    block = os.urandom(16 * MiB)
    with open(path, "wb") as out:
        written = 0
        while written < size:
            piece = block[: min(len(block), size - written)]
            out.write(piece)
            written += len(piece)
            block = block[1:] + block[:1]


def make_csv_file(path: Path, size: int) -> None:
    import random

    generator = random.Random(0)
    header = ",".join(f"f{i}" for i in range(8)) + ",label\n"
    lines = []
    for _ in range(20000):
        values = [f"{generator.uniform(-100, 100):.6f}" for _ in range(8)]
        lines.append(",".join(values) + f",{generator.randint(0, 1)}\n")
    block = "".join(lines).encode()
    with open(path, "wb") as out:
        out.write(header.encode())
        written = len(header)
        while written < size:
            remaining = size - written
            piece = (
                block if remaining >= len(block) else block[: block.rfind(b"\n", 0, remaining) + 1]
            )
            if not piece:
                break
            out.write(piece)
            written += len(piece)


# --- phases (each runs in a child process) ---------------------------------------------------

BENCH_KEY = bytes(range(32))


def phase_raw_encrypt(source: Path, target: Path, chunk: int) -> int:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(BENCH_KEY)
    plain = memoryview(bytearray(chunk))
    sealed = memoryview(bytearray(chunk + 16))
    total = 0
    with open(source, "rb", buffering=0) as src, open(target, "wb", buffering=0) as out:
        index = 0
        while n := src.readinto(plain):
            aead.encrypt_into(index.to_bytes(12, "big"), plain[:n], None, sealed[: n + 16])
            out.write(sealed[: n + 16])
            index += 1
            total += n
        os.fsync(out.fileno())
    return total


def phase_raw_decrypt(source: Path, target: Path, chunk: int) -> int:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(BENCH_KEY)
    sealed = memoryview(bytearray(chunk + 16))
    plain = memoryview(bytearray(chunk))
    total = 0
    with open(source, "rb", buffering=0) as src, open(target, "wb", buffering=0) as out:
        index = 0
        while n := src.readinto(sealed):
            aead.decrypt_into(index.to_bytes(12, "big"), sealed[:n], None, plain[: n - 16])
            out.write(plain[: n - 16])
            index += 1
            total += n - 16
        os.fsync(out.fileno())
    return total


def phase_raw_memory(source: Path, target: Path, chunk: int) -> int:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(BENCH_KEY)
    size = source.stat().st_size
    data = os.urandom(chunk)
    sealed = memoryview(bytearray(chunk + 16))
    total = 0
    index = 0
    while total < size:
        aead.encrypt_into(index.to_bytes(12, "big"), data, None, sealed)
        index += 1
        total += chunk
    return total


class NullSink:
    """A binary output that discards what it is given (for the in-memory phase)."""

    def write(self, data: Any) -> int:
        return len(data)


def phase_seal_memory(source: Path, target: Path, chunk: int) -> int:
    from accord.crypto.sealed import ContentType, SealedWriter

    size = source.stat().st_size
    data = memoryview(os.urandom(chunk))
    writer = SealedWriter(NullSink(), _key(), content_type=ContentType.BYTES, chunk_size=chunk)  # type: ignore[arg-type]
    total = 0
    while total < size:
        writer.add_chunk(data, 0)
        total += chunk
    writer.finish()
    return total


def _key() -> Any:
    from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey

    return DataKey(BENCH_KEY, SECRET_KEY_ACCESS)


def phase_seal(source: Path, target: Path, chunk: int, fmt: str) -> int:
    from accord.crypto.sealed import seal_file

    seal_file(source, target, _key(), input_format=fmt, chunk_size=chunk)  # type: ignore[arg-type]
    return source.stat().st_size


def phase_unseal(source: Path, target: Path, chunk: int) -> int:
    from accord.crypto.sealed import unseal_file

    return unseal_file(source, target, _key()).output_bytes


PHASES = {
    "raw-encrypt": phase_raw_encrypt,
    "raw-decrypt": phase_raw_decrypt,
    "raw-memory": phase_raw_memory,
    "seal-memory": phase_seal_memory,
    "seal-bytes": lambda s, t, c: phase_seal(s, t, c, "bytes"),
    "seal-csv": lambda s, t, c: phase_seal(s, t, c, "csv"),
    "unseal": phase_unseal,
}


def peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM: this program only, not its parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(args: argparse.Namespace) -> None:
    # import everything the phase uses before the clock starts
    import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401

    if not args.phase.startswith("raw"):
        import accord.crypto.sealed  # noqa: F401
    if args.phase == "seal-csv":
        import pyarrow.csv  # noqa: F401
    started = time.perf_counter()
    processed = PHASES[args.phase](Path(args.source), Path(args.target), args.chunk_size)
    seconds = time.perf_counter() - started
    print(json.dumps({"bytes": processed, "seconds": seconds, "peak_mib": peak_rss_mib()}))


def measure(phase: str, source: Path, target: Path, chunk: int, repeat: int) -> dict[str, float]:
    """Run a phase ``repeat`` times, each in a fresh child; keep the fastest run."""
    command = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--source",
        str(source),
        "--target",
        str(target),
        "--chunk-size",
        str(chunk),
    ]
    runs = []
    for _ in range(repeat):
        target.unlink(missing_ok=True)
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        runs.append(json.loads(done.stdout))
    best = min(runs, key=lambda run: run["seconds"])
    return {
        "mb_per_s": best["bytes"] / best["seconds"] / 1e6,
        "seconds": best["seconds"],
        "peak_mib": max(run["peak_mib"] for run in runs),
    }


def warm_up(work: Path, size: int) -> None:
    """Write and delete a file twice the input size once, so that the first phase does not
    pay alone for the first touch of fresh memory pages (costly in virtual machines)."""
    block = os.urandom(16 * MiB)
    with open(work / "warm-up", "wb") as out:
        for _ in range(max(1, 2 * size // len(block))):
            out.write(block)
    (work / "warm-up").unlink()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--chunk-size", type=parse_size, default=parse_size("4MiB"))
    default_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None
    parser.add_argument("--workdir", type=Path, default=default_dir)
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase (best is kept)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_child(args)
        return

    work = Path(tempfile.mkdtemp(prefix="accord-bench-", dir=args.workdir))
    try:
        results = run_all(work, args.size, args.chunk_size, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_report(results, args)


def run_all(work: Path, size: int, chunk: int, repeat: int) -> dict[str, dict[str, float]]:
    data, raw, sealed, back = (work / n for n in ("input.bin", "raw.enc", "x.sealed", "back"))
    results: dict[str, dict[str, float]] = {}
    warm_up(work, size)
    make_random_file(data, size)
    results["raw in memory (AES-GCM ceiling)"] = measure("raw-memory", data, raw, chunk, repeat)
    results["seal in memory (no file I/O)"] = measure("seal-memory", data, raw, chunk, repeat)
    results["raw encrypt"] = measure("raw-encrypt", data, raw, chunk, repeat)
    results["raw decrypt"] = measure("raw-decrypt", raw, back, chunk, repeat)
    raw.unlink()
    back.unlink()
    results["seal bytes"] = measure("seal-bytes", data, sealed, chunk, repeat)
    data.unlink()
    results["unseal bytes"] = measure("unseal", sealed, back, chunk, repeat)
    sealed.unlink()
    back.unlink()
    csv = work / "input.csv"
    make_csv_file(csv, size)
    results["seal csv (validates records)"] = measure("seal-csv", csv, sealed, chunk, repeat)
    csv.unlink()
    results["unseal csv"] = measure("unseal", sealed, back, chunk, repeat)
    return results


def print_report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    baseline = {
        "seal in memory": results["raw in memory (AES-GCM ceiling)"]["mb_per_s"],
        "seal": results["raw encrypt"]["mb_per_s"],
        "unseal": results["raw decrypt"]["mb_per_s"],
    }
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"input: {args.size / MiB:.0f} MiB, chunk size {args.chunk_size / MiB:g} MiB, "
        f"work folder {args.workdir or tempfile.gettempdir()}"
    )
    print(f"{'phase':34} {'MB/s':>9} {'vs raw':>7} {'seconds':>8} {'peak RSS':>10}")
    for name, row in results.items():
        ratio = ""
        for prefix, base in baseline.items():
            if name.startswith(prefix + " "):
                ratio = f"{row['mb_per_s'] / base:.2f}"
                break
        print(
            f"{name:34} {row['mb_per_s']:9.0f} {ratio:>7} {row['seconds']:8.2f} "
            f"{row['peak_mib']:7.0f} MiB"
        )
    print(
        "vs raw: 'seal in memory' against 'raw in memory', the other seal phases against "
        "'raw encrypt', unseal phases against 'raw decrypt'"
    )
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
