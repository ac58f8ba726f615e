"""Runs one client process through one plan against an emulator in this process, and collects both sides.

The emulator runs on its own thread here, so its record (`records`, `sent`) is at hand; the client runs in
a child process, so the two never share an interpreter lock. Both stamp `time.monotonic()`, which Linux
shares between processes.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import plans
from bench.analysis import DeviceLog
from bench.baselines import environment

REPO = Path(__file__).resolve().parent.parent


class Unavailable(Exception):
    """A metric cannot be measured here; the message says why (it goes into the report)."""


@dataclass
class RunResult:
    log: DeviceLog
    records: list[dict[str, Any]]
    sent: list[dict[str, Any]]


def client_command(kind: str) -> list[str]:
    """The interpreter and module that run one kind of client."""
    if kind == "pipecat":
        return [pipecat_python(), "-m", "bench.baselines.pipecat_agent"]
    return [sys.executable, "-m", "bench.client", kind]


def pipecat_python() -> str:
    """The Pipecat venv's interpreter (`BENCH_PIPECAT_PYTHON` overrides it: figures from such a run are the
    caller's to vouch for, so the report names the interpreter)."""
    override = os.environ.get("BENCH_PIPECAT_PYTHON")
    if override:
        if not Path(override).exists():
            raise Unavailable(f"BENCH_PIPECAT_PYTHON={override} does not exist")
        return override
    reason = environment.stale_reason()
    if reason:
        raise Unavailable(reason)
    return str(environment.venv_python())


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, ["127.0.0.1,localhost", env.get(name, "")]))
    return env


def compile_bytecode() -> None:
    """Write the bytecode of the checkout's `runtime` and `bench` (into `__pycache__`, which git ignores).

    An installed runtime has it (pip compiles at install time); a checkout run with PYTHONDONTWRITEBYTECODE=1
    (systemd/runtime.service sets it, so do some shells) has none and compiles every module it imports at every
    start: 0.15-0.2 s of `runtime run`'s cold start on the 2-core reference machine, which users do not pay."""
    import compileall

    for package in ("runtime", "bench"):
        compileall.compile_dir(REPO / package, quiet=1)


def emulator_options(plan: plans.Plan) -> Any:
    from runtime.emulator import EmulatorOptions, Fault, parse_scenario

    return EmulatorOptions(
        scenario_obj=parse_scenario(plans.scenario_document(200)),
        go_away_after_s=plan.go_away_after_s,
        connection_limit_s=plan.connection_limit_s,
        faults=tuple(Fault(**fault) for fault in plan.faults),
    )


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection in this process while the emulator thread serves a run.

    The emulator keeps every frame it sent and received for the analysis; with that many objects, Python's
    full collections stop its thread for 15-25 ms now and then, and a chunk of the model's voice goes out that
    late: network jitter the bench itself would add, to every client alike. Measured: 1 chunk 17 ms late per
    conversation run with collections, none without.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def run_plan(kind: str, plan: plans.Plan, quick: bool, prefix: Sequence[str] = ()) -> RunResult:
    """One client through one plan (its command after `prefix`: a cgroup, a CPU pin); raises `Unavailable`
    when the client could not run."""
    from runtime.emulator import EmulatorThread

    command = [*prefix, *client_command(kind)]
    with paused_gc(), tempfile.TemporaryDirectory(prefix="bench-run-") as tmp, EmulatorThread(
        emulator_options(plan)
    ) as emu:
        out = Path(tmp) / "log.json"
        command += ["--base-url", emu.base_url, "--ca-file", str(emu.ca_file), "--plan", plan.name, "--out", str(out)]
        command += ["--quick"] if quick else []
        done = subprocess.run(
            command, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=plan.duration_s + 90
        )
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise Unavailable(f"{kind} client failed (exit {done.returncode}): {' | '.join(tail)}"[:400])
        log = DeviceLog.from_json(json.loads(out.read_text()))
        return RunResult(log, list(emu.records), list(emu.sent))
