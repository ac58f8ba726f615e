"""A minute of a conversation's worth of audio through a real port pair: every frame once and in order.

The microphone hears numbered 20 ms blocks (fed bit-exact through the rig); the speaker plays 3 s model turns,
every third one interrupted. What load cannot change is asserted: no microphone block arrives twice or out of
order, the speaker never plays a frame twice or skips one that no flush dropped, every frame of a complete
turn is played, every flush goes silent. What load can change — xruns, underruns, blocks lost before the
port, CPU, latencies — is reported: printed, kept for docs/reliability.md, and measured on demand by
`python -m bench.audio_rig`.
"""

from __future__ import annotations

import os

import pytest

from bench.audio_rig import Order, Playout, Turn, block_order, playout, stream
from tests.audio.rig import needs_rig
from tests.chaos.suites import keep_result

SOAK_S = float(os.environ.get("RUNTIME_AUDIO_SOAK_S", "60"))


def test_block_order_counts_gaps_repeats_and_the_16_bit_wrap() -> None:
    assert block_order([0, 1, 2, 5, 6]) == Order(received=5, missing=2, out_of_order=0)
    assert block_order([3, 4, 4, 2, 5]) == Order(received=5, missing=0, out_of_order=2)
    assert block_order([65534, 65535, 0, 1]) == Order(received=4, missing=0, out_of_order=0)


def test_playout_allows_a_skip_only_to_where_a_flush_dropped_the_queue() -> None:
    complete, interrupted = Turn(0, 0.0, end_frame=100), Turn(100, 1.0, end_frame=250, flushed_s=1.5)
    after = Turn(250, 2.0, end_frame=300)
    played = [(0.0, 0, 100), (1.0, 100, 40), (1.5, 140, 4), (2.0, 250, 50)]
    assert playout(played, [complete, interrupted, after]) == Playout(194, 0, 0, 0)
    assert playout([(0.0, 0, 60), (0.1, 80, 20)], [complete]) == Playout(80, 0, 1, 20)
    assert playout([(0.0, 0, 60), (0.1, 40, 60)], [complete]) == Playout(120, 20, 0, 0)


@needs_rig
@pytest.mark.audio
@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.timeout(SOAK_S + 240)
async def test_a_minute_of_streaming_delivers_every_frame_once_and_in_order() -> None:
    run = await stream(SOAK_S)
    print("\n" + "\n".join(f"  {name}: {value}" for name, value in run.rows()))
    keep_result("audio_streaming", run)
    assert run.mic.received > 0, "the numbered audio fed to the microphone was heard"
    assert run.mic.out_of_order == 0, "no microphone block arrives twice or before an earlier one"
    assert run.speaker.replayed_frames == 0, "no speaker frame is played twice or before an earlier one"
    assert run.speaker.unexplained_skips == 0, "the speaker skips queued audio only where a flush dropped it"
    assert run.speaker.missing_frames == 0 and run.rejected_frames == 0, "every frame of a complete turn is played"
    assert run.flushes > 0 and run.silences_after_flush == run.flushes, "every flush goes silent"
