"""Real PortAudio through the PulseAudio rig: the speaker is heard, the microphone hears, devices come back."""

from __future__ import annotations

import time

import anyio
import numpy as np
import pytest

from runtime.audio.devices import SoundDeviceIn, StreamOptions
from runtime.audio.devices_out import SoundDeviceOut
from tests.audio.rig import LossyServer, Recorder, feed_microphone, needs_rig, peak_hz, rms, sine, speech

pytestmark = [pytest.mark.audio, needs_rig, pytest.mark.anyio]


class Timeline:
    """An AudioObserver that records what the ports report."""

    def __init__(self) -> None:
        self.mic_blocks: list[float] = []
        self.played: list[tuple[float, int, int]] = []
        self.silences: list[float] = []

    def mic_block_ready(self, t_s: float, frames: int) -> None:
        self.mic_blocks.append(t_s)

    def samples_played(self, t_s: float, first_frame: int, frames: int) -> None:
        self.played.append((t_s, first_frame, frames))

    def silence_after_flush(self, t_s: float) -> None:
        self.silences.append(t_s)


async def wait_until(condition: object, timeout_s: float = 10.0) -> None:
    with anyio.fail_after(timeout_s):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.02)


async def test_the_speaker_plays_a_tone_at_its_frequency_and_level() -> None:
    speaker = SoundDeviceOut("default")
    tone = sine(440.0, 1.5, 24_000, level=0.5)
    with Recorder("rig_speaker_monitor", 24_000) as monitor:
        await speaker.open()
        try:
            speaker.write(tone.tobytes())
            speaker.end_of_turn()
            await wait_until(
                lambda: speaker.written_frames and not speaker.playing and speaker._playback.queued_frames == 0
            )
            await anyio.sleep(0.2)
        finally:
            await speaker.close()
    heard = monitor.samples()
    loud = heard[np.abs(heard) > 1000]
    middle = heard[np.nonzero(np.abs(heard) > 1000)[0][0] :][6000:24000]
    print(
        f"speaker: heard {len(loud) / 24_000:.2f} s loud, peak {peak_hz(middle, 24_000):.1f} Hz, rms {rms(middle):.0f}"
    )
    assert abs(peak_hz(middle, 24_000) - 440.0) < 3
    assert 0.8 < rms(middle) / rms(tone) < 1.2
    # The whole tone was queued before it started, so a period that ran dry would be a bug, whatever the load.
    assert speaker.underruns == 0


async def test_speech_fed_into_the_microphone_reaches_the_port() -> None:
    mic = SoundDeviceIn("default")
    timeline = Timeline()
    mic.observer = timeline
    await mic.open()
    try:
        quiet = b"".join([await mic.read() for _ in range(15)])
        feeder = feed_microphone(speech(16_000, seconds=2.0), 16_000)
        heard = b"".join([await mic.read() for _ in range(125)])
        await anyio.to_thread.run_sync(feeder.join)
    finally:
        await mic.close()
    quiet_rms = rms(np.frombuffer(quiet, "<i2"))
    speech_rms = rms(np.frombuffer(heard, "<i2"))
    print(f"mic: silence rms {quiet_rms:.1f}, speech rms {speech_rms:.1f}, latency {mic.latency_s * 1000:.0f} ms")
    assert speech_rms > 300 and speech_rms > 20 * (quiet_rms + 1)
    assert len(timeline.mic_blocks) >= 100, "the observer saw every callback"


async def test_a_flush_fades_out_within_one_period_and_the_speaker_goes_silent() -> None:
    speaker = SoundDeviceOut("default", fade_ms=4.0)
    timeline = Timeline()
    speaker.observer = timeline
    await speaker.open()
    try:
        speaker.write(sine(300.0, 3.0, 24_000).tobytes())
        await wait_until(lambda: len(timeline.played) >= 10)
        flushed_at = time.monotonic()
        speaker.flush()
        await wait_until(lambda: timeline.silences)
        await anyio.sleep(0.1)
    finally:
        await speaker.close()
    after = [frames for t, _, frames in timeline.played if t > flushed_at]
    print(
        f"flush: silence {1000 * (timeline.silences[0] - flushed_at):.1f} ms after flush(), faded {sum(after)} frames"
    )
    assert sum(after) <= 96 + 480, "at most the fade and one period already in flight"
    assert not speaker.playing
    assert speaker.underruns == 0, "all 3 s were queued before the flush: running dry would be a bug, not load"


async def test_an_unplugged_device_is_reported_the_session_keeps_reading_and_it_comes_back(
    lossy_server: LossyServer, caplog: pytest.LogCaptureFixture
) -> None:
    mic = SoundDeviceIn("rig_lossy_mic")
    speaker = SoundDeviceOut("rig_lossy")
    await mic.open()
    await speaker.open()
    try:
        await mic.read()
        lossy_server.stop()
        await wait_until(lambda: mic.lost and speaker.lost)
        blocks = [await mic.read() for _ in range(10)]
        assert all(block == bytes(640) for block in blocks), "silence while the device is gone"
        speaker.write(bytes(4800))
        assert speaker.dropped_frames == 2400
        lossy_server.start()
        await wait_until(lambda: not mic.lost and not speaker.lost, timeout_s=20)
        beats = mic._keeper.beats
        await wait_until(lambda: mic._keeper.beats > beats + 5)
        speaker.write(sine(440.0, 0.2, 24_000).tobytes())
        speaker.end_of_turn()
        await wait_until(lambda: speaker.played.written > 0 and speaker._playback.queued_frames == 0)
    finally:
        await mic.close()
        await speaker.close()
    lost_lines = [r for r in caplog.records if "device lost" in r.getMessage()]
    back_lines = [r for r in caplog.records if "device is back" in r.getMessage()]
    assert len(lost_lines) == 2 and len(back_lines) == 2, "reported once per port, not once per retry"


async def test_a_device_run_at_its_own_rate_and_in_stereo_is_converted_both_ways() -> None:
    stereo_48k = StreamOptions(rate_hz=48_000, channels=2)
    speaker = SoundDeviceOut("default", options=stereo_48k)
    mic = SoundDeviceIn("default", options=StreamOptions(rate_hz=44_100, channels=2))
    tone = sine(1000.0, 1.0, 24_000, level=0.4)
    with Recorder("rig_speaker_monitor", 24_000) as monitor:
        await speaker.open()
        await mic.open()
        try:
            speaker.write(tone.tobytes())
            speaker.end_of_turn()
            feeder = feed_microphone(sine(440.0, 1.0, 16_000, level=0.3), 16_000)
            heard = b"".join([await mic.read() for _ in range(75)])
            await anyio.to_thread.run_sync(feeder.join)
            await wait_until(lambda: not speaker.playing and speaker._playback.queued_frames == 0)
        finally:
            await mic.close()
            await speaker.close()
    assert speaker.rate_hz == 48_000 and mic._capture.rate_hz == 44_100
    played = monitor.samples()
    loud = played[np.nonzero(np.abs(played) > 1000)[0][0] :][2400:16800]
    captured = np.frombuffer(heard, "<i2")
    captured = captured[np.nonzero(np.abs(captured) > 1000)[0][0] :][1600:9600]
    print(
        f"48 kHz stereo speaker: {peak_hz(loud, 24_000):.1f} Hz at {rms(loud) / rms(tone):.2f} of the level;"
        f" 44.1 kHz stereo mic: {peak_hz(captured, 16_000):.1f} Hz"
    )
    assert abs(peak_hz(loud, 24_000) - 1000.0) < 5 and 0.8 < rms(loud) / rms(tone) < 1.2
    assert abs(peak_hz(captured, 16_000) - 440.0) < 5 and rms(captured) > 0.8 * 0.3 * 32767 / np.sqrt(2)


async def test_the_microphone_says_how_much_it_holds_and_a_read_of_that_does_not_wait() -> None:
    mic = SoundDeviceIn("default")
    assert mic.ready_frames() == 0  # not open
    await mic.open()
    try:
        read = 0
        await wait_until(lambda: mic.ready_frames() >= 5 * mic.block_frames)  # a burst, as the wake gate reads
        held = mic.ready_frames()
        while mic.ready_frames() >= mic.block_frames:
            assert len(await mic.read()) == mic.block_frames * 2
            read += mic.block_frames
        assert read >= held - mic.block_frames  # everything held came out (more may have arrived meanwhile)
    finally:
        await mic.close()
