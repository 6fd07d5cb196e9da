#!/usr/bin/env python3
"""The eBPF receiver's overhead on a syscall-heavy workload.

Runs `syscalls.c` (RATE getppid calls per second, paced, for SECONDS) alone
and while `weir run` runs an `ebpf` receiver (syscalls, scheduler and tcp
signals, read every second into a `debug` exporter), alternating, ROUNDS
times. Extra CPU = the workload's extra CPU time (the probes run in its
context) + weir's own CPU time during the run, as a share of one CPU over
the run's wall time. Needs root.

    sudo benches/harness/ebpf/overhead.py --weir target/release/weir

Prints one JSON object; docs/benchmarks.md records the figures.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

PIPELINE = """
settings { admin #false }
receiver "kernel" type="ebpf" {
    signals "syscalls" "scheduler" "tcp"
    interval "1s"
}
exporter "out" type="debug" {
    from "kernel"
}
"""


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run_workload(binary, rate, seconds):
    out = subprocess.run([binary, str(rate), str(seconds)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True, help="the weir binary")
    ap.add_argument("--rate", type=int, default=200_000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tick = os.sysconf("SC_CLK_TCK")
    with tempfile.TemporaryDirectory() as tmp:
        workload = os.path.join(tmp, "syscalls")
        subprocess.run(["cc", "-O2", "-o", workload, os.path.join(HERE, "syscalls.c")], check=True)
        pipeline = os.path.join(tmp, "ebpf.kdl")
        with open(pipeline, "w") as f:
            f.write(PIPELINE)
        rounds = []
        for _ in range(args.rounds):
            alone = run_workload(workload, args.rate, args.seconds)
            log = open(os.path.join(tmp, "weir.log"), "w+")
            weir = subprocess.Popen([args.weir, "run", pipeline], stdout=log, stderr=subprocess.STDOUT)
            deadline = time.time() + 30
            while "eBPF probes attached" not in open(log.name).read():
                if time.time() > deadline or weir.poll() is not None:
                    sys.exit("weir did not attach its probes:\n" + open(log.name).read())
                time.sleep(0.1)
            before = cpu_ticks(weir.pid)
            probed = run_workload(workload, args.rate, args.seconds)
            weir_cpu_us = (cpu_ticks(weir.pid) - before) * 1e6 / tick
            weir.terminate()
            weir.wait(timeout=30)
            wall_us = probed["wall_s"] * 1e6
            rounds.append({
                "calls_per_s": round(probed["calls"] / probed["wall_s"]),
                "workload_cpu_alone_pct": round(100 * alone["cpu_us"] / (alone["wall_s"] * 1e6), 3),
                "workload_cpu_probed_pct": round(100 * probed["cpu_us"] / wall_us, 3),
                "weir_cpu_pct": round(100 * weir_cpu_us / wall_us, 3),
                "extra_cpu_pct_of_one_core": round(
                    100 * (probed["cpu_us"] - alone["cpu_us"] * probed["wall_s"] / alone["wall_s"] + weir_cpu_us) / wall_us, 3),
            })
        extra = sorted(r["extra_cpu_pct_of_one_core"] for r in rounds)
        print(json.dumps({"rate": args.rate, "seconds": args.seconds, "rounds": rounds,
                          "median_extra_cpu_pct_of_one_core": extra[len(extra) // 2]}, indent=2))


if __name__ == "__main__":
    main()
