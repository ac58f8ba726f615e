"""Echo on the rig: the speaker is routed back into the microphone (delayed, attenuated) and handled on every block.

The live room depends on the machine's load (a starved speaker callback shifts the echo in time and the
canceller has to find it again), so how much echo is removed here, and how much of the user gets through, is
reported — printed, kept for docs/reliability.md, measured on demand by `python -m bench.audio_rig` — not
asserted. Asserted: the echo reaches the microphone, the echo handling sees the far end and handles every
block, and each block it returns is the microphone's, the canceller's or silence. The canceller's ERLE is
asserted on a replayed capture, which load cannot change (tests/audio/test_echo_replay.py).
"""

from __future__ import annotations

import pytest

from bench.audio_rig_echo import echo_on_rig, speech
from runtime.audio.echo import livekit_available
from tests.audio.rig import needs_rig
from tests.chaos.suites import keep_result

pytestmark = [pytest.mark.audio, needs_rig, pytest.mark.anyio]
BLOCKS = 300
"""6 s of 20 ms microphone blocks: 4 s of the model alone, 2 s of the user talking over it."""


@pytest.mark.parametrize("mode", ["cancel", "half_duplex"])
async def test_echo_handling_runs_on_every_block_of_a_live_room(mode: str) -> None:
    if mode == "cancel" and not livekit_available():
        pytest.skip("livekit ([aec] extra) not installed")
    run = await echo_on_rig(mode, "-10dB", speech(24_000), speech(16_000))
    print(f"\n{mode}: " + ", ".join(f"{name} {cell}" for name, cell in zip(run.HEADER, run.cells(), strict=True)))
    keep_result(f"audio_echo_{mode}", run)
    assert run.blocks_read == BLOCKS
    assert run.echo_dbfs > -60, "the echo path carries the speaker into the microphone"
    assert run.far_end_frames > 0, "what the speaker played reached the echo handling"
    assert run.delay_ms > 0, "the delay hint comes from the streams' latencies"
    if mode == "cancel":
        assert run.blocks_cancelled == BLOCKS, "the canceller processed every block"
    assert run.blocks_gated > 0, "the gate closed while only the speaker was heard"
    assert run.passed_or_silenced
