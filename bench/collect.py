"""Each metric is its own function; a metric that cannot run yields "not available: why", never a crash.

The result has the same keys for the runtime (top level) and for every baseline (under "baselines"), so a
partial run still has the shape of a full one.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import analysis, load, plans, silences, startup, starved
from bench.baselines import environment
from bench.runs import RunResult, Unavailable, compile_bytecode, run_plan
from bench.stats import percentiles, ratios, unavailable

logger = logging.getLogger(__name__)

CLIENTS = ("runtime", "runtime-40ms", "quickstart", "pipecat")
"""`runtime-40ms`: the runtime with `audio.input.block_ms: 40` in its agent file, the setting that trades 20 ms
of uplink latency on every other block for half the messages and wake-ups (issue 18): both numbers in one run.
It is a column beside the baselines, without ratios (it is not another way of doing it)."""
VARIANTS = ("runtime-40ms",)
LATENCY_KEYS = ("uplink_added_ms", "downlink_added_ms", "interrupt_to_silence_ms", "underruns")
LOAD_KEYS = ("cpu_pct", "cpu_pct_spread", "rss_mb")
STARTUP_KEYS = ("cold_start_s", "reload_s", "validate_100_s", "help_s")


SHAPES: dict[str, tuple[str, ...]] = {
    "uplink_added_ms": ("p50", "p95", "p99"),
    "downlink_added_ms": ("p50", "p95", "p99"),
    "interrupt_to_silence_ms": ("p50", "p95", "p99"),
    "underruns": ("count", "silence_ms", "client_counter"),
    "handover": ("lost_frames", "duplicated_frames", "speaker_gap_ms"),
    "cpu_pct": ("1", "4", "16"),
    "cpu_pct_spread": ("1", "4", "16"),
    "rss_mb": ("1", "4", "16"),
    "idle_wake_word": ("cpu_pct", "rss_mb"),
}
"""The fields of each metric, kept (as null) when the metric is not available, so the JSON has one shape."""


def not_available(key: str, reason: str) -> dict[str, Any]:
    return dict.fromkeys(SHAPES.get(key, ())) | unavailable(reason)


def guarded(name: str, keys: tuple[str, ...], measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Runs one metric; on any failure every key it owns gets a "not available" entry with the reason."""
    started = time.monotonic()
    try:
        figures = measure()
    except Unavailable as why:
        figures = {key: not_available(key, str(why)) for key in keys}
    except Exception as error:  # a broken piece must not take the other figures down with it
        logger.exception("%s failed", name)
        figures = {key: not_available(key, f"{type(error).__name__}: {error}"[:300]) for key in keys}
    logger.info("%s done in %.1f s", name, time.monotonic() - started)
    return figures


Samples = dict[str, dict[str, list[float]]]
"""Raw latency samples per client and metric, for the report's histogram (not part of the JSON)."""


def conversation_figures(run: RunResult, samples_out: dict[str, list[float]]) -> dict[str, Any]:
    samples = {
        "uplink_added_ms": analysis.uplink_ms(run.records, run.log, analysis.first_setup_complete(run.sent)),
        "downlink_added_ms": analysis.downlink_ms(run.sent, run.log),
        "interrupt_to_silence_ms": analysis.interrupt_ms(run.sent, run.log),
    }
    samples_out.update(samples)
    figures: dict[str, Any] = {key: percentiles(values) for key, values in samples.items()}
    return figures | {"underruns": silences.underrun_figures(run.log, run.sent)}


def handover_figures(run: RunResult) -> dict[str, Any]:
    """Frames lost/duplicated over the run, and the longest speaker gap after a goAway and after a drop."""
    lost, duplicated = analysis.frame_accounting(run.records, run.log)
    go_aways, drops = analysis.handover_kinds(run.sent, run.records)
    gap_ms, cut = silences.handover_gaps(run.log, run.sent, go_aways + drops)
    figures: dict[str, Any] = {
        "lost_frames": lost,
        "duplicated_frames": duplicated,
        "speaker_gap_ms": gap_ms,
        "go_away_gap_ms": silences.handover_gaps(run.log, run.sent, go_aways)[0],
        "drop_gap_ms": silences.handover_gaps(run.log, run.sent, drops)[0],
        "replies_cut": cut,
        "go_aways": len(go_aways),
        "drops": len(drops),
    }
    if run.log.ended:
        figures["session_ended"] = run.log.ended
    return figures


def latency_metrics(kind: str, quick: bool, samples: Samples) -> dict[str, Any]:
    def conversation() -> dict[str, Any]:
        return conversation_figures(run_plan(kind, plans.conversation(quick), quick), samples.setdefault(kind, {}))

    def handover() -> dict[str, Any]:
        return {"handover": handover_figures(run_plan(kind, plans.handover(quick), quick))}

    figures = guarded(f"{kind} conversation", LATENCY_KEYS, conversation)
    return figures | guarded(f"{kind} handover", ("handover",), handover)


def load_metrics(kinds: tuple[str, ...], quick: bool) -> dict[str, dict[str, Any]]:
    """CPU and memory of every client, one after the other, against one emulator process. A quick run leaves the
    variants out (40 s each on the 2-core VM: the quick run is CI's, its figures too rough for a trade-off)."""
    skipped = {kind: {key: not_available(key, "full run only (python -m bench without --quick)") for key in LOAD_KEYS}
               for kind in kinds if quick and kind in VARIANTS}
    try:
        with load.emulator_process() as endpoint:
            return {
                kind: skipped.get(kind) or guarded(
                    f"{kind} load", LOAD_KEYS, functools.partial(load.cpu_and_memory, kind, endpoint, quick))
                for kind in kinds
            }
    except Unavailable as why:
        return {kind: {key: not_available(key, str(why)) for key in LOAD_KEYS} for kind in kinds}


def all_latency_metrics(kinds: tuple[str, ...], quick: bool, samples: Samples) -> dict[str, dict[str, Any]]:
    """Latency runs of every client; in a quick run they overlap (rougher figures, a run under 2 minutes)."""
    if not quick:
        return {kind: latency_metrics(kind, quick, samples) for kind in kinds}
    with ThreadPoolExecutor(len(kinds)) as pool:
        return dict(zip(kinds, pool.map(lambda kind: latency_metrics(kind, quick, samples), kinds), strict=True))


def starved_metrics(cpu_pct_one_agent: Any, quick: bool) -> dict[str, Any]:
    """One agent on a starved CPU (`bench.starved`): in a full run only."""
    if quick:
        return {"starved": unavailable("full run only (python -m bench without --quick)")}
    return guarded("starved", ("starved",), lambda: {"starved": starved.starved_figures(cpu_pct_one_agent, quick)})


def idle_metrics(quick: bool) -> dict[str, Any]:
    """An idle `wake_word` agent's CPU and memory (`bench.idle`)."""
    from bench import idle

    return guarded("idle", ("idle_wake_word",),
                   lambda: {"idle_wake_word": idle.idle_wake_word_pct(10.0 if quick else 20.0)})


def runtime_startup(quick: bool) -> dict[str, Any]:
    repeats = 3 if quick else 10
    figures = guarded("help", ("help_s",), lambda: {"help_s": startup.help_s(repeats)})
    figures |= guarded("validate", ("validate_100_s",), lambda: {"validate_100_s": startup.validate_100_s(repeats)})
    figures |= guarded("daemon", ("cold_start_s", "reload_s"), lambda: startup.daemon_figures(2 if quick else 6))
    return figures


def baseline_startup(kind: str, connect_s: Any) -> dict[str, Any]:
    """A baseline is a script: no daemon, no reload, no validator; cold start is process start → connected."""
    if kind in VARIANTS:
        same = unavailable("see the runtime's column: the block size changes nothing at start-up")
        return {"cold_start_s": same, "reload_s": same, "validate_100_s": same, "help_s": same}
    what = "the quick-start script" if kind == "quickstart" else "a Pipecat bot script"
    return {
        "cold_start_s": connect_s,
        "reload_s": unavailable(f"{what} cannot reload its configuration: it is restarted"),
        "validate_100_s": unavailable(f"{what} has no configuration files to validate"),
        "help_s": unavailable(f"{what} has no command line"),
    }


def cpu_model() -> str:
    """The CPU's name: `model name` on x86, `Model` (the board) or `Hardware` on a Raspberry Pi."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                name, _, value = line.partition(":")
                fields.setdefault(name.strip().lower(), value.strip())
    except OSError:
        pass
    for name in ("model name", "model", "hardware"):
        if fields.get(name) and not fields[name].isdigit():
            return fields[name]
    return platform.processor() or platform.machine()


def machine(load_at_start: tuple[float, float, float], kinds: tuple[str, ...]) -> dict[str, Any]:
    """The machine, how loaded it was (1/5/15-minute load averages at the start and end of the run: the
    machine may be shared), and what each baseline ran with."""
    figures: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "load_average": {"start": [round(x, 2) for x in load_at_start], "end": [round(x, 2) for x in os.getloadavg()]},
    }
    if "pipecat" in kinds:
        figures["pipecat"] = environment.describe()
    return figures


def collect(quick: bool, clients: tuple[str, ...] = CLIENTS) -> tuple[dict[str, Any], Samples]:
    """The whole report (runtime figures at the top level, baselines beside, ratios runtime/baseline),
    and the raw latency samples behind it."""
    started, load_at_start = time.monotonic(), os.getloadavg()
    compile_bytecode()  # as installed: every client starts from bytecode, not source
    kinds = ("runtime", *(kind for kind in clients if kind != "runtime"))
    samples: Samples = {}
    figures = all_latency_metrics(kinds, quick, samples)
    for kind, by_load in load_metrics(kinds, quick).items():
        figures[kind] |= by_load
    figures["runtime"] |= idle_metrics(quick)
    figures["runtime"] |= starved_metrics(figures["runtime"].get("cpu_pct", {}).get("1"), quick)
    for kind in kinds:
        connect_s = figures[kind].get("connect_s", unavailable("the load run failed"))
        figures[kind] |= runtime_startup(quick) if kind == "runtime" else baseline_startup(kind, connect_s)
    result: dict[str, Any] = {"machine": machine(load_at_start, kinds), "quick": quick, **figures["runtime"]}
    result["cpu_windows"] = dataclasses.asdict(load.cpu_windows(quick))
    result["baselines"] = {kind: figures[kind] for kind in kinds if kind != "runtime"}
    keys = (*LATENCY_KEYS, "handover", *LOAD_KEYS, *STARTUP_KEYS)
    runtime = {key: result[key] for key in keys}
    result["ratios"] = {
        kind: {key: value for key in keys if (value := ratios(runtime[key], figures[key])) is not None}
        for kind, figures in result["baselines"].items()
        if kind not in VARIANTS
    }
    result["duration_s"] = round(time.monotonic() - started, 1)
    return result, samples
