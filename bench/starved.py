"""A Pi under load: one streaming agent on a CPU quota of three times its measured use, with a CPU hog on
its core, through the conversation plan (full replies, then barge-ins).

The client process is started inside a new cgroup (v2 `cpu.max`, or v1 `cpu.cfs_quota_us` under
/sys/fs/cgroup/cpu) whose quota is `QUOTA_FACTOR` × the agent's CPU from the load run (% of one core, over
the default 100 ms period), pinned with `taskset` to core 0, where a busy-looping process (outside the
cgroup) competes with it. Reported: microphone blocks lost or duplicated (must be 0), speaker underruns
(the bench's own count, `bench.silences`), reconnects (connections the emulator saw, less one), and the
three latencies. Creating a cgroup needs root (or a delegated subtree); where it cannot be created the figure
says exactly why. Full run only (about 40 s).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import analysis, plans, silences
from bench.runs import Unavailable, run_plan
from bench.stats import percentiles

QUOTA_FACTOR = 3
PERIOD_US = 100_000
CORE = 0
V2_ROOT = Path("/sys/fs/cgroup")
V1_CPU_ROOT = Path("/sys/fs/cgroup/cpu")


@contextlib.contextmanager
def cpu_cgroup(quota_pct: float) -> Iterator[Path]:
    """A fresh cgroup limited to `quota_pct` % of one core (a process joins it by writing its pid into
    `cgroup.procs`); removed afterwards. Raises `Unavailable` saying why it cannot be made."""
    quota_us = max(1000, int(PERIOD_US * quota_pct / 100))
    name = f"runtime-bench-starved-{os.getpid()}"
    if "cpu" in _read(V2_ROOT / "cgroup.controllers").split():
        if "cpu" not in _read(V2_ROOT / "cgroup.subtree_control").split():
            raise Unavailable("cgroup v2 is mounted but its cpu controller is not enabled for children "
                              f"({V2_ROOT}/cgroup.subtree_control lacks cpu)")
        group, limit = V2_ROOT / name, (f"{quota_us} {PERIOD_US}", "cpu.max")
    elif (V1_CPU_ROOT / "cpu.cfs_quota_us").exists():
        group, limit = V1_CPU_ROOT / name, (str(quota_us), "cpu.cfs_quota_us")
    else:
        raise Unavailable(f"no cgroup cpu controller here (neither {V2_ROOT}/cgroup.controllers listing cpu "
                          f"nor {V1_CPU_ROOT}/cpu.cfs_quota_us)")
    try:
        group.mkdir()
        if limit[1] == "cpu.cfs_quota_us":
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / limit[1]).write_text(limit[0])
    except OSError as exc:
        with contextlib.suppress(OSError):
            group.rmdir()
        raise Unavailable(f"cannot create the cgroup {group} ({exc.strerror}; root or a delegated cgroup is "
                          "needed)") from None
    try:
        yield group
    finally:
        with contextlib.suppress(OSError):
            group.rmdir()


def _stat(path: Path, key: str) -> int | None:
    """One counter of a cgroup's `cpu.stat` (periods in which the quota ran out: `nr_throttled`)."""
    for line in _read(path).splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@contextlib.contextmanager
def cpu_hog(core: int) -> Iterator[None]:
    """A process spinning on `core` until the block ends."""
    hog = subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def starved_figures(cpu_pct_one_agent: Any, quick: bool) -> dict[str, Any]:
    """The conversation run of one agent in a cgroup at `QUOTA_FACTOR` × `cpu_pct_one_agent`, beside a hog."""
    if not isinstance(cpu_pct_one_agent, int | float) or cpu_pct_one_agent <= 0:
        raise Unavailable("the load run measured no CPU for one agent, so there is no quota to set")
    if shutil.which("taskset") is None:
        raise Unavailable("taskset (util-linux) is not installed")
    quota_pct = round(QUOTA_FACTOR * float(cpu_pct_one_agent), 1)
    with cpu_cgroup(quota_pct) as group, cpu_hog(CORE):
        join = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(group / "cgroup.procs"), "taskset", "-c", str(CORE)]
        run = run_plan("runtime", plans.conversation(quick), quick, prefix=join)
        throttled = _stat(group / "cpu.stat", "nr_throttled")
    lost, duplicated = analysis.frame_accounting(run.records, run.log)
    connections = {entry.get("conn", 0) for entry in (*run.records, *run.sent)}
    return {
        "quota_pct": quota_pct,
        "throttled_periods": throttled,
        "lost_frames": lost,
        "duplicated_frames": duplicated,
        "underruns": silences.underrun_figures(run.log, run.sent),
        "reconnects": max(0, len(connections) - 1),
        "interrupt_to_silence_ms": percentiles(analysis.interrupt_ms(run.sent, run.log)),
        "uplink_added_ms": percentiles(
            analysis.uplink_ms(run.records, run.log, analysis.first_setup_complete(run.sent))
        ),
        "downlink_added_ms": percentiles(analysis.downlink_ms(run.sent, run.log)),
    }
