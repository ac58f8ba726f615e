"""Every trace in traces/ replays against the emulator with the service's shape: message kinds and order, the
fields each carries, close codes and reasons (README.md in traces/ says how to contribute one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.replay import load_trace, replay

TRACES = sorted((Path(__file__).parent / "traces").glob("*.jsonl"))


def test_the_suite_has_traces() -> None:
    assert TRACES, "tests/conformance/traces/ holds no trace"


@pytest.mark.parametrize("path", TRACES, ids=[path.stem for path in TRACES])
def test_the_emulator_answers_like_the_service(path: Path) -> None:
    assert replay(load_trace(path)) == []


@pytest.mark.parametrize("path", TRACES, ids=[path.stem for path in TRACES])
def test_every_trace_says_what_it_is_and_where_it_comes_from(path: Path) -> None:
    header = load_trace(path).header
    assert header.get("kind") in ("derived", "captured")
    if header["kind"] == "derived":
        assert str(header.get("source", "")).startswith("https://"), "a derived trace names its public source"
        assert header.get("quoted") and header.get("notes"), "and what it quotes and what it assumes"


def test_a_trace_the_emulator_does_not_match_fails_with_the_difference(tmp_path: Path) -> None:
    """The comparison is not vacuous: claim that the 2.5 model ends its turn with generationComplete and
    turnComplete in one message (the 3.x shape) and the replay names the message it cannot find."""
    source = Path(__file__).parent / "traces" / "text-turn-audio-reply.jsonl"
    lines = [line for line in source.read_text().splitlines() if '"generationComplete":true}}' not in line]
    altered = tmp_path / "altered.jsonl"
    combined = '{"generationComplete":true,"turnComplete":true}'
    altered.write_text("\n".join(lines).replace('{"turnComplete":true}', combined))
    problems = replay(load_trace(altered))
    assert problems and "serverContent.generationComplete, serverContent.turnComplete" in problems[0]


def test_a_different_close_reason_is_a_difference(tmp_path: Path) -> None:
    source = Path(__file__).parent / "traces" / "unknown-model-closes-1008.jsonl"
    altered = tmp_path / "altered.jsonl"
    altered.write_text(source.read_text().replace("Call ListModels ", "Call ListModels later"))
    assert any(problem.startswith("connection 1: close:") for problem in replay(load_trace(altered)))
