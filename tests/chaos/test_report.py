"""The report reads example counts and outcomes the way pytest and hypothesis print them."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.chaos.report import fuzz_section, hostile_section, ssrf_section
from tests.chaos.report_sections import audio_section, kept_audio, outcome_section
from tests.chaos.suites import (
    RESULTS_DIR_ENV,
    Case,
    Examples,
    in_paths,
    keep_result,
    kept_result,
    parse_junit,
    parse_statistics,
)

STATISTICS = """
tests/security/test_fuzz.py::test_mutants:

  - during reuse phase (0.01 seconds):
    - 2 passing, 0 failing, and 0 invalid test cases

  - during generate phase (8.94 seconds):
    - 300 passing, 0 failing, and 60 invalid test cases
"""

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.security.test_fuzz" name="test_mutants" time="9.1"/>
<testcase classname="tests.security.test_bombs" name="test_bomb[laughs]" time="0.01">
<system-out>----- Captured Out -----

laughs: 458 bytes, peak 1.00 MiB
</system-out></testcase>
<testcase classname="tests.security.test_bombs" name="test_printer" time="0.01">
<skipped type="pytest.xfail" message="prints secrets"/></testcase>
</testsuite></testsuites>
"""


def test_examples_are_summed_over_phases() -> None:
    assert parse_statistics(STATISTICS) == {"tests/security/test_fuzz.py::test_mutants": Examples(302, 0, 60)}


def test_cases_carry_outcome_output_and_examples(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    cases = parse_junit(junit, parse_statistics(STATISTICS))
    assert [(c.name, c.outcome) for c in cases] == [
        ("test_mutants", "passed"),
        ("test_bomb[laughs]", "passed"),
        ("test_printer", "xfailed"),
    ]
    assert cases[0].examples == Examples(302, 0, 60)
    assert cases[1].output == ("laughs: 458 bytes, peak 1.00 MiB",)
    page = "\n".join(fuzz_section(cases) + hostile_section(cases) + outcome_section(cases, "here"))
    assert "302" in page and "laughs: 458 bytes" in page and "prints secrets" in page


def test_the_ssrf_table_lists_every_address_tried() -> None:
    cases = [
        Case("tests/security/test_netguard.py", f"test_refused[{host}]", "passed", 0.0, ())
        for host in ("http://169.254.169.254/", "http://[fd00:ec2::254]/")
    ]
    page = "\n".join(ssrf_section(cases))
    assert "`test_refused` | 2 passed | `http://169.254.169.254/`, `http://[fd00:ec2::254]/`" in page


def test_example_counts_are_read_from_the_junit_properties_hypothesis_writes(tmp_path: Path) -> None:
    """In CI the report reads the main test run's JUnit file: hypothesis puts its statistics there."""
    node = "tests/security/test_fuzz.py::test_mutants"
    value = base64.b64encode(f"{node}:\n{STATISTICS.split(':', 2)[2]}".encode()).decode()
    properties = f'<properties><property name="hypothesis-statistics-{node}" value="{value}"/></properties>'
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT.replace('<testsuite name="pytest">', f'<testsuite name="pytest">{properties}'))
    assert parse_junit(junit)[0].examples == Examples(302, 0, 60)


def test_only_the_suites_of_the_page_are_taken_from_a_whole_test_run() -> None:
    paths = ["tests/foundation/test_properties.py", "tests/security"]
    assert in_paths("tests/security/test_bombs.py", paths)
    assert in_paths("tests/foundation/test_properties.py", paths)
    assert not in_paths("tests/foundation/test_rejections.py", paths)
    assert not in_paths("tests/securityx/test_a.py", paths)


def test_a_kept_result_comes_back_and_a_missing_one_says_which(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    keep_result("soak", Examples(1, 2, 3))
    assert kept_result(tmp_path, "soak") == Examples(1, 2, 3)
    with pytest.raises(RuntimeError, match="the chaos tests did not run"):
        kept_result(tmp_path, "chaos")


def case(name: str, outcome: str, reason: str = "") -> Case:
    return Case("tests/audio/test_echo_rig.py", name, outcome, 0.0, (), reason)


def test_every_skipped_case_is_counted_and_listed_with_its_reason() -> None:
    cases = [case("test_a", "passed"), case("test_b[cancel]", "skipped", "livekit ([aec] extra) not installed")]
    page = "\n".join(outcome_section(cases, "in the whole test run"))
    assert "2 cases in the whole test run: 1 passed, 1 skipped." in page
    assert "- `tests/audio/test_echo_rig.py::test_b[cancel]` (skipped): livekit ([aec] extra) not installed" in page
    assert "every case passed" not in page.lower()


def test_every_case_passed_is_said_only_when_nothing_was_skipped_or_failed() -> None:
    assert "Every case passed" in "\n".join(outcome_section([case("test_a", "passed")], "here"))
    for outcome in ("skipped", "xfailed", "failed", "error"):
        page = "\n".join(outcome_section([case("test_a", "passed"), case("test_b", outcome, "why")], "here"))
        assert "every case passed" not in page.lower() and f"({outcome}): why" in page


def test_skip_reasons_come_from_the_junit_file(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        JUNIT.replace(
            '<testcase classname="tests.security.test_fuzz" name="test_mutants" time="9.1"/>',
            '<testcase classname="tests.audio.test_echo_rig" name="test_echo[cancel]" time="0.0">'
            '<skipped type="pytest.skip" message="livekit ([aec] extra) not installed">x.py:9: skipped</skipped>'
            "</testcase>",
        )
    )
    skipped = [c for c in parse_junit(junit) if c.outcome == "skipped"]
    assert [(c.module, c.reason) for c in skipped] == [
        ("tests/audio/test_echo_rig.py", "livekit ([aec] extra) not installed")
    ]


def test_without_the_rig_the_audio_section_says_it_was_not_measured() -> None:
    assert "Not measured in this run" in "\n".join(audio_section({}))


def test_the_audio_figures_a_run_kept_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.audio_rig import Order, Playout, StreamingRun

    run = StreamingRun(
        seconds=60.0, cpu_pct=4.0, load_1min=3.5, cores=2, realtime_callbacks=True, mic_xruns=2, speaker_xruns=1,
        underruns=3, mic_dropped_frames=0, device_losses=0, fed=3000, mic=Order(2990, 10, 0),
        speaker=Playout(900_000, 0, 0, 0), turns=15, flushes=5, silences_after_flush=5, rejected_frames=0,
        mic_read_ms=(0.3, 3.0), first_frame_ms=(13.0, 20.0), flush_to_silence_ms=(14.0, 18.0),
        input_latency_ms=40.0, output_latency_ms=40.0,
    )  # fmt: skip
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    keep_result("audio_streaming", run)
    page = "\n".join(audio_section(kept_audio(tmp_path)))
    assert "| xruns (PortAudio flags): microphone / speaker | 2 / 1 |" in page
    assert "| speaker underruns (callback ran dry mid-turn) | 3 |" in page
    assert "10 of 3000" in page


def test_a_multi_line_failure_message_stays_one_list_item() -> None:
    failed = case("test_c", "failed", "AssertionError: the reply was short\nassert 1.7 > 2.5\n +  where 1.7 = x")
    lines = outcome_section([failed], "here")
    item = "- `tests/audio/test_echo_rig.py::test_c` (failed): AssertionError: the reply was short assert 1.7 > 2.5 + "
    assert item + "where 1.7 = x" in lines
