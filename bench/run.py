#!/usr/bin/env python3
"""Benchmark our server against the Python peers, side by side, in one run.

    python3 bench/run.py              # everything, 3 repetitions (about 15 minutes)
    python3 bench/run.py --quick      # 1 repetition, smaller sizes (about 3 minutes)
    python3 bench/run.py --servers ours,picows --scenarios latency,bigecho
    python3 bench/run.py --servers ours,ours-h2 --scenarios throughput,h2-streams --quick

Each server runs pinned to core 0 and the C load generator (bench/loadgen.c)
to core 1. Per repetition every server runs every scenario, the order of the
servers rotating between repetitions; the tables report medians (min-max)
and the ratio of ours to each peer (> 1 means we lead). A plain C echo server
driven by the same generator shows the generator is not the bottleneck.
ours-h2 is ours with --http2: it runs h2-streams (WebSockets over one HTTP/2
connection, RFC 8441, which no peer serves) and, beside it, the HTTP/1.1
throughput scenario, so the report can set one against the other.
Peers live in bench/.venv-peers, ours in bench/.venv-ours (pywebsocket3 and
our package both provide the `pywebsocket3` import name, so they can't share).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(BENCH, ".build")
PEERS_VENV = os.path.join(BENCH, ".venv-peers")
OURS_VENV = os.path.join(BENCH, ".venv-ours")
BASELINE_VENV = os.path.join(BENCH, ".venv-baseline")
RESULTS = os.path.join(BENCH, "results")
PEER_PACKAGES = [
    "websockets",
    "aiohttp",
    "picows",
    "tornado",
    "pywebsocket3",
    "matplotlib",
    "uvloop",
]
SERVER_CORE, CLIENT_CORE = "0", "1"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def venv_python(venv: str) -> str:
    return os.path.join(venv, "bin", "python")


def setup() -> None:
    """Build the C tools and the two environments (only what is missing)."""
    os.makedirs(BUILD, exist_ok=True)
    for tool in ("loadgen", "native_echo", "native_ws"):
        source = os.path.join(BENCH, f"{tool}.c")
        target = os.path.join(BUILD, tool)
        if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(source):
            log(f"compiling {tool}")
            subprocess.run(["gcc", "-O2", "-Wall", "-o", target, source], check=True)
    log("installing the peers into bench/.venv-peers (only what is missing)")
    if not os.path.exists(venv_python(PEERS_VENV)):
        subprocess.run([sys.executable, "-m", "venv", PEERS_VENV], check=True)
    subprocess.run(
        [venv_python(PEERS_VENV), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True
    )
    log("installing this repository into bench/.venv-ours")
    if not os.path.exists(venv_python(OURS_VENV)):
        subprocess.run([sys.executable, "-m", "venv", OURS_VENV], check=True)
    # The http2 extra (h2) for ours-h2's --http2; uvloop, which ours-asyncio runs on when present.
    subprocess.run(
        [
            venv_python(OURS_VENV),
            "-m",
            "pip",
            "install",
            "-q",
            "--upgrade",
            f"{ROOT}[http2,uvloop]",
        ],
        check=True,
    )


def setup_baseline(revision: str) -> None:
    """Install ``revision`` of this repository into bench/.venv-baseline (--baseline)."""
    source = os.path.join(BUILD, "baseline-src")
    log(f"installing {revision} of this repository into bench/.venv-baseline")
    shutil.rmtree(source, ignore_errors=True)
    os.makedirs(source)
    archive = subprocess.run(
        ["git", "-C", ROOT, "archive", revision], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", source], input=archive, check=True)
    if not os.path.exists(venv_python(BASELINE_VENV)):
        subprocess.run([sys.executable, "-m", "venv", BASELINE_VENV], check=True)
    subprocess.run(
        [
            venv_python(BASELINE_VENV),
            "-m",
            "pip",
            "install",
            "-q",
            "--upgrade",
            "--force-reinstall",
            "--no-deps",
            source,
        ],
        check=True,
    )
    subprocess.run([venv_python(BASELINE_VENV), "-m", "pip", "install", "-q", source], check=True)


def ours_command(venv: str, port: int, *engine: str) -> list[str]:
    handlers = "handlers_async" if engine else "handlers"
    return [
        venv_python(venv),
        "-m",
        "mod_pywebsocket.standalone",
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        os.path.join(BENCH, handlers),
        "--log-level",
        "error",
        "--no-deflate",
        "--max-connections",
        "100000",
        *engine,
    ]


def server_commands(port: int) -> dict[str, list[str]]:
    peers = venv_python(PEERS_VENV)
    return {
        "ours": ours_command(OURS_VENV, port),
        # The asyncio engine with an async echo handler (bench/handlers_async).
        "ours-asyncio": ours_command(OURS_VENV, port, "--engine", "asyncio"),
        # The threaded engine with HTTP/2 on (RFC 8441; h2c with prior knowledge on
        # the same port as HTTP/1.1), for h2-streams and throughput (SERVER_SCENARIOS).
        "ours-h2": [*ours_command(OURS_VENV, port), "--http2"],
        # Another revision of ours (--baseline), to compare a change side by side.
        "baseline": ours_command(BASELINE_VENV, port),
        "pywebsocket3": [
            peers,
            "-m",
            "pywebsocket3.standalone",
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            os.path.join(BENCH, "handlers_pyws3"),
            "--log-level",
            "error",
        ],
        "websockets-asyncio": [
            peers,
            os.path.join(BENCH, "peers", "websockets_asyncio.py"),
            str(port),
        ],
        "websockets-sync": [peers, os.path.join(BENCH, "peers", "websockets_sync.py"), str(port)],
        "aiohttp": [peers, os.path.join(BENCH, "peers", "aiohttp_server.py"), str(port)],
        "picows": [peers, os.path.join(BENCH, "peers", "picows_server.py"), str(port)],
        # picows on uvloop, the loop ours-asyncio runs on: the like-for-like pair.
        "picows-uvloop": [
            peers,
            os.path.join(BENCH, "peers", "picows_server.py"),
            str(port),
            "--uvloop",
        ],
        "tornado": [peers, os.path.join(BENCH, "peers", "tornado_server.py"), str(port)],
        "native-echo": [os.path.join(BUILD, "native_echo"), str(port)],
        # The C WebSocket echo: the floor for the handshakes and the round trip.
        "native-ws": [os.path.join(BUILD, "native_ws"), str(port)],
        # The asyncio engine's design with nothing else (a Task per connection on
        # uvloop, a real accept key, no checks): the floor of ours-asyncio's handshakes.
        "py-floor": [peers, os.path.join(BENCH, "py_floor.py"), str(port)],
    }


@dataclass
class Scenario:
    name: str
    title: str
    unit: str
    higher_is_better: bool
    args: list[str]
    key: str
    raw_ok: bool = True
    # The servers that can run it (None: all); the others' cells read "n/a".
    only: tuple[str, ...] | None = None


# Servers that run only some scenarios: ours-h2 is there for HTTP/2 against HTTP/1.1,
# native-ws for the floor of what needs the protocol and the generator's raw mode cannot drive.
SERVER_SCENARIOS = {
    "ours-h2": ("throughput", "h2-streams"),
    "native-ws": ("latency", "handshakes-1", "handshakes-16"),
    "py-floor": ("handshakes-1", "handshakes-16"),
}

# The C references: not peers (no ratio columns); the report sets every server against
# the first of them that ran a scenario.
REFERENCES = ("native-ws", "native-echo")
# Not peers either (no ratio columns): what a design costs with nothing else in it.
FLOORS = ("py-floor",)
NOT_PEERS = REFERENCES + FLOORS


def applies(server: str, scenario: Scenario) -> bool:
    """Whether ``server`` runs ``scenario`` at all (else "n/a", not a failure)."""
    if server == "native-echo" and not scenario.raw_ok:
        return False
    if scenario.only is not None and server not in scenario.only:
        return False
    return scenario.name in SERVER_SCENARIOS.get(server, (scenario.name,))


ASYNC_SERVERS = (
    "ours-asyncio",
    "websockets-asyncio",
    "aiohttp",
    "picows",
    "picows-uvloop",
    "tornado",
)

# Scenarios this machine cannot run, with why (reported under the table, not as failures).
NOT_RUN: dict[str, str] = {}


def descriptors_short(scenario: Scenario) -> str | None:
    """Why an idle scenario cannot run here: each side needs a descriptor per
    connection, and an unprivileged process cannot raise its hard limit."""
    if scenario.args[0] != "idle":
        return None
    needed = int(scenario.args[1]) + 1000
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < needed:
        return (
            f"RLIMIT_NOFILE's hard limit here is {hard}, and {int(scenario.args[1]):,} "
            f"connections need {needed:,} descriptors in each of the server and the load "
            "generator (raise it with `ulimit -Hn` as a user with CAP_SYS_RESOURCE)"
        )
    return None


def scenarios(quick: bool) -> list[Scenario]:
    return [
        Scenario(
            "latency",
            "round trip, 32 B text, 1 connection",
            "µs (median)",
            False,
            ["latency", "2000" if quick else "10000", "32"],
            "median_us",
        ),
        Scenario(
            "throughput",
            "32 B text, 64 connections x 16 in flight",
            "msg/s",
            True,
            ["throughput", "64", "16", "32", "2" if quick else "5"],
            "msgs_per_s",
        ),
        Scenario(
            "h2-streams",
            "32 B text, 64 WebSockets on one HTTP/2 connection x 16 in flight",
            "msg/s",
            True,
            ["h2", "64", "16", "32", "2" if quick else "5"],
            "msgs_per_s",
            raw_ok=False,
            # RFC 8441 (extended CONNECT over h2c): no peer serves it.
            only=("ours-h2",),
        ),
        Scenario(
            "bigecho",
            "1 MiB binary echo, 1 connection",
            "MB/s",
            True,
            ["bigecho", str(1 << 20), "100" if quick else "400"],
            "mb_per_s",
        ),
        Scenario(
            "handshakes-1",
            "handshakes (open + close), sequential",
            "per s",
            True,
            ["handshakes", "1", "2" if quick else "4"],
            "handshakes_per_s",
            raw_ok=False,
        ),
        Scenario(
            "handshakes-16",
            "handshakes (open + close), 16 in parallel",
            "per s",
            True,
            ["handshakes", "16", "2" if quick else "4"],
            "handshakes_per_s",
            raw_ok=False,
        ),
        *[
            Scenario(
                f"idle-{n // 1000}k",
                f"{n} idle connections, then one echo each",
                "KiB RSS / connection",
                False,
                ["idle", str(n)],
                "rss_kib_per_conn",
                raw_ok=False,
            )
            for n in ((1000,) if quick else (1000, 5000, 10000))
        ],
        Scenario(
            "idle-100k",
            "100000 idle connections, then one echo each",
            "KiB RSS / connection",
            False,
            ["idle", "100000"],
            "rss_kib_per_conn",
            raw_ok=False,
            # Event-loop servers only: a thread per connection would be 100k threads.
            only=ASYNC_SERVERS,
        ),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def parse_result(output: str) -> dict[str, float]:
    for line in output.splitlines():
        if line.startswith("RESULT "):
            return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    raise RuntimeError(f"no RESULT line in {output[-500:]!r}")


def run_one(server: str, scenario: Scenario) -> float | None:
    short = descriptors_short(scenario)
    if short:
        NOT_RUN[scenario.name] = short
        return None
    port = free_port()
    command = server_commands(port)[server]
    process = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=raise_fd_limit,
    )
    try:
        wait_port(port, process)
        time.sleep(0.3)
        raw = ["--raw"] if server == "native-echo" else []
        generator = [
            "taskset",
            "-c",
            CLIENT_CORE,
            os.path.join(BUILD, "loadgen"),
            *raw,
            scenario.args[0],
            "127.0.0.1",
            str(port),
            "/",
            *scenario.args[1:],
        ]
        if scenario.args[0] == "idle":
            return idle_rss(process, generator, int(scenario.args[1]))
        done = subprocess.run(
            generator, capture_output=True, text=True, timeout=300, preexec_fn=raise_fd_limit
        )
        if done.returncode:
            raise RuntimeError(done.stderr.strip()[-300:])
        return parse_result(done.stdout)[scenario.key]
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        log(f"  {server} {scenario.name}: FAILED: {exc}")
        return None
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def idle_rss(server: subprocess.Popen[bytes], generator: list[str], count: int) -> float | None:
    baseline = rss_kib(server.pid)
    client = subprocess.Popen(
        generator,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=raise_fd_limit,
    )
    assert client.stdin is not None and client.stdout is not None
    line = client.stdout.readline()
    if not line.startswith("OPEN"):
        client.kill()
        raise RuntimeError(f"could not open {count} connections: {line!r}")
    time.sleep(1.0)
    held = rss_kib(server.pid)
    client.stdin.write("go\n")
    client.stdin.flush()
    output, _ = client.communicate(timeout=300)
    result = parse_result(output)
    if int(result["echoed"]) != count:
        raise RuntimeError(f"only {int(result['echoed'])} of {count} echoed")
    return (held - baseline) / count


@dataclass
class Table:
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, scenario: str, server: str, value: float | None) -> None:
        if value is not None:
            self.values.setdefault(scenario, {}).setdefault(server, []).append(value)


def fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


BASELINE_REVISION: str | None = None  # set by --baseline, named in the report


def machine() -> list[str]:
    model = "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    versions = subprocess.run(
        [venv_python(PEERS_VENV), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
    ).stdout
    wanted = {p.lower() for p in PEER_PACKAGES}
    peers = ", ".join(
        f"{p['name']} {p['version']}"
        for p in json.loads(versions or "[]")
        if p["name"].lower() in wanted
    )
    speedups = subprocess.run(
        [
            venv_python(OURS_VENV),
            "-c",
            "from mod_pywebsocket.protocol import masking; print(masking.HAS_SPEEDUPS)",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return [
        f"- machine: {model}, {os.cpu_count()} cores, Linux {platform.release()}",
        f"- Python {platform.python_version()}; peers: {peers}",
        f"- ours: mod_pywebsocket from this checkout, C speedups: {speedups}",
        *(
            [
                f"- baseline: mod_pywebsocket at `{BASELINE_REVISION}` (`--baseline`), the same "
                "handler and flags"
            ]
            if BASELINE_REVISION
            else []
        ),
        "- server on core 0, load generator (bench/loadgen.c) on core 1, loopback, compression off",
    ]


def report(table: Table, chosen: list[Scenario], servers: list[str], reps: int) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `python3 bench/run.py` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {reps} repetition(s), medians (min-max).",
        "",
        *machine(),
        "",
        "## Absolute figures",
        "",
    ]
    header = "| scenario | unit | " + " | ".join(servers) + " |"
    lines += [header, "|" + "---|" * (len(servers) + 2)]
    for s in chosen:
        row = [s.title, s.unit]
        for server in servers:
            values = table.values.get(s.name, {}).get(server)
            if not applies(server, s):
                row.append("n/a")
            elif s.name in NOT_RUN:
                row.append("not run")
            elif not values:
                row.append("failed")
            else:
                row.append(
                    f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"
                )
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("n/a: the server does not run the scenario; failed: every run of it failed.")
    for name, why in NOT_RUN.items():
        lines.append(f"\nnot run ({name}): {why}.")
    for ours_name in ("ours", "ours-asyncio"):
        if ours_name in servers:
            lines += ratio_table(table, chosen, servers, ours_name)
    lines += reference_table(table, chosen, servers)
    lines += http2_table(table)
    return "\n".join(lines) + "\n"


def reference_table(table: Table, chosen: list[Scenario], servers: list[str]) -> list[str]:
    """Every server as a fraction of the first C reference (REFERENCES) that ran the
    scenario: how far from this machine's floor each one is."""
    others = [p for p in servers if p not in REFERENCES]
    rows = []
    for s in chosen:
        measured = table.values.get(s.name, {})
        reference = next((r for r in REFERENCES if measured.get(r)), None)
        if reference is None:
            continue
        floor = statistics.median(measured[reference])
        row = [s.title, reference]
        for server in others:
            values = measured.get(server)
            if not values:
                row.append("n/a" if not applies(server, s) else "-")
                continue
            value = statistics.median(values)
            row.append(f"{value / floor if s.higher_is_better else floor / value:.2f}")
        rows.append("| " + " | ".join(row) + " |")
    if not rows:
        return []
    return [
        "",
        "## Against the C references (a fraction of the C server's figure: 1.00 is as fast as C)",
        "",
        "| scenario | reference | " + " | ".join(others) + " |",
        "|" + "---|" * (len(others) + 2),
        *rows,
    ]


def http2_table(table: Table) -> list[str]:
    """h2-streams (64 WebSockets on one HTTP/2 connection) against throughput (64
    HTTP/1.1 connections), the same 64 x 16 x 32 B load, in this run."""
    h2 = table.values.get("h2-streams", {}).get("ours-h2")
    if not h2:
        return []
    h1 = table.values.get("throughput", {})
    lines = [
        "",
        "## HTTP/2 against HTTP/1.1 (64 WebSockets x 16 in flight, 32 B text)",
        "",
        "| h2-streams on ours-h2, msg/s | HTTP/1.1 throughput of | msg/s | h2 / HTTP/1.1 |",
        "|---|---|---|---|",
    ]
    for server, label in (
        ("ours", "ours (64 HTTP/1.1 connections)"),
        ("ours-h2", "ours-h2 (64 HTTP/1.1 connections, --http2 on)"),
    ):
        if h1.get(server):
            a, b = statistics.median(h2), statistics.median(h1[server])
            lines.append(f"| {fmt(a)} | {label} | {fmt(b)} | {a / b:.2f}x |")
    return lines


def ratio_table(
    table: Table, chosen: list[Scenario], servers: list[str], ours_name: str
) -> list[str]:
    """``ours_name`` (an engine of ours) relative to every other server of the run."""
    peers = [p for p in servers if p != ours_name and p not in NOT_PEERS]
    lines = [
        "",
        f"## {ours_name} relative to each other server (> 1: {ours_name} leads)",
        "",
        "| scenario | " + " | ".join(peers) + " |",
        "|" + "---|" * (len(peers) + 1),
    ]
    for s in chosen:
        ours = table.values.get(s.name, {}).get(ours_name)
        row = [s.title]
        for peer in peers:
            theirs = table.values.get(s.name, {}).get(peer)
            if not applies(ours_name, s) or not applies(peer, s):
                row.append("n/a")
                continue
            if not ours or not theirs:
                row.append("-")
                continue
            a, b = statistics.median(ours), statistics.median(theirs)
            ratio = a / b if s.higher_is_better else b / a
            row.append(f"{ratio:.2f}x")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def chart(table: Table, chosen: list[Scenario], servers: list[str], path: str) -> None:
    code = f"""
import json, statistics, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
values = json.loads({json.dumps(json.dumps(table.values))})
scenarios = json.loads({
        json.dumps(json.dumps([(s.name, s.title, s.higher_is_better) for s in chosen]))
    })
peers = json.loads({
        json.dumps(json.dumps([p for p in servers if p != "ours" and p not in NOT_PEERS]))
    })
fig, axes = plt.subplots(len(scenarios), 1, figsize=(9, 2.2 * len(scenarios)), squeeze=False)
for ax, (name, title, higher) in zip(axes[:, 0], scenarios):
    ours = values.get(name, {{}}).get("ours")
    ratios = []
    for peer in peers:
        theirs = values.get(name, {{}}).get(peer)
        if ours and theirs:
            a, b = statistics.median(ours), statistics.median(theirs)
            ratios.append(a / b if higher else b / a)
        else:
            ratios.append(0)
    bars = ax.barh(peers, ratios, color=["#2a7" if r >= 1 else "#c44" for r in ratios])
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_title(title + " (ours / peer, > 1 = we lead)", fontsize=9)
    ax.set_xscale("log")
    for bar, r in zip(bars, ratios):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {{r:.2f}}x",
                va="center", fontsize=8)
fig.tight_layout()
fig.savefig({json.dumps(path)}, dpi=110)
"""
    subprocess.run([venv_python(PEERS_VENV), "-c", code], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition, smaller sizes")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--servers", default=None, help="comma-separated subset")
    parser.add_argument("--scenarios", default=None, help="comma-separated subset")
    parser.add_argument("--no-setup", action="store_true", help="skip building and installing")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        default=None,
        help="also run this git revision of ours as the server 'baseline' "
        "(its column then compares this checkout with it)",
    )
    args = parser.parse_args()
    if os.cpu_count() is not None and os.cpu_count() < 2:  # type: ignore[operator]
        log("warning: fewer than 2 cores; server and load generator will share one")
    if not args.no_setup:
        setup()
        if args.baseline:
            setup_baseline(args.baseline)
    global BASELINE_REVISION
    BASELINE_REVISION = args.baseline
    all_servers = [name for name in server_commands(0) if name != "baseline" or args.baseline]
    servers = args.servers.split(",") if args.servers else all_servers
    if args.baseline and "baseline" not in servers:
        servers.insert(1, "baseline")
    chosen = [
        s
        for s in scenarios(args.quick)
        if not args.scenarios or s.name in args.scenarios.split(",")
    ]
    reps = args.reps or (1 if args.quick else 3)
    table = Table()
    started = time.monotonic()
    total = reps * sum(applies(server, s) for s in chosen for server in servers)
    done = 0
    for rep in range(reps):
        order = servers[rep % len(servers) :] + servers[: rep % len(servers)]
        for scenario in chosen:
            for server in order:
                if not applies(server, scenario):
                    continue
                done += 1
                value = run_one(server, scenario)
                table.add(scenario.name, server, value)
                log(
                    f"[{done}/{total}] rep {rep + 1} {scenario.name:14} {server:19} "
                    f"{'-' if value is None else fmt(value)}  "
                    f"({time.monotonic() - started:.0f}s)"
                )
    os.makedirs(RESULTS, exist_ok=True)
    text = report(table, chosen, servers, reps)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(table.values, f, indent=1)
    charted = [s for s in chosen if applies("ours", s)]
    if charted:
        chart(table, charted, servers, os.path.join(RESULTS, "latest.png"))
    print(text)
    log(f"done in {time.monotonic() - started:.0f}s: bench/results/latest.md and latest.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
