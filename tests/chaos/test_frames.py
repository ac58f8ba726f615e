"""The frame numbering that lets the chaos test count lost microphone frames."""

from __future__ import annotations

from tests.chaos.analysis import FaultEvent, Wire, ending_of, frames_by_ending, percentile
from tests.chaos.frames import BLOCK_BYTES, SpeechPattern, count_frames, decode_block, decode_chunks, numbered_pcm


def test_blocks_carry_their_agent_and_number_through_speech_and_quiet() -> None:
    pcm = numbered_pcm(3, 2.0, SpeechPattern(period_s=1.0, speech_s=0.5, lead_s=0.0))
    decoded = list(decode_chunks([pcm[: 7 * BLOCK_BYTES], pcm[7 * BLOCK_BYTES :]]))
    assert decoded == [(3, n) for n in range(100)]
    assert decode_block(bytes(BLOCK_BYTES)) is None, "silence after the file is not a numbered frame"


def test_gaps_repeats_and_a_reopened_microphone_are_told_apart() -> None:
    count = count_frames([0, 1, 2, 5, 6, 6, 7, 0, 1])
    assert (count.lost, count.duplicated, count.reopened) == (2, 1, 1)


def test_losses_are_charged_to_the_ending_of_the_connection_before_the_gap() -> None:
    def chunk(numbers: range) -> list[tuple[float, bytes]]:
        pcm = numbered_pcm(1, 1.0, SpeechPattern(lead_s=10.0))
        return [(0.0, pcm[n * BLOCK_BYTES : (n + 1) * BLOCK_BYTES]) for n in numbers]

    wire = Wire(
        agent_of={1: "a", 2: "a", 3: "a"},
        opened={1: 0.0, 2: 1.0, 3: 2.0},
        audio={1: chunk(range(0, 10)), 2: chunk(range(10, 20)), 3: chunk(range(23, 30))},
    )
    events = [FaultEvent(0.5, 1, "goAway"), FaultEvent(1.5, 2, "drop"), FaultEvent(1.6, 2, "goAway")]
    assert ending_of(2, events) == "drop"
    totals, gaps = frames_by_ending(wire, events)
    assert (totals["goAway"].lost, totals["drop"].lost, totals["within"].lost) == (0, 3, 0)
    assert [(g.label, g.last, g.first) for g in gaps] == [("drop", 19, 23)]


def test_percentiles_are_values_of_the_data() -> None:
    values = [float(v) for v in range(1, 21)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (10.0, 19.0)
