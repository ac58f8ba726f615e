"""The runtime's own microphone and speaker ports, with the simulated sound card in place of PortAudio.

`runtime.audio.devices.SoundDeviceIn`/`SoundDeviceOut` are used as they are — their callbacks, rings,
wake-ups, playback buffer (jitter buffer, flush with fade, underruns), stream keeper and benchmark observer
— and only the PortAudio stream under them is replaced by `SimulatedStream`, which calls their callback
every 20 ms from the bench's device clock (the same clock the baselines' simulated PyAudio uses). The
timestamps come from the ports' `AudioObserver` hook.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.analysis import DeviceLog
from bench.devices import PERIOD_S, SPEAKER_PERIOD_S, DeviceClock, MicScript, SpeakerMeter

MIC_RATE_HZ, SPEAKER_RATE_HZ = 16_000, 24_000
BLOCK_FRAMES = 320
"""The numbered blocks are always 20 ms (`bench.markers`); a microphone with `block_frames` 640 gets two per
callback, every 40 ms."""


class SimulatedStream:
    """What the ports use of a sounddevice stream: it calls `callback(data, frames, time, status)`."""

    def __init__(self, tick: Any, rate_hz: int, name: str, period_s: float = PERIOD_S) -> None:
        self.samplerate, self.channels, self.latency = rate_hz, 1, period_s
        self._clock = DeviceClock(tick, period_s=period_s, name=name)
        self._clock.start()

    @property
    def active(self) -> bool:
        return True

    def close(self, ignore_errors: bool = True) -> None:
        self._clock.stop()


class Recorder:
    """The ports' `AudioObserver`: microphone block times by index, and what the speaker callback did."""

    def __init__(self, log: DeviceLog) -> None:
        self.log = log
        self.blocks = 0
        self.played_frames = 0
        self.flushed = False
        self.callback_at = 0.0
        self.silent_at = 0.0

    def mic_block_ready(self, t_s: float, frames: int) -> None:
        """A callback of `frames` frames holds `frames / 320` numbered 20 ms blocks: each is stamped when its
        own last sample was captured (the callback's time less the later blocks' 20 ms each), so a longer
        device period shows as the latency it adds to the earlier blocks, as a user would feel it."""
        count = max(1, frames // BLOCK_FRAMES)
        for later in range(count - 1, -1, -1):
            self.log.mic_ready[self.blocks] = t_s - later * PERIOD_S
            self.blocks += 1

    def samples_played(self, t_s: float, first_frame: int, frames: int) -> None:
        self.played_frames, self.callback_at = frames, t_s

    def silence_after_flush(self, t_s: float) -> None:
        self.flushed, self.silent_at = True, t_s


def microphone(script: MicScript, log: DeviceLog, block_frames: int = 320, buffer_ms: int = 2000) -> Any:
    """The runtime's `SoundDeviceIn`, capturing the script's numbered blocks."""
    from runtime.audio.devices import SoundDeviceIn, _Capture

    class SimulatedMicrophone(SoundDeviceIn):
        def _open_stream(self) -> Any:
            # as SoundDeviceIn._open_stream, with the simulated stream instead of PortAudio's
            self._capture = _Capture(MIC_RATE_HZ, self.buffer_ms)
            self._chunk = np.zeros(MIC_RATE_HZ // 10, dtype=np.int16)
            index = iter(range(1 << 62))
            per_callback = max(1, self.block_frames // BLOCK_FRAMES)

            def tick() -> None:
                if per_callback == 1:
                    pcm = script.block(next(index), BLOCK_FRAMES)
                else:  # a longer device period: several numbered 20 ms blocks per callback
                    pcm = b"".join(script.block(next(index), BLOCK_FRAMES) for _ in range(per_callback))
                block = np.frombuffer(pcm, dtype="<i2")
                self._callback(block.reshape(-1, 1), len(block), None, 0)

            return SimulatedStream(tick, MIC_RATE_HZ, "bench-mic", PERIOD_S * per_callback)

    mic = SimulatedMicrophone("bench", block_frames=block_frames, buffer_ms=buffer_ms)
    mic.observer = Recorder(log)
    return mic


def speaker(log: DeviceLog, buffer_ms: int = 60, fade_ms: float = 4.0) -> Any:
    """The runtime's `SoundDeviceOut`; each callback's output is logged through the speaker meter."""
    from runtime.audio.devices_out import SoundDeviceOut

    period = int(SPEAKER_RATE_HZ * PERIOD_S)
    recorder, meter = Recorder(log), SpeakerMeter(log, period)

    class SimulatedSpeaker(SoundDeviceOut):
        def _open_stream(self) -> Any:
            out = np.zeros((period, 1), dtype=np.int16)

            def tick() -> None:
                recorder.played_frames, recorder.flushed, recorder.callback_at = 0, False, 0.0
                self._callback(out, period, None, 0)
                played = recorder.played_frames
                at = recorder.silent_at if recorder.flushed else recorder.callback_at or time.monotonic()
                meter.on_callback(out[:played, 0].tobytes(), at, recorder.flushed)

            self._channels = 1
            return SimulatedStream(tick, SPEAKER_RATE_HZ, "bench-speaker", SPEAKER_PERIOD_S)

        async def close(self) -> None:
            await super().close()
            log.client_underruns = self.underruns  # the runtime's own counter, reported beside the bench's

    out = SimulatedSpeaker("bench", buffer_ms=buffer_ms, fade_ms=fade_ms)
    out.observer = recorder
    return out
