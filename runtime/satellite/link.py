"""One satellite, kept connected: its microphone chunks in, the agent's reply out, reconnected when it drops.

The satellite is the server and we are its client, as in Home Assistant's Wyoming integration
(homeassistant/components/wyoming/assist_satellite.py: `AsyncTcpClient(host, port)`, then `run-satellite`
on every new connection; a lost connection is retried after a pause). wyoming-satellite answers
`run-satellite` by streaming: continuously (`AlwaysStreamingSatellite`, which also sends `run-pipeline`
with `start_stage: wake`, so the wake word is the server's business), or after its own wake word or voice
detection (`WakeStreamingSatellite` / `VadStreamingSatellite`: `run-pipeline` with `start_stage: asr`).

The link runs beside the session (`SatelliteSession`), not inside it: while the satellite is away the
microphone simply delivers nothing and the Live session stays up; `status` says `waiting for satellite`.
Reconnects wait `runtime.retry.backoff_delay_s` over `backoff_s`, starting over after a connection that
delivered audio.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.abc
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite

from runtime.audio.ports import SPEAKER_RATE_HZ
from runtime.retry import backoff_delay_s
from runtime.satellite.pacing import Chunk, Pacer, Send, Start, Stop
from runtime.satellite.pcm import MicBlocks, PcmFormat, plausible
from runtime.satellite.states import CONNECTED, WAITING
from runtime.satellite.wire import MalformedEvent, SatelliteConnection

log = logging.getLogger(__name__)

MIC_QUEUE_BLOCKS = 100
"""Converted microphone blocks held for the session (2 s of 20 ms blocks); older ones are dropped."""
CONNECT_TIMEOUT_S = 5.0
SILENCE_DROP_S = 10.0
"""A continuously streaming satellite that sends nothing for this long is dropped and reconnected."""


@dataclass(frozen=True)
class SatelliteAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> SatelliteAddress:
        """`wyoming://HOST:PORT` (the agent file's `audio.satellite`, already checked by its pattern)."""
        rest = url.removeprefix("wyoming://")
        host, _, port = rest.rpartition(":")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"wyoming://{self.host}:{self.port}"


@dataclass
class LinkCounts:
    connections: int = 0
    received_chunks: int = 0
    dropped_blocks: int = 0
    """Converted blocks nobody read in time (the session was not reading yet)."""
    dropped_reply_bytes: int = 0
    """Reply audio that came while the satellite was away."""


@dataclass
class Pipeline:
    """What the satellite said about its stream on this connection (`run-pipeline`), and what it is owed."""

    local_wake: bool = False
    """The satellite detects its own wake word (its `run-pipeline` starts at `asr`)."""
    started: int = 0
    """`run-pipeline` events received (conversations opened, or streams started)."""
    streaming: bool = False
    release: Event | None = None
    """The `transcript` to send once the reply went out (a wake-word satellite's exchange is over)."""

    def read_deadline_s(self, silence_drop_s: float) -> float:
        """How long the next event may take: a continuously streaming satellite that goes quiet is gone (a
        crashed microphone program, a half-open connection); one that waits for its wake word may be quiet
        for hours, and TCP keep-alive (`wire.keep_alive`) watches it instead."""
        return silence_drop_s if self.started and not self.local_wake else math.inf


class SatelliteLink:
    """The connection to one satellite, shared by the agent's `SatelliteIn` and `SatelliteOut`."""

    def __init__(
        self, address: SatelliteAddress, *, block_frames: int = 320, backoff_s: tuple[float, float] = (0.5, 10.0),
        pacer: Pacer | None = None, on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.address = address
        self.block_frames = block_frames
        self.backoff_s = backoff_s
        self.pacer = pacer or Pacer()
        self.status = ""
        """`satellite connected` or `waiting for satellite` (empty before the first attempt)."""
        self.on_status: Callable[[str], None] = on_status or (lambda _status: None)
        """Told each change of `status` (the daemon publishes it as `SatelliteChanged`)."""
        self._blocks = MicBlocks(block_frames)
        self._mic_send, self.mic_blocks = anyio.create_memory_object_stream[bytes](MIC_QUEUE_BLOCKS)
        self._wake = anyio.Event()
        self._outbox: list[Event] = []
        self.pipeline = Pipeline()
        self.silence_drop_s = SILENCE_DROP_S
        self.counts = LinkCounts()

    # -- what the ports call (never blocks) ---------------------------------------------------------------

    def play(self, pcm: bytes) -> None:
        if self.status != CONNECTED:
            self.counts.dropped_reply_bytes += len(pcm)  # nobody to hear it; a late reply would only confuse
            return
        self.pacer.write(pcm)
        self._wake.set()

    def end_of_turn(self) -> None:
        self.pacer.end_of_turn()
        self._wake.set()

    def flush(self) -> None:
        self.pacer.flush()
        self._wake.set()

    def exchange_done(self, user_text: str) -> None:
        """The agent answered: a satellite that heard its own wake word gets `transcript` once the reply went
        out, and goes back to listening for its wake word (wyoming-satellite `WakeStreamingSatellite`:
        a `transcript` stops its streaming, as Home Assistant's STT result does)."""
        if self.pipeline.local_wake and self.pipeline.streaming:
            self.pipeline.release = transcript_event(user_text)
            self._wake.set()

    def send(self, event: Event) -> None:
        """Queue an event for the satellite (a transcript, an error); dropped while it is away."""
        if self.status == CONNECTED:
            self._outbox.append(event)
            self._wake.set()

    # -- the connection -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, and reconnect after every drop, until cancelled."""
        attempt = 0
        while True:
            try:
                client = await SatelliteConnection.open(self.address.host, self.address.port, CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                attempt += 1
                self._set_status(WAITING, f"cannot connect to {self.address}: {exc or type(exc).__name__}")
                await anyio.sleep(backoff_delay_s(attempt, self.backoff_s, random.random()))
                continue
            received_before = self.counts.received_chunks
            try:
                await self._serve(client)
            except* (OSError, EOFError, anyio.BrokenResourceError) as drops:  # MalformedEvent is an OSError
                self._set_status(WAITING, f"satellite {self.address} dropped: {drops.exceptions[0]}")
            finally:
                self.pacer.forget()
                with anyio.CancelScope(shield=True):
                    await client.close()
            attempt = 1 if self.counts.received_chunks > received_before else attempt + 1
            await anyio.sleep(backoff_delay_s(attempt, self.backoff_s, random.random()))

    async def _serve(self, client: SatelliteConnection) -> None:
        self.counts.connections += 1
        self._blocks.reset()
        self._outbox.clear()
        self.pacer.forget()
        self.pipeline = Pipeline()
        # Home Assistant's order (assist_satellite.py `_connect` / `_run_pipeline_loop`): `run-satellite`
        # first; the satellite then streams and says how (`run-pipeline`).
        await client.write_event(RunSatellite().event())
        self._set_status(CONNECTED, f"connected to satellite {self.address}")
        async with anyio.create_task_group() as group:
            group.start_soon(self._send_loop, client)
            while True:
                with anyio.move_on_after(self.pipeline.read_deadline_s(self.silence_drop_s)):
                    event = await client.read_event()
                    if event is None:
                        raise ConnectionError("the satellite closed the connection")
                    self._on_event(event)
                    continue
                raise TimeoutError(f"the satellite streams continuously but sent nothing for {self.silence_drop_s} s")

    async def _send_loop(self, client: SatelliteConnection) -> None:
        """The only writer of the socket: queued events first, then the reply at its play clock's pace."""
        while True:
            self._wake = anyio.Event()
            outbox, self._outbox = self._outbox, []
            for event in outbox:
                await client.write_event(event)
            for send in self.pacer.take(time.monotonic()):
                await client.write_event(_event_for(send))
            release = self.pipeline.release
            if release is not None and self.pacer.idle:
                self.pipeline.release, self.pipeline.streaming = None, False
                await client.write_event(release)
            due_in = self.pacer.due_in(time.monotonic())
            if self._outbox or due_in == 0.0:
                continue
            with anyio.move_on_after(due_in if due_in is not None else 3600.0):
                await self._wake.wait()

    # -- what the satellite sends -------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        handler = _HANDLERS.get(event.type)
        if handler is None:
            log.debug("satellite %s: %s (ignored)", self.address, event.type)
            return
        try:
            handler(self, event)
        except (KeyError, TypeError, ValueError) as exc:  # an event whose fields are missing or wrong
            raise MalformedEvent(f"malformed {event.type}: {type(exc).__name__}: {exc}") from exc

    def _audio_chunk(self, event: Event) -> None:
        chunk = AudioChunk.from_event(event)
        fmt = PcmFormat(chunk.rate, chunk.width, chunk.channels)
        if not plausible(fmt):
            raise ValueError(f"{fmt} is no microphone format")
        self.counts.received_chunks += 1
        for block in self._blocks.push(chunk.audio or b"", fmt):
            try:
                self._mic_send.send_nowait(block)
            except anyio.WouldBlock:
                self.counts.dropped_blocks += 1  # nobody reads yet (the session is starting): the newest is lost

    def _audio_start(self, event: Event) -> None:
        start = AudioStart.from_event(event)
        log.debug("satellite %s streams %d Hz, %d bytes, %d channel(s)", self.address, start.rate, start.width,
                  start.channels)
        self._blocks.reset()

    def _audio_stop(self, event: Event) -> None:
        log.debug("satellite %s stopped streaming", self.address)
        self._blocks.reset()

    def _run_pipeline(self, event: Event) -> None:
        pipeline = RunPipeline.from_event(event)
        local_wake = pipeline.start_stage != PipelineStage.WAKE
        self.pipeline.local_wake, self.pipeline.streaming = local_wake, True
        self.pipeline.started += 1
        log.info("satellite %s streams (%s)", self.address,
                 "its wake word heard" if local_wake else "continuously; wake word on this side")

    def _ping(self, event: Event) -> None:
        # Newer satellites (wyoming-satellite >= 1.2) ping the server and expect a pong (wyoming `ping.py`).
        self._outbox.append(Pong(text=Ping.from_event(event).text).event())
        self._wake.set()

    def _set_status(self, status: str, message: str) -> None:
        changed = status != self.status
        if changed:
            (log.info if status == CONNECTED else log.warning)("%s; %s", message, status)
        else:
            log.debug("%s", message)  # every failed attempt while away: once at WARNING is enough
        self.status = status
        if changed:
            self.on_status(status)


def _ignore(_link: SatelliteLink, _event: Event) -> None:
    pass


_HANDLERS: dict[str, Callable[[SatelliteLink, Event], None]] = {
    "audio-chunk": SatelliteLink._audio_chunk,
    "audio-start": SatelliteLink._audio_start,
    "audio-stop": SatelliteLink._audio_stop,
    "run-pipeline": SatelliteLink._run_pipeline,
    "ping": SatelliteLink._ping,
    "pong": _ignore,
    "played": _ignore,
    "info": _ignore,
}
"""What the satellite may send (wyoming-satellite `satellite.py`, `event_to_server` calls), one handler each."""


def _event_for(send: Send) -> Event:
    match send:
        case Start():
            return AudioStart(rate=SPEAKER_RATE_HZ, width=2, channels=1).event()
        case Chunk(pcm=pcm):
            return AudioChunk(rate=SPEAKER_RATE_HZ, width=2, channels=1, audio=pcm).event()
        case Stop():
            return AudioStop().event()
    raise AssertionError(send)


def transcript_event(text: str) -> Event:
    """`transcript`: the user's words; a wake-word satellite goes back to listening for its wake word."""
    return Transcript(text=text).event()
