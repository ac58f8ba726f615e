"""The markdown report: one small table per metric, runtime beside each baseline, and a latency histogram."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.collect import VARIANTS, Samples
from bench.stats import is_number, ratios

TARGETS = {
    "uplink_added_ms": "p95 ≤ 20 ms",
    "downlink_added_ms": "p95 ≤ 40 ms",
    "interrupt_to_silence_ms": "p95 ≤ 30 ms",
    "underruns": "0",
    "handover": "0 lost, 0 duplicated, gap ≤ 20 ms",
    "cpu_pct": "≤ 3 % for 1 agent, +2 % per extra agent",
    "cpu_pct_spread": "—",
    "rss_mb": "≤ 80 MB for 1 agent, +15 MB per extra agent",
    "idle_wake_word": "cpu_pct ≤ 0.5 % (issue 18)",
    "cold_start_s": "≤ 1.5 s",
    "reload_s": "≤ 0.3 s",
    "validate_100_s": "≤ 1 s",
    "help_s": "fast",
}
TITLES = {
    "uplink_added_ms": "Uplink latency added (mic block ready → received by the emulator), ms",
    "downlink_added_ms": "Downlink latency added (chunk sent by the emulator → handed to the speaker callback), ms",
    "interrupt_to_silence_ms": "Interrupt to silence (`interrupted` sent → speaker callback plays silence), ms",
    "underruns": "Speaker underruns (the speaker went silent and then went on with the same reply where it "
    "had stopped), in the conversation run",
    "handover": "Handover (goAway and 1011 drop): microphone frames lost/duplicated, speaker gap",
    "cpu_pct": "CPU, % of one core, for N agents streaming at once (whole client process; median of the windows)",
    "cpu_pct_spread": "CPU spread: lowest–highest window, % of one core (the median is in the table above)",
    "rss_mb": "Resident memory, MB, for N agents streaming at once (whole client process)",
    "idle_wake_word": "Idle `wake_word` agent (`runtime run`, detector running, nothing streamed): CPU % of one "
    "core, RSS MB",
    "cold_start_s": "Cold start, s (runtime: process start → READY=1; baselines: process start → connected)",
    "reload_s": "Hot reload, s (agent file saved → new session's setupComplete)",
    "validate_100_s": "`runtime validate` on 100 agent files, s",
    "help_s": "`runtime --help`, s",
}


def cell(value: Any) -> str:
    if isinstance(value, Mapping) and value.get("available") is False:
        return f"n/a ({value.get('reason', '')})".replace("|", "/")
    if isinstance(value, list) and len(value) == 2 and all(is_number(bound) for bound in value):
        return f"{value[0]:g}–{value[1]:g}"
    if is_number(value):
        return f"{value:g}"
    if value is None:
        return "—"
    return str(value).replace("|", "/")


def field_of(value: Any, name: str) -> Any:
    """One field of a metric's value; the whole value when it is a plain number or "not available"."""
    if not name or not isinstance(value, Mapping) or value.get("available") is False:
        return value
    return value.get(name)


def table(key: str, result: Mapping[str, Any]) -> list[str]:
    """Rows = the metric's fields (p50/p95/p99, agent counts, ...), columns = runtime, baselines, ratios."""
    baselines: Mapping[str, Any] = result.get("baselines", {})
    columns = {"runtime": result.get(key), **{kind: figures.get(key) for kind, figures in baselines.items()}}
    ratio_columns = {
        f"runtime/{kind}": ratios(columns["runtime"], value)
        for kind, value in columns.items()
        if kind != "runtime" and kind not in VARIANTS
    }
    measured = [value for value in columns.values() if isinstance(value, Mapping) and value.get("available", True)]
    fields = [name for name in measured[0] if name != "n"] if measured else [""]  # the first measured client's rows
    header = ["", *columns, *ratio_columns]
    lines = [f"### {TITLES.get(key, key)}", "", f"Target: {TARGETS.get(key, '—')}", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in fields:
        row = [name or key]
        for value in [*columns.values(), *ratio_columns.values()]:
            row.append(cell(field_of(value, name)))
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def histogram(samples: Samples, path: Path) -> bool:
    """Latency histograms, one panel per metric, one colour per client; False when matplotlib is missing."""
    try:
        import matplotlib
        import numpy as np

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    metrics = ("uplink_added_ms", "downlink_added_ms", "interrupt_to_silence_ms")
    figure, axes = plt.subplots(1, len(metrics), figsize=(15, 4))
    for axis, metric in zip(axes, metrics, strict=True):
        series = {kind: values for kind, by_metric in samples.items() if (values := by_metric.get(metric))}
        if series:
            everything = [value for values in series.values() for value in values]
            bins = np.linspace(min(everything), max(everything) + 1e-6, 41)
            for kind, values in series.items():
                axis.hist(values, bins=bins, alpha=0.5, label=f"{kind} (n={len(values)})")
            axis.legend()
        axis.set_title(metric)
        axis.set_xlabel("ms")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


UNDERRUNS_NOTE = (
    "**Underruns are counted one way for every client, by the bench**: every silence the speaker played after "
    "audio is looked up in what the emulator sent; it is an underrun when the audio after it carries on the "
    "same reply exactly where the audio before it stopped (a hole in a sentence). The end of a reply and a reply "
    "cut short (a barge-in, a dropped tail) are not underruns. `client_counter` is the runtime's own counter, "
    "shown as a cross-check; `silence_ms` adds up the holes."
)


def header(result: Mapping[str, Any]) -> list[str]:
    """What ran where, how loaded the machine was, and how the two figures that need a definition were taken."""
    machine = result.get("machine", {})
    load = machine.get("load_average", {})
    windows = result.get("cpu_windows", {})
    lines = [
        f"Machine: {machine.get('cpu_model')}, {machine.get('cores')} cores, Python {machine.get('python')}; "
        f"{'quick run (short durations: figures are rough)' if result.get('quick') else 'full run'}; "
        f"took {result.get('duration_s')} s; load average (1, 5, 15 min) {load.get('start')} at the start, "
        f"{load.get('end')} at the end.",
        "",
        "Every client ran the same plans against the same emulator with the same simulated sound card "
        "(see bench/README.md). Ratios below 1 mean the runtime is lower (better for every metric here).",
        "",
        UNDERRUNS_NOTE,
        "",
        f"**CPU** is sampled over {windows.get('count')} back-to-back windows of {windows.get('length_s', 0):.2f} s "
        f"(one talk-and-listen cycle each) after {windows.get('warmup_s')} s of warm-up, per agent count: the CPU "
        "table gives the median window, the spread table the lowest and the highest.",
        "",
    ]
    if "pipecat" in machine:
        lines += [f"Pipecat: {machine['pipecat']}.", ""]
    return lines


def markdown(result: Mapping[str, Any], samples: Samples, path: Path) -> None:
    """Writes the report to `path` and the histogram next to it (`<stem>-latency.png`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# runtime benchmark", "", *header(result)]
    png = path.with_name(f"{path.stem}-latency.png")
    if histogram(samples, png):
        lines += [f"![latency histograms]({png.name})", ""]
    for key in TARGETS:
        lines += table(key, result)
    lines += starved_table(result.get("starved"))
    path.write_text("\n".join(lines))


STARVED_ROWS = (
    ("quota, % of one core (3 × one agent's CPU)", ("quota_pct",)),
    ("periods throttled by the quota", ("throttled_periods",)),
    ("microphone blocks lost", ("lost_frames",)),
    ("microphone blocks duplicated", ("duplicated_frames",)),
    ("speaker underruns", ("underruns", "count")),
    ("reconnects", ("reconnects",)),
    ("interrupt to silence p50 / p95, ms", ("interrupt_to_silence_ms", "p50"), ("interrupt_to_silence_ms", "p95")),
    ("uplink added p50 / p95, ms", ("uplink_added_ms", "p50"), ("uplink_added_ms", "p95")),
    ("downlink added p50 / p95, ms", ("downlink_added_ms", "p50"), ("downlink_added_ms", "p95")),
)


def starved_table(starved: Any) -> list[str]:
    """The runtime alone in a cgroup beside a CPU hog (`bench.starved`)."""
    lines = ["### Starved CPU: one agent on a quota of 3 × its use, a CPU hog on its core (conversation run)", "",
             "Target: 0 lost, 0 underruns, 0 reconnects, interrupt to silence p95 ≤ 30 ms", ""]
    if not isinstance(starved, Mapping) or starved.get("available") is False:
        return [*lines, cell(starved), ""]
    lines += ["|  | runtime |", "|---|---|"]
    for label, *paths in STARVED_ROWS:
        values = []
        for path in paths:
            value: Any = starved
            for name in path:
                value = value.get(name) if isinstance(value, Mapping) else None
            values.append(cell(value))
        lines.append(f"| {label} | {' / '.join(values)} |")
    return [*lines, ""]
