#!/usr/bin/env python3
"""Scrape benchmark: weir against vmagent on one pinned core.

`promtargets` serves N targets x M series on loopback (pinned to the load
core); each system under test (SUT) scrapes all of them every INTERVAL and
remote-writes to `rwsink` (also on the load core), which counts samples.
Per SUT the harness reports, over a fixed window after a warm-up: samples/s
delivered, CPU-seconds per million samples (utime + stime of the SUT from
/proc), peak RSS (VmHWM) and the ratios against vmagent measured in the
same run. A Markdown table goes to stdout; JSON and Markdown to
benches/results/scrape-<time>/ (gitignored).

Usage:
    python3 benches/harness/scrape.py                      # build, run both
    python3 benches/harness/scrape.py --targets 100 --series 10000 --duration 60 --no-build

vmagent comes from the Debian package `victoria-metrics`
(scripts/setup-prometheus installs it). Python 3.11 standard library only;
loopback only; every wait is bounded and every process started is killed at
the end, even on error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer import (  # noqa: E402  (the OTLP harness's process helpers)
    BUILD_TIMEOUT_S,
    HarnessError,
    Processes,
    cargo_target_dir,
    core_busy_seconds,
    cpu_seconds,
    machine,
    pinned,
    port_open,
    run_checked,
    status_kib,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO / "benches" / "results"
SINK = ("127.0.0.1", 24390)
WEIR_ADMIN = ("127.0.0.1", 18888)
VMAGENT_HTTP = ("127.0.0.1", 18429)
READY_TIMEOUT_S = 60


@dataclass
class Options:
    release: Path
    targets: int
    series: int
    base_port: int
    interval: int
    warmup: float
    duration: float
    sut_core: int
    load_core: int
    workdir: Path
    priority: bool
    weir_shards: int
    weir_max_samples: int


@dataclass
class Measurement:
    system: str
    note: str
    samples: int = 0
    window_s: float = 0.0
    sut_cpu_s: float = 0.0
    other_on_sut_core_s: float = 0.0
    peak_rss_kib: int | None = None
    scrapes_expected: float = 0.0
    error: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.window_s if self.window_s > 0 else 0.0

    @property
    def cpu_s_per_million(self) -> float | None:
        return self.sut_cpu_s / self.samples * 1e6 if self.samples else None

    def to_json(self) -> dict:
        return {
            "system": self.system,
            "note": self.note,
            "samples_delivered": self.samples,
            "samples_per_s": self.samples_per_s,
            "cpu_s_per_million_samples": self.cpu_s_per_million,
            "peak_rss_mib": self.peak_rss_kib / 1024 if self.peak_rss_kib else None,
            "window_s": self.window_s,
            "sut_cpu_s": self.sut_cpu_s,
            "sut_core_busy": self.sut_cpu_s / self.window_s if self.window_s else 0.0,
            "other_cpu_on_sut_core_s": self.other_on_sut_core_s,
            "error": self.error,
        }


def sink_samples() -> int:
    url = f"http://{SINK[0]}:{SINK[1]}/"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(json.load(resp)["samples"])
    except (OSError, ValueError, KeyError) as e:
        raise HarnessError(f"the sink's status does not answer: {e}") from e


def build(no_build: bool) -> Path:
    target = cargo_target_dir()
    if not no_build:
        print("Building the release binaries (nice cargo build --release)...", file=sys.stderr)
        run_checked(
            ["nice", "cargo", "build", "--release", "-p", "weir-cli", "-p", "weir-benches",
             "--bin", "weir", "--bin", "promtargets", "--bin", "rwsink"],
            timeout=BUILD_TIMEOUT_S,
            what="cargo build --release",
            cwd=REPO,
        )
    release = target / "release"
    for name in ("weir", "promtargets", "rwsink"):
        if not (release / name).is_file():
            raise HarnessError(f"{release / name} is missing: build it (drop --no-build)")
    return release


def target_addrs(opts: Options) -> list[str]:
    return [f"127.0.0.1:{opts.base_port + i}" for i in range(opts.targets)]


def vmagent_version() -> str:
    """The installed victoria-metrics package version (Debian's vmagent
    prints no version of its own)."""
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"],
                          capture_output=True, text=True, timeout=30)
    return done.stdout.strip() or "unknown"


def vmagent_argv(opts: Options) -> list[str]:
    vmagent = shutil.which("vmagent")
    if vmagent is None:
        raise HarnessError("vmagent is not installed: run scripts/setup-prometheus")
    config = opts.workdir / "vmagent.yml"
    targets = ", ".join(f"'{a}'" for a in target_addrs(opts))
    config.write_text(
        f"global:\n  scrape_interval: {opts.interval}s\n  scrape_timeout: {opts.interval}s\n"
        f"scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [{targets}]\n"
    )
    data = opts.workdir / "vmagent-data"
    shutil.rmtree(data, ignore_errors=True)
    return [
        vmagent,
        f"-promscrape.config={config}",
        f"-remoteWrite.url=http://{SINK[0]}:{SINK[1]}/api/v1/write",
        f"-remoteWrite.tmpDataPath={data}",
        f"-httpListenAddr={VMAGENT_HTTP[0]}:{VMAGENT_HTTP[1]}",
        "-loggerLevel=WARN",
    ]


def weir_argv(opts: Options) -> list[str]:
    pipeline = opts.workdir / "weir-scrape.kdl"
    targets = " ".join(f'"{a}"' for a in target_addrs(opts))
    pipeline.write_text(
        f'settings {{ admin "{WEIR_ADMIN[0]}:{WEIR_ADMIN[1]}"; threads 1; }}\n'
        f'receiver "scrape" type="prometheus" {{\n'
        f'    interval "{opts.interval}s"\n'
        f'    job "bench" {{ targets {targets}; }}\n'
        f'}}\n'
        f'exporter "rw" type="remote-write" {{\n'
        f'    from "scrape"\n'
        f'    endpoint "http://{SINK[0]}:{SINK[1]}/api/v1/write"\n'
        f'    shards {opts.weir_shards}\n'
        f'    max-samples-per-send {opts.weir_max_samples}\n'
        f'}}\n'
    )
    return [str(opts.release / "weir"), "--log-format", "text", "run", str(pipeline)]


def measure(name: str, argv: list[str], ready_addr: tuple[str, int], note: str, opts: Options, procs: Processes) -> Measurement:
    m = Measurement(system=name, note=note)
    if port_open(ready_addr):
        raise HarnessError(f"{ready_addr[0]}:{ready_addr[1]} is already in use")
    log = opts.workdir / f"{name}.log"
    sut = procs.start(name, pinned(opts.sut_core, argv), log)
    try:
        wait_until(name, READY_TIMEOUT_S, lambda: port_open(ready_addr), sut, log)
        time.sleep(opts.warmup)
        s0, c0, core0, t0 = sink_samples(), cpu_seconds(sut.pid), core_busy_seconds(opts.sut_core), time.monotonic()
        time.sleep(opts.duration)
        s1, c1, core1, t1 = sink_samples(), cpu_seconds(sut.pid), core_busy_seconds(opts.sut_core), time.monotonic()
        if sut.poll() is not None:
            raise HarnessError(f"{name} exited during the run (code {sut.returncode}, see {log})")
        m.samples = s1 - s0
        m.sut_cpu_s = c1 - c0
        m.window_s = t1 - t0
        m.other_on_sut_core_s = max(core1 - core0 - m.sut_cpu_s, 0.0)
        m.peak_rss_kib = status_kib(sut.pid, "VmHWM")
        m.scrapes_expected = opts.targets * m.window_s / opts.interval
    finally:
        procs.stop(sut)
    return m


def markdown(results: list[Measurement], opts: Options) -> str:
    base = next((r for r in results if r.system == "vmagent" and r.error is None), None)
    rows = [
        f"Targets {opts.targets} x {opts.series} series, interval {opts.interval}s "
        f"(offered {opts.targets * opts.series / opts.interval:,.0f} samples/s), window {opts.duration:.0f}s "
        f"after {opts.warmup:.0f}s warm-up; SUT on core {opts.sut_core}, targets and sink on core {opts.load_core}.",
        "",
        "| system | samples/s delivered | CPU-s per M samples | peak RSS MiB | vs vmagent: CPU/sample | vs vmagent: RSS | SUT core busy | others on SUT core |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error:
            rows.append(f"| {r.system} | error: {r.error} | | | | | | |")
            continue
        cpu = r.cpu_s_per_million
        rss = r.peak_rss_kib / 1024 if r.peak_rss_kib else 0.0
        ratio_cpu = f"{cpu / base.cpu_s_per_million:.2f}x" if base and base.cpu_s_per_million and cpu else "-"
        ratio_rss = f"{rss / (base.peak_rss_kib / 1024):.2f}x" if base and base.peak_rss_kib and rss else "-"
        rows.append(
            f"| {r.system} | {r.samples_per_s:,.0f} | {cpu:.3f} | {rss:.1f} | {ratio_cpu} | {ratio_rss} | "
            f"{r.sut_cpu_s / r.window_s:.0%} | {r.other_on_sut_core_s / r.window_s:.0%} |"
        )
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default="vmagent,weir")
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--base-port", type=int, default=21_000)
    ap.add_argument("--interval", type=int, default=10, help="scrape interval, seconds")
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--sut-core", type=int, default=0)
    ap.add_argument("--load-core", type=int, default=1)
    ap.add_argument("--weir-shards", type=int, default=4)
    ap.add_argument("--weir-max-samples", type=int, default=10_000)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-priority", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = ap.parse_args()
    if shutil.which("taskset") is None:
        raise HarnessError("taskset is not installed")
    if max(args.sut_core, args.load_core) >= (os.cpu_count() or 1):
        raise HarnessError(f"this machine has {os.cpu_count()} cores")
    release = build(args.no_build)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = args.out / f"scrape-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    opts = Options(
        release=release, targets=args.targets, series=args.series, base_port=args.base_port,
        interval=args.interval, warmup=args.warmup, duration=args.duration, sut_core=args.sut_core,
        load_core=args.load_core, workdir=workdir, priority=not args.no_priority,
        weir_shards=args.weir_shards, weir_max_samples=args.weir_max_samples,
    )
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    results: list[Measurement] = []
    vm_version = ""
    with Processes(opts.priority) as procs:
        if port_open(SINK) or port_open(("127.0.0.1", opts.base_port)):
            raise HarnessError("the sink or target ports are in use")
        targets_log = workdir / "promtargets.log"
        targets = procs.start("promtargets", pinned(opts.load_core, [
            str(release / "promtargets"), "--targets", str(opts.targets), "--series", str(opts.series),
            "--base-port", str(opts.base_port)]), targets_log)
        last = ("127.0.0.1", opts.base_port + opts.targets - 1)
        wait_until("promtargets", READY_TIMEOUT_S, lambda: port_open(last), targets, targets_log)
        sink_log = workdir / "rwsink.log"
        sink = procs.start("rwsink", pinned(opts.load_core, [
            str(release / "rwsink"), "--listen", f"{SINK[0]}:{SINK[1]}"]), sink_log)
        wait_until("rwsink", READY_TIMEOUT_S, lambda: port_open(SINK), sink, sink_log)
        for system in systems:
            print(f"Measuring {system}...", file=sys.stderr)
            try:
                if system == "vmagent":
                    argv = vmagent_argv(opts)
                    vm_version = vmagent_version()
                    results.append(measure("vmagent", argv, VMAGENT_HTTP, f"vmagent {vm_version}, defaults", opts, procs))
                elif system == "weir":
                    note = f"remote-write shards {opts.weir_shards}, max-samples-per-send {opts.weir_max_samples}, threads 1"
                    results.append(measure("weir", weir_argv(opts), WEIR_ADMIN, note, opts, procs))
                else:
                    raise HarnessError(f"unknown system {system!r} (vmagent, weir)")
            except HarnessError as e:
                print(f"{system} failed: {e}", file=sys.stderr)
                results.append(Measurement(system=system, note="", error=str(e)))
    table = markdown(results, opts)
    print(table)
    doc = {
        "started": stamp,
        "machine": machine(),
        "vmagent_version": vm_version,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
        "results": [r.to_json() for r in results],
    }
    (workdir / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    (workdir / "results.md").write_text(table + "\n")
    (args.out / "scrape-latest.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"Results in {workdir}/.", file=sys.stderr)
    return 0 if all(r.error is None for r in results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as e:
        print(f"scrape.py: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
