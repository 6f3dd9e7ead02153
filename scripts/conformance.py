#!/usr/bin/env python3
"""Run the Autobahn suite (via kosoku) against our server and fail unless every case is clean.

    python scripts/conformance.py                  # the whole suite
    python scripts/conformance.py -x '12.*' -x '13.*'
    python scripts/conformance.py -i '6.4.*'
    python scripts/conformance.py --engine asyncio                       # blocking echo
    python scripts/conformance.py --engine asyncio --handlers tests/conformance  # async echo
    python scripts/conformance.py --http2          # over HTTP/2 (RFC 8441), through a tunnel

A case passes when its behaviour and its close behaviour are OK or
INFORMATIONAL and the closing handshake was clean. Anything else (FAILED,
NON-STRICT, UNIMPLEMENTED, an unclean close, a case missing from the report)
fails the run. The server is started here on a free port, echoing at ``/``.

Autobahn's client speaks HTTP/1.1 only. With ``--http2`` the server runs with
``--http2`` and kosoku connects to tests/http2/tunnel.py, which turns each
upgrade into an extended CONNECT on an HTTP/2 connection of its own and
relays the stream's bytes untouched: every case's frames cross the server's
HTTP/2 driver.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from child_server import EXAMPLE, ROOT, free_port, start, wait_for_port

GOOD = {"OK", "INFORMATIONAL"}


def judge(outdir: str) -> tuple[list[str], collections.Counter[str]]:
    """Problems found in a kosoku report directory, and a count of outcomes."""
    with open(os.path.join(outdir, "index.json")) as f:
        index = json.load(f)
    problems: list[str] = []
    counts: collections.Counter[str] = collections.Counter()
    if not index:
        return ["the report lists no server"], counts
    for cases in index.values():
        if not cases:
            problems.append("the report lists no case")
        for case_id, summary in sorted(
            cases.items(), key=lambda kv: [int(p) for p in kv[0].split(".")]
        ):
            with open(os.path.join(outdir, summary["reportfile"])) as f:
                report = json.load(f)
            behavior, close = report["behavior"], report["behaviorClose"]
            counts[behavior] += 1
            if behavior not in GOOD:
                problems.append(f"{case_id}: behavior {behavior}: {report.get('result', '')}")
            if close not in GOOD:
                problems.append(
                    f"{case_id}: close behavior {close}: {report.get('resultClose', '')}"
                )
            if not report.get("wasClean", False):
                problems.append(f"{case_id}: the closing handshake was not clean")
    return problems, counts


def run_kosoku(args: argparse.Namespace, port: int, outdir: str) -> float:
    kosoku = shutil.which("kosoku") or os.path.join(os.path.dirname(sys.executable), "kosoku")
    cmd = [kosoku, "-m", "fuzzingclient", "-o", outdir, "-p", str(args.parallelism)]
    for pattern in args.include:
        cmd += ["-i", pattern]
    for pattern in args.exclude:
        cmd += ["-x", pattern]
    cmd.append(f"127.0.0.1:{port}")
    print("conformance:", " ".join(cmd), flush=True)
    started = time.monotonic()
    run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(run.stdout[-2000:], flush=True)
    return time.monotonic() - started


def report(outdir: str, elapsed: float, where: str) -> int:
    if not os.path.exists(os.path.join(outdir, "index.json")):
        print("conformance: kosoku wrote no report")
        return 1
    problems, counts = judge(outdir)
    total = sum(counts.values())
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"conformance ({where}): {total} cases in {elapsed:.0f}s: {summary}; reports in {outdir}")
    for problem in problems:
        print("conformance: FAIL", problem)
    if problems or total == 0:
        return 1
    print("conformance: every case OK or INFORMATIONAL with a clean close")
    return 0


def run_against_apache(args: argparse.Namespace) -> int:
    sys.path.insert(0, os.path.join(ROOT, "tests", "apache"))
    from httpd import ApacheServer  # the test fixture that runs a real httpd

    outdir = args.outdir or tempfile.mkdtemp(prefix="autobahn-apache-")
    with ApacheServer(handler_root=EXAMPLE) as server:
        elapsed = run_kosoku(args, server.port, outdir)
        errors = server.error_log()
    if "Traceback" in errors:
        print(errors[-3000:])
        print("conformance: tracebacks in Apache's error log")
        return 1
    return report(outdir, elapsed, "Apache + mod_python")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--include", action="append", default=[], help="case glob")
    parser.add_argument("-x", "--exclude", action="append", default=[], help="case glob")
    parser.add_argument("-o", "--outdir", default=None, help="keep the reports here")
    parser.add_argument("-p", "--parallelism", type=int, default=2)
    parser.add_argument(
        "--server-arg", action="append", default=[], help="extra flag for the server (repeatable)"
    )
    parser.add_argument(
        "--engine",
        choices=("threaded", "asyncio"),
        default="threaded",
        help="the standalone server's engine (--engine)",
    )
    parser.add_argument(
        "--handlers",
        default=None,
        help="handler root whose '/' echoes (default: example/, blocking)",
    )
    parser.add_argument(
        "--http2",
        action="store_true",
        help="serve with --http2 and run the suite through the HTTP/1.1-to-HTTP/2 tunnel",
    )
    parser.add_argument(
        "--apache",
        action="store_true",
        help="run the suite against Apache httpd + mod_python instead",
    )
    args = parser.parse_args()
    if args.apache:
        return run_against_apache(args)

    outdir = args.outdir or tempfile.mkdtemp(prefix="autobahn-")
    port = free_port()
    handlers = args.handlers or EXAMPLE
    server = start(
        port, handlers, args.engine, *(["--http2"] if args.http2 else []), *args.server_arg
    )
    tunnel = None
    try:
        wait_for_port(port)
        target = port
        if args.http2:
            sys.path.insert(0, ROOT)
            from tests.http2.tunnel import Tunnel

            tunnel = Tunnel("127.0.0.1", port)
            target = tunnel.start()
        elapsed = run_kosoku(args, target, outdir)
    finally:
        if tunnel is not None:
            tunnel.stop()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    if server.returncode not in (0, -15):
        print(f"conformance: the server exited with {server.returncode}")
        return 1
    if tunnel is not None and tunnel.failures:
        print("conformance: the tunnel failed:", *map(repr, tunnel.failures[:5]))
        return 1
    where = f"standalone, {args.engine} engine, handlers {handlers}"
    return report(outdir, elapsed, where + (", over HTTP/2" if args.http2 else ""))


if __name__ == "__main__":
    sys.exit(main())
