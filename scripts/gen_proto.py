"""Regenerate the wire-protocol code in src/accord/v1/ from proto/accord/v1/*.proto.

Usage::

    python scripts/gen_proto.py            # rewrite the generated files
    python scripts/gen_proto.py --check    # exit 1 if the checked-in files are stale

The output depends on the grpcio-tools version, which the dev extra pins exactly.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE = Path("accord") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_root: Path) -> list[Path]:
    """Run protoc into ``out_root`` and return the generated files (relative paths)."""
    sources = sorted((PROTO_ROOT / PACKAGE).glob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *(str(s.relative_to(PROTO_ROOT)) for s in sources),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(
        p.relative_to(out_root)
        for p in (out_root / PACKAGE).iterdir()
        if p.name.endswith(GENERATED_SUFFIXES)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / PACKAGE).mkdir(parents=True)
        files = generate(out)
        target = ROOT / "src"
        if options.check:
            checked_in = sorted(
                p.relative_to(target)
                for p in (target / PACKAGE).iterdir()
                if p.name.endswith(GENERATED_SUFFIXES)
            )
            stale = [str(f) for f in files if not (target / f).is_file()]
            stale += [
                str(f)
                for f in files
                if (target / f).is_file() and not filecmp.cmp(out / f, target / f, shallow=False)
            ]
            stale += [str(f) for f in checked_in if f not in files]
            if stale:
                print("generated code is stale: " + ", ".join(stale), file=sys.stderr)
                print("run: python scripts/gen_proto.py", file=sys.stderr)
                return 1
            print(f"generated code is up to date ({len(files)} files)")
            return 0
        for f in files:
            shutil.copyfile(out / f, target / f)
        print(f"wrote {len(files)} files under {target / PACKAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
