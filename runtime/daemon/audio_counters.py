"""Microphone and speaker counters and the echo canceller's ERLE, read from each agent's latest session when
Prometheus scrapes.

They change per audio block, so they are not counted as they change (that would cost every block something,
metrics on or off) but read from the counts the uplink and the speaker port keep anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class UplinkCounts(Protocol):
    @property
    def sent_frames(self) -> int: ...

    @property
    def dropped_frames(self) -> int: ...


class SpeakerCounts(Protocol):
    @property
    def underruns(self) -> int: ...


class LiveCounters(Protocol):
    """What a running session counts per audio block (an `AgentSession`), read at scrape time."""

    @property
    def uplink(self) -> UplinkCounts: ...

    @property
    def audio_out(self) -> SpeakerCounts: ...


AUDIO_COUNTERS: tuple[tuple[str, str, Callable[[LiveCounters], int]], ...] = (
    ("runtime_mic_frames_sent", "Microphone blocks sent to the service.", lambda s: s.uplink.sent_frames),
    ("runtime_mic_frames_dropped", "Microphone blocks dropped from a full buffer.",
     lambda s: s.uplink.dropped_frames),
    ("runtime_speaker_underruns", "Speaker periods that ran dry in the middle of a turn.",
     lambda s: s.audio_out.underruns),
)


class AudioCollector(Collector):
    """Microphone and speaker counters, read from the sessions when scraped (nothing per block).

    A session's counts start at zero; what an agent's earlier sessions counted is carried over, so the
    counters only go up while the daemon runs.
    """

    def __init__(self, sessions: Callable[[], Mapping[str, LiveCounters]]) -> None:
        self._sessions = sessions
        self._seen: dict[str, tuple[int, dict[str, int]]] = {}
        """Per agent: the id of the session last read and what it had counted."""
        self._carried: dict[str, dict[str, int]] = {}

    def describe(self) -> Iterable[CounterMetricFamily]:
        """The families without samples (so registering reads no session)."""
        return [CounterMetricFamily(name, doc, labels=["agent"]) for name, doc, _ in AUDIO_COUNTERS]

    def collect(self) -> Iterable[CounterMetricFamily]:
        families = {name: CounterMetricFamily(name, doc, labels=["agent"]) for name, doc, _ in AUDIO_COUNTERS}
        for agent, session in sorted(dict(self._sessions()).items()):
            now = {name: int(read(session)) for name, _, read in AUDIO_COUNTERS}
            seen = self._seen.get(agent)
            carried = self._carried.setdefault(agent, dict.fromkeys(now, 0))
            if seen is not None and seen[0] != id(session):
                for attr, value in seen[1].items():
                    carried[attr] += value
            self._seen[agent] = (id(session), now)
            for name, family in families.items():
                family.add_metric([agent], carried[name] + now[name])
        return list(families.values())


@runtime_checkable
class EchoMeasured(Protocol):
    """A microphone with an echo canceller in front of it that measures itself (`runtime.audio.echo`)."""

    @property
    def erle_db(self) -> float | None: ...


ERLE_FAMILY = ("runtime_echo_erle_db", "Echo return loss enhancement of the echo canceller (dB), averaged over the "
               "last seconds in which only the speaker was heard; absent where no canceller runs.")


class EchoCollector(Collector):
    """`runtime_echo_erle_db`: one sample per agent whose microphone has a canceller that has heard echo."""

    def __init__(self, microphones: Callable[[], Mapping[str, object]]) -> None:
        self._microphones = microphones

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [GaugeMetricFamily(*ERLE_FAMILY, labels=["agent"])]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(*ERLE_FAMILY, labels=["agent"])
        for agent, mic in sorted(dict(self._microphones()).items()):
            erle_db = mic.erle_db if isinstance(mic, EchoMeasured) else None
            if erle_db is not None:
                family.add_metric([agent], erle_db)
        return [family]
