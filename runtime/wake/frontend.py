"""The wake word's feature front end, run once per shared microphone instead of once per agent.

Both backends split detection in two: a feature front end over the audio (microWakeWord: the micro-frontend's
40 spectral features every 10 ms; openWakeWord: a melspectrogram model, then an embedding model every 80 ms)
and a per-word model over those features. The front end depends on the audio only, so agents listening on
one microphone can share it; only the word models run per agent. Measured on this machine (x86_64, 30 s of
audio): microWakeWord's front end is a third of a detector's CPU (0.13 % of a core against 0.25 % for the
model), openWakeWord's is nearly all of it (10.7 % against 0.05 %).

Each agent's detector reads its features through `SharedFeatures`, which knows where in the device's
stream the agent's latest block ends (`CaptureTap.position_frames`). The first agent to reach a stretch of
audio feeds it to the front end; the others get the features already computed for it. Features are
attributed to the end of the block that produced them, so agents with different block sizes each get every
feature exactly once, in order. An agent that skipped audio (muted, fell behind) resumes where it is; if
nobody read the skipped stretch the front end starts afresh there (as a new detector would).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from runtime.audio.ports import MIC_RATE_HZ, AudioIn
from runtime.audio.shared import CaptureTap

KEEP_FRAMES = 3 * MIC_RATE_HZ
"""Features kept for agents that read later than the first (an agent further behind re-reads nothing)."""


class FeatureStream(Protocol):
    """A backend's front end: audio in, features out (`MicroWakeWordFeatures`, `OpenWakeWordFeatures`)."""

    def process_streaming(self, audio_bytes: bytes) -> Iterable[Any]: ...

    def reset(self) -> None: ...


class SharedFrontEnd:
    """One front end over one device's stream, its recent features indexed by stream position."""

    def __init__(self, features: FeatureStream) -> None:
        self._features = features
        self.fed_frames = -1
        """Stream position up to which audio was fed (-1: nothing yet)."""
        self.runs = 0
        """How many blocks were fed to the real front end (for tests and measurements)."""
        self._recent: collections.deque[tuple[int, Any]] = collections.deque()

    def features(self, start: int, end: int, pcm: bytes) -> list[Any]:
        """The features of the stream's audio (start, end]; `pcm` is that audio."""
        if end > self.fed_frames:
            self._feed(start, end, pcm)
        found = []
        for at, feature in reversed(self._recent):  # newest first: an agent asks for the last block or two
            if at <= start:
                break
            if at <= end:
                found.append(feature)
        found.reverse()
        return found

    def _feed(self, start: int, end: int, pcm: bytes) -> None:
        if start > self.fed_frames:  # a stretch nobody read: continuing across it would join unrelated audio
            self._features.reset()
            self._recent.clear()
        else:
            pcm = pcm[(self.fed_frames - start) * 2 :]
        self.runs += 1
        for feature in self._features.process_streaming(pcm):
            self._recent.append((end, feature))
        self.fed_frames = end
        while self._recent and self._recent[0][0] <= end - KEEP_FRAMES:
            self._recent.popleft()


class SharedFeatures:
    """One agent's view of its microphone's shared front end: a `FeatureStream` its detector reads."""

    def __init__(self, front_end: SharedFrontEnd, tap: CaptureTap) -> None:
        self._front_end = front_end
        self._tap = tap

    def process_streaming(self, audio_bytes: bytes) -> Iterable[Any]:
        """Features of the block the agent's gate has just read from its tap (it ends at the tap's position)."""
        end = self._tap.position_frames
        return self._front_end.features(end - len(audio_bytes) // 2, end, audio_bytes)

    def reset(self) -> None:
        """Nothing to forget: the front end follows the device, and the agent's own model is reset."""

    def close(self) -> None:
        """The front end belongs to the device, not to one agent."""


FeaturesFor = Callable[[str], FeatureStream | None]
"""backend ("micro", "open") -> the features a detector should read, or None for a front end of its own."""


def shared_features_for(mic: AudioIn) -> FeaturesFor:
    """For a microphone shared through the daemon's hub, each backend's front end once per device."""

    def features_for(backend: str) -> FeatureStream | None:
        if not isinstance(mic, CaptureTap):
            return None
        front_end = mic.device.companion(f"wake-front-end:{backend}", lambda: SharedFrontEnd(_new_front_end(backend)))
        return SharedFeatures(front_end, mic)

    return features_for


def _new_front_end(backend: str) -> FeatureStream:
    if backend == "micro":
        from pymicro_wakeword import MicroWakeWordFeatures

        micro: FeatureStream = MicroWakeWordFeatures()
        return micro
    from pyopen_wakeword import OpenWakeWordFeatures

    opened: FeatureStream = OpenWakeWordFeatures.from_builtin()
    return opened
