"""Sections of docs/reliability.md about the whole test run: the audio rig's load-dependent figures, and every
case that did not pass (skipped ones included: a skipped case proves nothing, so the page never hides one)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.chaos.suites import Case

OUTCOMES = ("passed", "failed", "error", "xfailed", "skipped")
AUDIO_RESULTS = ("audio_streaming", "audio_echo_cancel", "audio_echo_half_duplex")
"""What tests/audio/test_soak_rig.py and test_echo_rig.py keep for the report (`keep_result`)."""


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return [*lines, ""]


def outcome_section(cases: list[Case], scope: str) -> list[str]:
    """Counts by outcome, then each case that did not pass with its reason; "every case passed" only if true."""
    counts = Counter(case.outcome for case in cases)
    summary = ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES if counts[outcome])
    lines = ["## Outcome", "", f"{len(cases)} cases {scope}: {summary or 'none'}.", ""]
    not_passed = [case for case in cases if case.outcome != "passed"]
    if cases and not not_passed:
        return [*lines, "Every case passed: none was skipped, none failed.", ""]
    if not not_passed:
        return lines
    return [
        *lines,
        "Cases that did not pass (skipped: did not run, so they prove nothing; xfailed: a known bug not fixed "
        "yet), with the reason pytest gave:",
        "",
        *[f"- `{case.module}::{case.name}` ({case.outcome}): {one_line(case.reason)}" for case in not_passed],
        "",
    ]


def one_line(reason: str) -> str:
    """A reason as one list item: pytest's failure messages carry the assertion's whole explanation."""
    text = " ".join(reason.split())
    return (text[:400] + "…" if len(text) > 400 else text) or "not given"


def kept_audio(folder: Path) -> dict[str, Any]:
    """The audio rig's results a test run kept (none when the rig tests did not run)."""
    import pickle

    found = {}
    for name in AUDIO_RESULTS:
        path = folder / f"{name}.pickle"
        if path.exists():
            found[name] = pickle.loads(path.read_bytes())
    return found


def audio_section(results: dict[str, Any]) -> list[str]:
    """The streaming and echo figures of the rig tests: reported, never asserted (they depend on load)."""
    lines = [
        "## Audio on the rig (reported, not asserted)",
        "",
        "Real PortAudio ports on the headless PulseAudio rig (tests/rig/setup.sh). Xruns, underruns, blocks lost "
        "before the port, the echo removed in a live room, CPU and latencies depend on the machine's load, so "
        "they are reported here, never asserted. The same runs assert what load cannot change "
        "(tests/audio/test_soak_rig.py: every frame once and in order, every flush silent; "
        "tests/audio/test_echo_rig.py: every block handled), and the canceller's ERLE is asserted on a replayed "
        "capture (tests/audio/test_echo_replay.py). On demand: `python -m bench.audio_rig`.",
        "",
    ]
    if not results:
        return [*lines, "Not measured in this run: the audio rig tests did not run (see Outcome).", ""]
    streaming = results.get("audio_streaming")
    if streaming is not None:
        lines += table(("streaming figure", "value"), streaming.rows())
    echo = [results[name] for name in AUDIO_RESULTS[1:] if name in results]
    if echo:
        header = ("echo mode, loopback volume", *echo[0].HEADER)
        lines += table(header, [(f"{run.mode}, {run.volume}", *run.cells()) for run in echo])
    return lines
