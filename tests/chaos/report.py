"""Write the reliability page: the figures of chaos, soak, fuzzing, hostile-input and audio-rig tests.

.venv/bin/python -m tests.chaos.report --from build/reliability --markdown build/reliability.md
    # what `scripts/test.sh` runs: the figures of the test run itself (it sets RUNTIME_RELIABILITY_DIR to that
    # folder and writes its junit.xml there), so nothing is measured twice; `scripts/refresh-docs.sh` then
    # copies the page to docs/reliability.md
.venv/bin/python -m tests.chaos.report --quick --markdown build/reliability.md   # measure now (~3 min)
.venv/bin/python -m tests.chaos.report --markdown build/reliability.md           # full soak (~15 min)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.chaos.analysis import summary_s
from tests.chaos.chaos import HANDOVER_KINDS, ChaosResult, run_chaos
from tests.chaos.report_sections import audio_section, kept_audio, outcome_section, table
from tests.chaos.soak import AGENTS, SoakResult, run_soak
from tests.chaos.suites import (
    JUNIT_NAME,
    LIMIT_TEST,
    ROOT,
    Case,
    default_paths,
    in_paths,
    kept_result,
    module_summary,
    parse_junit,
    run_suites,
)


@dataclass(frozen=True)
class Settings:
    chaos_s: float
    soak_s: float
    soak_hours: float = 2.0


QUICK = Settings(chaos_s=35.0, soak_s=60.0)
FULL = Settings(chaos_s=120.0, soak_s=600.0)


def chaos_section(result: ChaosResult, seconds: float) -> list[str]:
    injected = ", ".join(f"{kind} ×{count}" for kind, count in result.injected().items())
    others = {k: v for k, v in result.frames.items() if k not in (*HANDOVER_KINDS, "within")}
    rows = [
        (
            "run",
            f"{result.seconds:.0f} s ({seconds:g} s of faults + recovery), 4 agents, {result.connections} connections",
            "",
        ),
        ("faults injected", f"{sum(result.injected().values())}: {injected}", "every kind fires"),
        ("recoveries", f"{len(result.recovered())} of {len(result.recoveries)}", "all"),
        ("time to recover, transient faults (fault → setupComplete)", summary_s(result.ttr("failures")), "printed"),
        (
            "time to recover, 1008 (fatal: the session waits 30 s, RetryPolicy.fatal_retry_s)",
            summary_s(result.ttr("fatal")),
            "printed",
        ),
        ("goAway → new connection ready (waits for a resumable point)", summary_s(result.ttr("goAway")), "printed"),
        ("server silent (delay) → next message, same connection", summary_s(result.ttr("delay")), "printed"),
        (
            "fault → first microphone audio on the new connection",
            summary_s([r.audio_s for r in result.recovered() if r.audio_s is not None]),
            "printed",
        ),
        ("reconnect waits the sessions chose (backoff)", f"{summary_s(result.backoffs)}", "printed"),
        ("slowest transient recoveries", slowest(result), "printed"),
        (
            "microphone frames lost at goAway handovers",
            f"{result.lost_at('goAway')} ({result.injected().get('goAway', 0)} handovers)",
            "0",
        ),
        (
            "microphone frames lost at 1001 (going away) closes",
            f"{result.lost_at('close 1001')} ({result.injected().get('close 1001', 0)} closes)",
            "0",
        ),
        (
            "microphone frames lost at other endings",
            ", ".join(f"{k}: {v.lost}" for k, v in sorted(others.items())) or "0",
            "printed (bounded 2 s buffer)",
        ),
        (
            "microphone frames received / lost inside connections",
            f"{result.frames['within'].received} / {result.frames['within'].lost}"
            if "within" in result.frames
            else "-",
            "printed",
        ),
        (
            "microphone file removed, agent restarted, file put back",
            f"waited for the device; running again {result.outage.back_after_s} s after the file returned",
            "waits, never parks",
        ),
        ("agents parked", str(len(result.parked)), "0"),
        ("daemon at the end", f"alive, STATUS `{result.final_status}`", "4 running"),
    ]
    return ["## Chaos", "", *table(("figure", "value", "asserted"), rows)]


def limit_section(cases: list[Case]) -> list[str]:
    """The session-length limit (an audio session without compression), from tests/chaos/test_session_limit.py."""
    found = [c for c in cases if c.module == LIMIT_TEST]
    if not found:
        return []
    case = found[0]
    figure = "; ".join(case.output) or "-"
    return [f"Session length limit (no compression, limit scaled to 4 s, 16 s run): {figure} — {case.outcome}.", ""]


def slowest(result: ChaosResult) -> str:
    return "; ".join(
        f"{r.event.kind} ({r.agent}): {r.setup_s:.2f} s" for r in result.slowest(3) if r.setup_s is not None
    )


def soak_section(result: SoakResult) -> list[str]:
    talk, first, last = result.conversation, result.samples[0], result.samples[-1]
    scale = result.simulated_h * 3600 / result.real_s
    rows = [
        (
            "run",
            f"{result.simulated_h:g} simulated hours in {result.real_s:.0f} s (connection lifetime ÷{scale:.0f}), "
            f"{len(AGENTS)} agents",
            "",
        ),
        (
            "conversation",
            f"{talk.connections} connections, {talk.go_aways} goAway handovers, {talk.turns} speech "
            f"turns, {talk.barge_ins} barge-ins, {talk.tool_calls} tool calls",
            "it happened",
        ),
        (
            "daemon RSS",
            f"{first.rss_mib:.1f} → {last.rss_mib:.1f} MiB; slope after warm-up "
            f"{result.slope_per_simulated_hour('rss_mib'):+.2f} MiB per simulated hour",
            "< 5 MiB/h",
        ),
        (
            "open file descriptors",
            f"{first.fds:.0f} → {last.fds:.0f}; spread after warm-up "
            f"{result.spread('fds'):.0f}; slope {result.slope_per_simulated_hour('fds'):+.2f}/h",
            "spread ≤ 6, no growth",
        ),
        (
            "threads",
            f"{first.threads:.0f} → {last.threads:.0f}; slope {result.slope_per_simulated_hour('threads'):+.2f}/h",
            "spread ≤ 8, no growth",
        ),
        ("asyncio tasks", "not sampled (the daemon is a separate process)", "-"),
        (
            "state directory",
            f"{last.state_files} files, {last.state_bytes} bytes at the end; at most "
            f"{max(s.state_files for s in result.samples)} files",
            "≤ 2 per agent, < 64 KiB",
        ),
        ("agents parked / daemon", f"{len(result.parked)}; STATUS `{result.final_status}`", "0; 4 running"),
    ]
    return ["## Soak", "", *table(("figure", "value", "asserted"), rows)]


def fuzz_section(cases: list[Case]) -> list[str]:
    fuzz = [c for c in cases if c.examples is not None]
    rows = [
        (
            f"`{c.module}::{c.name}`",
            str(c.examples.passing),
            str(c.examples.invalid),
            str(c.examples.failing),
            c.outcome,
        )
        for c in fuzz
        if c.examples is not None
    ]
    total = sum(c.examples.passing for c in fuzz if c.examples is not None)
    return [
        "## Fuzzing (hypothesis)",
        "",
        f"{len(fuzz)} property tests ran {total} examples. Counts from hypothesis's statistics; "
        "invalid examples are those a strategy filtered out.",
        "",
        *table(("test", "examples", "invalid", "failing", "outcome"), rows),
    ]


def hostile_section(cases: list[Case]) -> list[str]:
    by_module: dict[str, list[Case]] = {}
    for case in cases:
        if case.examples is None and case.module.startswith("tests/security/"):
            by_module.setdefault(case.module, []).append(case)
    rows = []
    for module, group in sorted(by_module.items()):
        outcomes = Counter(c.outcome for c in group)
        figures = list(dict.fromkeys(line[:140] for c in group for line in c.output if is_figure(line)))
        rows.append(
            (
                f"`{module.removeprefix('tests/security/')}`",
                module_summary(module),
                ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())),
                "; ".join(figures[:12]),
            )
        )
    return ["## Hostile input and secrets", "", *table(("tests", "what they prove", "cases", "figures"), rows)]


def is_figure(line: str) -> bool:
    """A printed line that states a measurement (not a dump of JSON or a captured answer)."""
    return not line.startswith(("[", "{", "}", "]", '"')) and ": {" not in line


def ssrf_section(cases: list[Case]) -> list[str]:
    """Every URL and host the SSRF guard was tried with, by test."""
    rows = []
    for module in ("tests/security/test_netguard.py", "tests/security/test_tool_limits.py"):
        tests: dict[str, list[Case]] = {}
        for case in cases:
            if case.module == module and "[" in case.name:
                tests.setdefault(case.name.split("[", 1)[0], []).append(case)
        for name, group in tests.items():
            ids = ", ".join(f"`{c.name.split('[', 1)[1].rstrip(']')}`" for c in group)
            outcomes = Counter(c.outcome for c in group)
            rows.append((f"`{name}`", ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())), ids))
    if not rows:
        return []
    return ["### SSRF cases", "", *table(("test", "cases", "URLs and hosts"), rows)]


def header(settings: Settings, command: str, suites_s: float) -> list[str]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        "# Reliability",
        "",
        "Figures measured by the project's own tests: the daemon as a real process, the real google-genai client "
        "over real WebSockets to the emulator (`runtime emulate`), faults injected by the emulator, numbered "
        "microphone frames counted on the server side. Do not edit by hand: `scripts/refresh-docs.sh` refreshes it "
        "(the full test run, `scripts/test.sh`, writes it to `build/reliability.md` and prints it; the script "
        "copies it here).",
        "",
        f"- generated: {now}, commit `{commit or '?'}`, {platform.machine()} with {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        f"- command: {command} "
        f"(chaos {settings.chaos_s:g} s, soak {settings.soak_s:g} s for {settings.soak_hours:g} simulated hours, "
        f"fuzz and security suites {suites_s:.0f} s)",
        "- full-length soak: `RUNTIME_SOAK_SECONDS=600 pytest tests/chaos/test_soak.py`, or "
        "`python -m tests.chaos.report --markdown FILE` (chaos 120 s, soak 600 s)",
        "",
    ]


def build(settings: Settings, quick: bool, run_security: bool = True) -> str:
    """Measure now: chaos, soak, and the fuzz and security suites in a pytest subprocess."""
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        chaos = run_chaos(Path(tmp) / "chaos", settings.chaos_s)
        print("\n".join(chaos.lines()), file=sys.stderr)
        soak = run_soak(Path(tmp) / "soak", settings.soak_s, settings.soak_hours)
        print("\n".join(soak.lines()), file=sys.stderr)
    cases, suites_s = run_suites(default_paths()) if run_security else ([], 0.0)
    flag = " --quick" if quick else ""
    command = f"`python -m tests.chaos.report{flag} --markdown build/reliability.md`"
    outcome = outcome_section(cases, "in the fuzz and security suites run here")
    return page(header(settings, command, suites_s), chaos, settings.chaos_s, soak, cases, [], outcome)


def build_from(folder: Path) -> str:
    """The figures a test run kept in `folder` (its chaos and soak results, its JUnit file)."""
    chaos: ChaosResult = kept_result(folder, "chaos")
    soak: SoakResult = kept_result(folder, "soak")
    paths = default_paths()
    every_case = parse_junit(folder / JUNIT_NAME)
    cases = [case for case in every_case if in_paths(case.module, paths)]
    settings = Settings(chaos_s=QUICK.chaos_s, soak_s=round(soak.real_s), soak_hours=soak.simulated_h)
    command = "`scripts/test.sh`, from the results of its own test run"
    top = header(settings, command, sum(c.seconds for c in cases))
    outcome = outcome_section(every_case, "in the whole test run")
    return page(top, chaos, settings.chaos_s, soak, cases, audio_section(kept_audio(folder)), outcome)


def page(
    top: list[str],
    chaos: ChaosResult,
    chaos_s: float,
    soak: SoakResult,
    cases: list[Case],
    audio: list[str],
    outcome: list[str],
) -> str:
    lines = [
        *top,
        *outcome,
        *chaos_section(chaos, chaos_s),
        *limit_section(cases),
        *soak_section(soak),
        *fuzz_section(cases),
        *hostile_section(cases),
        *ssrf_section(cases),
        *audio,
        *method_section(),
    ]
    return "\n".join(lines).rstrip() + "\n"


def method_section() -> list[str]:
    return [
        "## How the figures are made",
        "",
        "- **Chaos** (`tests/chaos/chaos.py`): 4 agents whose microphones are WAV files of numbered 20 ms blocks "
        "(a quiet code: agent and frame number; speech blocks add a loud tone so the server's VAD hears turns). "
        "The emulator runs in the test process; it sends goAway 4 s into every connection and injects one fault "
        "on every second connection, rotating through close 1011, close 1001, TCP drop, garbage frame, 1.5 s "
        "delay and setup rejection, plus one close 1008. Times come from the emulator's clock: the fault (its log) "
        "to the same agent's next `setupComplete`. Frames are decoded from the audio the emulator received and "
        "every gap is charged to what ended the connection before it. One microphone file is removed and its agent "
        "edited (restarted), then the file is put back.",
        "- **Soak** (`tests/chaos/soak.py`): the service's ~10-minute connection lifetime is divided by the time "
        "scale, so the handovers of the simulated hours happen in the real run time; the talk itself runs at real "
        "pace (a turn every 3 s per agent: greetings, a story the next turn barges into, a tool call). RSS, "
        "descriptors and threads of the daemon process are read from /proc every second; slopes are least squares "
        "after the first quarter (warm-up).",
        "- **Fuzzing and hostile input**: the security and foundation suites, run through pytest (by CI's test run, "
        "or by this script); their own assertions decide pass or fail, their printed figures are copied here.",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI settings: 35 s chaos, 60 s soak")
    parser.add_argument("--markdown", type=Path, help="write the page here (default: stdout)")
    parser.add_argument("--no-security", action="store_true", help="skip the fuzz and security suites")
    parser.add_argument(
        "--from",
        dest="from_dir",
        type=Path,
        help="measure nothing: use what a test run kept in this folder (RUNTIME_RELIABILITY_DIR and its junit.xml)",
    )
    args = parser.parse_args()
    if args.from_dir:
        text = build_from(args.from_dir)
    else:
        text = build(QUICK if args.quick else FULL, args.quick, run_security=not args.no_security)
    if args.markdown:
        args.markdown.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
