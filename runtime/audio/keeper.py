"""Keeps one PortAudio stream open through device loss: report once, poll with backoff, reopen.

A watcher thread (never the audio callback, never the event loop) checks the stream: it counts as lost
when PortAudio stops it (an unplugged USB device, a dead sound server) or when its callbacks stall. The
loss is logged once; reopening is retried with exponential backoff (`runtime.retry.backoff_delay_s`,
without jitter: a reopen asks no server) until the device is back, which is logged once as well. The port
decides what its users see meanwhile (the microphone yields silence, the speaker drops audio), so the
agent's Live session is never torn down by a device.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

from runtime.errors import DeviceError
from runtime.retry import backoff_delay_s

log = logging.getLogger(__name__)

POLL_S = 0.2
FIRST_CALLBACK_S = 5.0
"""A new stream may take a while to deliver its first callback (a sound server waking up)."""
STALL_S = 3.0
"""A running stream whose callbacks stop for this long is treated as lost."""

REALTIME_PRIORITY = 10
"""SCHED_FIFO priority asked for audio callback threads (1-99; PipeWire and JACK use 20 and up)."""

_portaudio_lock = threading.Lock()
_open_streams = 0


class Stream(Protocol):
    """The part of a sounddevice stream the keeper uses."""

    @property
    def active(self) -> bool: ...

    def close(self, ignore_errors: bool = True) -> None: ...


def refresh_device_list() -> bool:
    """Re-scan PortAudio's devices (a re-plugged USB device gets a new index); only when no stream is open.

    PortAudio can only re-enumerate by terminating, which would kill every other open stream in the process,
    so with other streams open the old list is kept and the device must reappear under a known name.
    """
    import sounddevice as sd

    with _portaudio_lock:
        if _open_streams:
            return False
        sd._terminate()
        sd._initialize()
        return True


def make_realtime() -> bool:
    """Give the calling thread (an audio callback's) real-time scheduling, so a busy CPU does not starve it.

    Needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO (systemd `LimitRTPRIO=`, the `audio` group's limits.conf);
    without them the thread keeps its normal priority and this returns False.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
    except (OSError, AttributeError):
        return False
    return True


class StreamKeeper:
    """Owns one stream for a port; `open_stream` builds and starts it (raising `DeviceError`)."""

    def __init__(
        self, label: str, open_stream: Callable[[], Stream], backoff_s: tuple[float, float] = (0.5, 8.0)
    ) -> None:
        self.label = label
        self._open_stream = open_stream
        self._backoff_s = backoff_s
        self._stream: Stream | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False
        """True while the device is gone (set by the watcher thread)."""
        self.last_beat = 0.0
        """time.monotonic() of the latest callback (set by the audio callback)."""
        self.beats = 0
        """Callbacks since the stream was (re)opened (set by the audio callback)."""
        self.losses = 0
        """How many times the device was lost."""
        self.realtime = False
        """Whether the callback thread got real-time scheduling (set by the first callback)."""

    def start(self) -> None:
        """Open the stream now (raising `DeviceError`) and start watching it."""
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name=f"audio-keeper-{self.label}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and close the stream; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close()

    def beat(self) -> float:
        """Called by the audio callback each period; returns the time, which it also records."""
        if self.beats == 0:
            self.realtime = make_realtime()
        self.beats += 1
        self.last_beat = now = time.monotonic()
        return now

    def _open(self) -> None:
        global _open_streams
        with _portaudio_lock:
            stream = self._open_stream()
            _open_streams += 1
        self._stream = stream
        self.beats = 0
        self.last_beat = time.monotonic()

    def _close(self) -> None:
        global _open_streams
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with _portaudio_lock:
            stream.close(ignore_errors=True)
            _open_streams -= 1

    def _failed(self) -> str | None:
        stream = self._stream
        if stream is None:
            return "no stream"
        if not stream.active:
            return "the stream stopped"
        silent_s = time.monotonic() - self.last_beat
        if silent_s > (STALL_S if self.beats else FIRST_CALLBACK_S):
            return f"no audio callback for {silent_s:.1f} s"
        return None

    def _watch(self) -> None:
        failed_reopens = 0
        while not self._stop.wait(self._reopen_delay_s(failed_reopens) if self.lost else POLL_S):
            if not self.lost:
                reason = self._failed()
                if reason is not None:
                    self._lose(reason)
                    failed_reopens = 0
            elif self._reopen():
                self.lost = False
                log.warning("%s: device is back, audio resumed", self.label)
            else:
                failed_reopens += 1

    def _reopen_delay_s(self, failed_reopens: int) -> float:
        """The wait before the next reopen: the first step after a loss, doubling with each failed reopen."""
        return backoff_delay_s(failed_reopens + 1, self._backoff_s, jitter=1.0)

    def _lose(self, reason: str) -> None:
        self.losses += 1
        self.lost = True
        log.warning("%s: audio device lost (%s); the session stays up, retrying until it returns", self.label, reason)
        self._close()

    def _reopen(self) -> bool:
        try:
            self._open()
            return True
        except DeviceError as first:
            log.debug("%s: reopen failed: %s", self.label, first)
        if not refresh_device_list():
            return False
        try:
            self._open()
            return True
        except DeviceError as second:
            log.debug("%s: reopen after re-scan failed: %s", self.label, second)
            return False
