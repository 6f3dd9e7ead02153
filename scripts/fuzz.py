#!/usr/bin/env python3
"""Coverage-guided fuzzing of the parsers with atheris (libFuzzer).

    python scripts/fuzz.py frames --seconds 600
    python scripts/fuzz.py handshake --seconds 30 --merge   # add new inputs to the corpus
    python scripts/fuzz.py deflate --seconds 600

Targets live in tests/fuzz/targets.py; the seed corpus in tests/fuzz/corpus/<target>/
is committed and replayed by pytest. A crash writes ``crash-*`` into the
working directory given by --artifacts; turn it into a corpus file (a test).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_target(target: str, argv: list[str]) -> None:
    import atheris  # imported here: only the fuzz run needs it

    sys.path.insert(0, ROOT)
    with atheris.instrument_imports():
        from tests.fuzz.targets import TARGETS

        from mod_pywebsocket.protocol import (  # noqa: F401
            connection,
            deflate,
            extensions,
            frames,
            handshake,
            utf8,
        )
    atheris.Setup(argv, TARGETS[target])
    atheris.Fuzz()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--run":  # the child process
        run_target(sys.argv[2], [sys.argv[0], *sys.argv[3:]])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=["frames", "handshake", "deflate"])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--merge",
        action="store_true",
        help="copy the inputs that add coverage into the committed corpus",
    )
    parser.add_argument("--artifacts", default=tempfile.gettempdir())
    args = parser.parse_args()
    seeds = os.path.join(ROOT, "tests", "fuzz", "corpus", args.target)
    work = tempfile.mkdtemp(prefix=f"fuzz-{args.target}-")
    for name in os.listdir(seeds):
        shutil.copy(os.path.join(seeds, name), work)
    cmd = [
        sys.executable,
        __file__,
        "--run",
        args.target,
        work,
        f"-max_total_time={args.seconds}",
        "-max_len=4096",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={args.artifacts.rstrip('/')}/",
        "-print_final_stats=1",
    ]
    print("fuzz:", " ".join(cmd), flush=True)
    result = subprocess.run(cmd)
    if args.merge and result.returncode == 0:
        subprocess.run(
            [sys.executable, __file__, "--run", args.target, "-merge=1", seeds, work], check=True
        )
    print(
        f"fuzz: {args.target}: exit {result.returncode} after at most {args.seconds}s", flush=True
    )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
