#!/usr/bin/env python3
"""Peer benchmark: weir against Rotel on one pinned core, OTLP/gRPC in and out.

For each system under test (SUT) the harness starts the blackhole `sink`
(pinned to the load core), starts the SUT (pinned to the SUT core), warms it
up, then runs `loadgen` (pinned to the load core) for a fixed duration and
waits until every span the SUT acknowledged has reached the sink. It reports,
per SUT: spans/s delivered, CPU-seconds per million spans (utime + stime of
the SUT from /proc), peak RSS (VmHWM), and ratios against Rotel measured in
the same run. A Markdown table goes to stdout; JSON and Markdown to
benches/results/ (gitignored).

Systems: `rotel` and one `weir:<name>` per pipeline in
benches/harness/pipelines/*.kdl that `weir validate` accepts (add more with
--weir-pipeline NAME=PATH; pipelines must use the harness's ports: receiver
127.0.0.1:14317, exporter to http://127.0.0.1:24317, admin 127.0.0.1:18888).

Usage:
    python3 benches/harness/peer.py                    # build, install Rotel, run all
    python3 benches/harness/peer.py --systems rotel --duration 10 --no-build

Python 3.11 standard library only. Loopback only; every step is bounded in
time and every process started is killed at the end, even on error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PIPELINES_DIR = Path(__file__).resolve().parent / "pipelines"
RESULTS_DIR = REPO / "benches" / "results"

SUT_GRPC = ("127.0.0.1", 14317)
SUT_HTTP = ("127.0.0.1", 14318)
SINK_GRPC = ("127.0.0.1", 24317)
SINK_STATUS = ("127.0.0.1", 24380)
WEIR_ADMIN = ("127.0.0.1", 18888)

ROTEL_VERSION = "0.0.1a15"
CLK_TCK = os.sysconf("SC_CLK_TCK")

BUILD_TIMEOUT_S = 3600
INSTALL_TIMEOUT_S = 600
READY_TIMEOUT_S = 30
DRAIN_TIMEOUT_S = 30
DRAIN_QUIET_S = 2.0
STOP_GRACE_S = 5


class HarnessError(Exception):
    """A step of the harness failed; the message says which and why."""


# --------------------------------------------------------------------------
# Processes


class Processes:
    """Starts processes in their own session and kills them all on exit."""

    def __init__(self, priority: bool) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.priority = priority

    def start(self, name: str, argv: list[str], log: Path) -> subprocess.Popen:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs.append((name, proc))
        boost(proc.pid, self.priority)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        """SIGTERM, then SIGKILL after a grace period; the process group."""
        if proc.returncode is not None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc: object) -> None:
        for _, proc in reversed(self.procs):
            self.stop(proc)


def run_checked(argv: list[str], timeout: float, what: str, **kwargs) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"{what} did not finish within {timeout:.0f}s") from e
    except FileNotFoundError as e:
        raise HarnessError(f"{what}: {argv[0]} not found") from e
    if done.returncode != 0:
        detail = ""
        if isinstance(done.stderr, (bytes, str)) and done.stderr:
            detail = done.stderr if isinstance(done.stderr, str) else done.stderr.decode(errors="replace")
            detail = ": " + detail.strip()[-2000:]
        raise HarnessError(f"{what} failed with exit code {done.returncode}{detail}")
    return done


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLK_TCK


def core_busy_seconds(core: int) -> float:
    """Non-idle time of one CPU since boot (/proc/stat), in seconds."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + (v[4] if len(v) > 4 else 0)
                return (sum(v[:8]) - idle) / CLK_TCK
    raise HarnessError(f"no cpu{core} line in /proc/stat")


def boost(pid: int, enabled: bool) -> None:
    """Gives the process's session (autogroup) the highest CPU weight, so
    builds running in other sessions on the same core do not take half of
    it. Each process the harness starts has its own session."""
    if not enabled:
        return
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write("-20")
    except OSError as e:
        print(f"Cannot raise the priority of process {pid}: {e}.", file=sys.stderr)


def status_kib(pid: int, key: str) -> int | None:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def port_open(addr: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(addr, timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(what: str, timeout: float, check, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise HarnessError(f"{what}: the process exited with code {proc.returncode}\n{tail}")
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise HarnessError(f"{what}: not ready within {timeout:.0f}s")


def sink_totals() -> dict | None:
    url = f"http://{SINK_STATUS[0]}:{SINK_STATUS[1]}/"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.load(resp)
    except (OSError, ValueError):
        return None


def sink_spans() -> int:
    totals = sink_totals()
    if totals is None:
        raise HarnessError("the sink's status endpoint does not answer")
    return int(totals["traces"]["items"])


# --------------------------------------------------------------------------
# Build and install


def cargo_target_dir() -> Path:
    done = run_checked(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        timeout=120,
        what="cargo metadata",
        cwd=REPO,
        capture_output=True,
    )
    return Path(json.loads(done.stdout)["target_directory"])


def build(no_build: bool, with_weir: bool) -> Path:
    """Builds the release binaries (weir only when a weir system is asked
    for) and returns the release directory."""
    target = cargo_target_dir()
    packages = ["-p", "weir-benches"] + (["-p", "weir-cli"] if with_weir else [])
    if not no_build:
        print("Building the release binaries (nice cargo build --release)...", file=sys.stderr)
        run_checked(
            ["nice", "cargo", "build", "--release", *packages, "--bins"],
            timeout=BUILD_TIMEOUT_S,
            what="cargo build --release",
            cwd=REPO,
        )
    release = target / "release"
    for name in ("weir", "loadgen", "sink") if with_weir else ("loadgen", "sink"):
        if not (release / name).is_file():
            raise HarnessError(f"{release / name} is missing: build it (drop --no-build)")
    return release


def rotel_agent(explicit: str | None, version: str, target: Path) -> Path:
    """The rotel-agent binary: --rotel, else the PyPI package `rotel`
    installed (once) into target/peers/rotel-<version>/."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise HarnessError(f"--rotel {path}: no such file")
        return path
    prefix = target / "peers" / f"rotel-{version}"
    agent = prefix / "rotel" / "rotel-agent"
    if not agent.is_file():
        print(f"Installing rotel=={version} from PyPI into {prefix}...", file=sys.stderr)
        run_checked(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(prefix), f"rotel=={version}"],
            timeout=INSTALL_TIMEOUT_S,
            what="pip install rotel",
            capture_output=True,
        )
        if not agent.is_file():
            raise HarnessError(f"pip installed rotel but {agent} is missing")
    agent.chmod(0o755)
    return agent


# --------------------------------------------------------------------------
# Systems under test


@dataclass
class System:
    name: str
    argv: list[str]
    note: str = ""


def rotel_system(agent: Path, workdir: Path, compression: str) -> System:
    return System(
        name="rotel",
        argv=[
            str(agent),
            "start",
            "--otlp-grpc-endpoint", f"{SUT_GRPC[0]}:{SUT_GRPC[1]}",
            "--otlp-http-endpoint", f"{SUT_HTTP[0]}:{SUT_HTTP[1]}",
            "--exporter", "otlp",
            "--otlp-exporter-endpoint", f"http://{SINK_GRPC[0]}:{SINK_GRPC[1]}",
            "--otlp-exporter-protocol", "grpc",
            "--otlp-exporter-compression", compression,
            "--pid-file", str(workdir / "rotel.pid"),
            "--log-file", str(workdir / "rotel-agent.log"),
        ],
        note=f"default batching (8192 spans / 200 ms), exporter compression {compression}",
    )


def weir_systems(weir: Path, extra: list[str], only: set[str] | None) -> tuple[list[System], list[dict]]:
    """One system per pipeline file that `weir validate` accepts."""
    pipelines = {p.stem: p for p in sorted(PIPELINES_DIR.glob("*.kdl"))}
    for item in extra:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise HarnessError(f"--weir-pipeline {item!r}: expected NAME=PATH")
        pipelines[name] = Path(path).resolve()
    systems, skipped = [], []
    for name, path in pipelines.items():
        sut = f"weir:{name}"
        if only is not None and sut not in only:
            continue
        check = subprocess.run(
            [str(weir), "validate", str(path)], capture_output=True, text=True, timeout=60
        )
        if check.returncode != 0:
            reason = (check.stderr or check.stdout).strip().splitlines()
            skipped.append({"system": sut, "pipeline": str(path), "reason": " ".join(reason[:3])})
            print(f"Skipping {sut}: `weir validate {path}` failed.", file=sys.stderr)
            continue
        systems.append(System(name=sut, argv=[str(weir), "run", str(path)], note=path.name))
    return systems, skipped


# --------------------------------------------------------------------------
# One measurement


@dataclass
class Options:
    release: Path
    duration: float
    warmup: float
    concurrency: int
    connections: int
    spans_per_request: int
    attributes: int
    sut_core: int
    load_core: int
    sink_count: str
    workdir: Path
    priority: bool


@dataclass
class Measurement:
    system: str
    note: str
    spans_acked: int = 0
    spans_delivered: int = 0
    window_s: float = 0.0
    sut_cpu_s: float = 0.0
    other_on_sut_core_s: float = 0.0
    sut_peak_rss_kib: int | None = None
    load_core_busy: float = 0.0
    loadgen: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def spans_per_s(self) -> float:
        return self.spans_delivered / self.window_s if self.window_s > 0 else 0.0

    @property
    def cpu_s_per_million(self) -> float | None:
        if self.spans_delivered == 0:
            return None
        return self.sut_cpu_s / self.spans_delivered * 1e6

    @property
    def sut_core_busy(self) -> float:
        return self.sut_cpu_s / self.window_s if self.window_s > 0 else 0.0

    def to_json(self) -> dict:
        return {
            "system": self.system,
            "note": self.note,
            "spans_per_s": self.spans_per_s,
            "cpu_s_per_million_spans": self.cpu_s_per_million,
            "peak_rss_mib": self.sut_peak_rss_kib / 1024 if self.sut_peak_rss_kib else None,
            "spans_acked_by_sut": self.spans_acked,
            "spans_delivered_to_sink": self.spans_delivered,
            "spans_lost": self.spans_acked - self.spans_delivered,
            "window_s": self.window_s,
            "sut_cpu_s": self.sut_cpu_s,
            "sut_core_busy": self.sut_core_busy,
            "other_cpu_on_sut_core_s": self.other_on_sut_core_s,
            "load_core_busy": self.load_core_busy,
            "loadgen": self.loadgen,
            "error": self.error,
        }


def pinned(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv]


def loadgen_argv(opts: Options, duration: float) -> list[str]:
    return pinned(
        opts.load_core,
        [
            str(opts.release / "loadgen"),
            "--endpoint", f"http://{SUT_GRPC[0]}:{SUT_GRPC[1]}",
            "--concurrency", str(opts.concurrency),
            "--connections", str(opts.connections),
            "--spans-per-request", str(opts.spans_per_request),
            "--attributes", str(opts.attributes),
            "--duration", f"{duration}s",
        ],
    )


def run_loadgen(opts: Options, duration: float, log: Path) -> tuple[dict, float]:
    """Runs the load generator to completion; returns its JSON report and
    the CPU seconds it used (from wait4's rusage)."""
    with open(log, "ab") as err:
        proc = subprocess.Popen(
            loadgen_argv(opts, duration),
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    boost(proc.pid, opts.priority)
    deadline = time.monotonic() + duration + 90
    try:
        out = bytearray()
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        while True:
            chunk = proc.stdout.read()
            if chunk:
                out += chunk
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                rest = proc.stdout.read()
                if rest:
                    out += rest
                break
            if time.monotonic() > deadline:
                raise HarnessError(f"loadgen did not finish within {duration + 90:.0f}s")
            time.sleep(0.05)
    finally:
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=STOP_GRACE_S)
    if proc.returncode != 0:
        raise HarnessError(f"loadgen exited with code {proc.returncode} (see {log})")
    try:
        report = json.loads(out.decode())
    except ValueError as e:
        raise HarnessError(f"loadgen printed no JSON report (see {log})") from e
    return report, usage.ru_utime + usage.ru_stime


def wait_drain(expected: int, start_count: int) -> tuple[int, float]:
    """Polls the sink until it holds `expected` more spans than at
    `start_count`, or no span arrived for DRAIN_QUIET_S, or DRAIN_TIMEOUT_S
    passed. Returns the spans delivered and the monotonic time of the last
    arrival."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    last = sink_spans()
    last_change = time.monotonic()
    while time.monotonic() < deadline:
        if last - start_count >= expected:
            break
        if time.monotonic() - last_change > DRAIN_QUIET_S:
            break
        time.sleep(0.02)
        now = sink_spans()
        if now != last:
            last, last_change = now, time.monotonic()
    return last - start_count, last_change


def measure(system: System, opts: Options) -> Measurement:
    m = Measurement(system=system.name, note=system.note)
    tag = system.name.replace(":", "-")
    for addr in (SUT_GRPC, SUT_HTTP, WEIR_ADMIN, SINK_GRPC, SINK_STATUS):
        if port_open(addr):
            raise HarnessError(f"{addr[0]}:{addr[1]} is already in use: stop whatever listens there")
    with Processes(opts.priority) as procs:
        sink_log = opts.workdir / f"{tag}.sink.log"
        sink = procs.start(
            "sink",
            pinned(
                opts.load_core,
                [
                    str(opts.release / "sink"),
                    "--listen", f"{SINK_GRPC[0]}:{SINK_GRPC[1]}",
                    "--status", f"{SINK_STATUS[0]}:{SINK_STATUS[1]}",
                    "--count", opts.sink_count,
                ],
            ),
            sink_log,
        )
        wait_until("sink", READY_TIMEOUT_S, sink_totals, sink, sink_log)

        sut_log = opts.workdir / f"{tag}.log"
        sut = procs.start(system.name, pinned(opts.sut_core, system.argv), sut_log)
        wait_until(system.name, READY_TIMEOUT_S, lambda: port_open(SUT_GRPC), sut, sut_log)
        loadgen_log = opts.workdir / f"{tag}.loadgen.log"

        if opts.warmup > 0:
            warm_start = sink_spans()
            warm, _ = run_loadgen(opts, opts.warmup, loadgen_log)
            wait_drain(warm["spans_sent"], warm_start)

        start_count = sink_spans()
        sink_cpu0 = cpu_seconds(sink.pid)
        sut_cpu0 = cpu_seconds(sut.pid)
        core0 = core_busy_seconds(opts.sut_core)
        report, loadgen_cpu = run_loadgen(opts, opts.duration, loadgen_log)
        loadgen_done = time.monotonic()
        delivered, t_last = wait_drain(report["spans_sent"], start_count)
        if sut.poll() is not None:
            raise HarnessError(f"{system.name} exited during the run (code {sut.returncode}, see {sut_log})")
        m.sut_cpu_s = cpu_seconds(sut.pid) - sut_cpu0
        m.other_on_sut_core_s = max(core_busy_seconds(opts.sut_core) - core0 - m.sut_cpu_s, 0.0)
        sink_cpu = cpu_seconds(sink.pid) - sink_cpu0
        m.sut_peak_rss_kib = status_kib(sut.pid, "VmHWM")
        # The load's own window (first send to last answer, without the pool
        # encoding and connecting), plus however long the SUT took after it
        # to deliver what it had acknowledged.
        m.window_s = max(float(report["elapsed_s"]) + max(t_last - loadgen_done, 0.0), 1e-9)
        m.spans_acked = int(report["spans_sent"])
        m.spans_delivered = delivered
        m.load_core_busy = (loadgen_cpu + sink_cpu) / m.window_s
        m.loadgen = report
    return m


# --------------------------------------------------------------------------
# Report


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "weir_commit": rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else ""),
    }


def fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + unit


def markdown(results: list[Measurement], skipped: list[dict], opts: Options) -> str:
    rotel = next((r for r in results if r.system == "rotel" and r.error is None), None)
    lines = [
        f"{opts.spans_per_request}-span requests x {opts.attributes} attributes, "
        f"{opts.concurrency} in flight over {opts.connections} connections, "
        f"{opts.duration:g}s per system after {opts.warmup:g}s warm-up; "
        f"SUT on core {opts.sut_core}, loadgen + sink on core {opts.load_core}.",
        "",
        "| system | spans/s delivered | CPU-s per M spans | peak RSS MiB | vs Rotel: throughput | vs Rotel: CPU/span | SUT core busy | others on SUT core | load core busy | lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error:
            lines.append(f"| {r.system} | failed: {r.error.splitlines()[0][:120]} | | | | | | | | |")
            continue
        thr = cpu = None
        if rotel is not None and rotel.spans_per_s > 0:
            thr = r.spans_per_s / rotel.spans_per_s
            if r.cpu_s_per_million and rotel.cpu_s_per_million:
                cpu = r.cpu_s_per_million / rotel.cpu_s_per_million
        rss = r.sut_peak_rss_kib / 1024 if r.sut_peak_rss_kib else None
        lines.append(
            f"| {r.system} | {r.spans_per_s:,.0f} | {fmt(r.cpu_s_per_million, '.3f')} | {fmt(rss, '.1f')} "
            f"| {fmt(thr, '.2f', 'x')} | {fmt(cpu, '.2f', 'x')} | {r.sut_core_busy:.0%} | {r.other_on_sut_core_s / r.window_s:.0%} "
            f"| {r.load_core_busy:.0%} "
            f"| {r.spans_acked - r.spans_delivered:,} |"
        )
    for s in skipped:
        lines.append(f"| {s['system']} | skipped: pipeline does not validate | | | | | | | | |")
    lines.append("")
    warn = [
        f"- {r.system}: the SUT core was {r.sut_core_busy:.0%} busy: it may not be saturated (raise --concurrency)."
        for r in results
        if r.error is None and r.sut_core_busy < 0.9 and r.other_on_sut_core_s / r.window_s < 0.05
    ] + [
        f"- {r.system}: other processes used {r.other_on_sut_core_s / r.window_s:.0%} of the SUT core: figures are pessimistic."
        for r in results
        if r.error is None and r.other_on_sut_core_s / r.window_s >= 0.05
    ] + [
        f"- {r.system}: the load core was {r.load_core_busy:.0%} busy: loadgen + sink may be the bottleneck."
        for r in results
        if r.error is None and r.load_core_busy > 0.9
    ]
    if warn:
        lines += ["Warnings:", *warn, ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------


def on_sigterm(signum: int, frame: object) -> None:
    # Unwind through the `with Processes()` blocks so every child is killed.
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, on_sigterm)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--systems", help="comma-separated subset: rotel, weir:<pipeline> (default: all)")
    ap.add_argument("--weir-pipeline", action="append", default=[], metavar="NAME=PATH", help="an extra weir pipeline")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load per system (default 20)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured load first (default 3)")
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    ap.add_argument("--connections", type=int, default=4, help="loadgen HTTP/2 connections (default 4)")
    ap.add_argument("--spans-per-request", type=int, default=1000)
    ap.add_argument("--attributes", type=int, default=5)
    ap.add_argument("--sut-core", type=int, default=0)
    ap.add_argument("--load-core", type=int, default=1)
    ap.add_argument("--sink-count", choices=["scan", "prost", "auto"], default="auto")
    ap.add_argument("--weir", help="path to a weir binary (default: <target>/release/weir)")
    ap.add_argument("--rotel", help="path to a rotel-agent binary (default: install PyPI rotel)")
    ap.add_argument("--rotel-version", default=ROTEL_VERSION)
    ap.add_argument("--rotel-compression", choices=["none", "gzip"], default="none",
                    help="Rotel's exporter compression (its default is gzip; weir sends uncompressed)")
    ap.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    ap.add_argument("--no-priority", action="store_true",
                    help="do not raise the autogroup priority of the processes started")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = ap.parse_args()

    for tool in ("taskset", "cargo"):
        if shutil.which(tool) is None:
            raise HarnessError(f"{tool} is not installed")
    if max(args.sut_core, args.load_core) >= (os.cpu_count() or 1):
        raise HarnessError(f"this machine has {os.cpu_count()} cores")

    only = None if not args.systems else {s.strip() for s in args.systems.split(",") if s.strip()}
    with_weir = only is None or any(s.startswith("weir:") for s in only)
    release = build(args.no_build, with_weir and not args.weir)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = args.out / f"peer-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    opts = Options(
        release=release,
        duration=args.duration,
        warmup=args.warmup,
        concurrency=args.concurrency,
        connections=args.connections,
        spans_per_request=args.spans_per_request,
        attributes=args.attributes,
        sut_core=args.sut_core,
        load_core=args.load_core,
        sink_count=args.sink_count,
        workdir=workdir,
        priority=not args.no_priority,
    )
    systems: list[System] = []
    rotel_version = None
    if only is None or "rotel" in only:
        agent = rotel_agent(args.rotel, args.rotel_version, release.parent)
        rotel_version = subprocess.run([str(agent), "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        systems.append(rotel_system(agent, workdir, args.rotel_compression))
    weirs, skipped = weir_systems(Path(args.weir) if args.weir else release / "weir", args.weir_pipeline, only) if with_weir else ([], [])
    systems += weirs
    if not systems:
        raise HarnessError("no system to measure")

    results = []
    for system in systems:
        print(f"Measuring {system.name}...", file=sys.stderr)
        try:
            results.append(measure(system, opts))
        except HarnessError as e:
            print(f"{system.name} failed: {e}", file=sys.stderr)
            results.append(Measurement(system=system.name, note=system.note, error=str(e)))

    table = markdown(results, skipped, opts)
    print(table)
    doc = {
        "started": stamp,
        "machine": machine(),
        "rotel_version": rotel_version,
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()
        },
        "results": [r.to_json() for r in results],
        "skipped": skipped,
    }
    (workdir / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    (workdir / "results.md").write_text(table + "\n")
    latest = args.out / "peer-latest.json"
    latest.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"Results in {workdir}/ (and {latest}).", file=sys.stderr)
    return 0 if all(r.error is None for r in results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as e:
        print(f"peer.py: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
