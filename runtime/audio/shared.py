"""One capture stream per device, whatever number of agents listen to it.

A bare ALSA `hw:` device (a Pi running a service, no PulseAudio or PipeWire) can be opened once: a second
agent naming it would fail with "device busy". The daemon's `DeviceHub` therefore opens each device once,
keyed by what the agent file's name resolves to (`device_key`: the PortAudio device after selection, not
the spelling), and hands every agent a `CaptureTap`, an `AudioIn` of its own. Each block is read from the
device once (converted to 16 kHz once, echo-handled once) and copied to every open tap; each agent's
mute, wake gate and block size apply after the fan-out, in its tap's reader. A lost device is lost for
every agent on it at once (the source yields silence), and comes back for all of them.

Reads are pulled, not pushed: the tap whose backlog is empty reads the source under a lock and delivers
the block to every tap, so no task outlives the agents and a device nobody reads is closed.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from runtime.audio.ports import MIC_RATE_HZ, AudioIn
from runtime.audio.selection import Kind, choose_device
from runtime.errors import DeviceError

if TYPE_CHECKING:
    from runtime.audio.speaker import SharedSpeaker

log = logging.getLogger(__name__)

BACKLOG_MS = 2000
"""Audio a tap may fall behind the device before its oldest blocks are dropped (milliseconds)."""

MakeInput = Callable[[], AudioIn]


def device_key(device: str | int, kind: Kind, devices: Any = None, default_index: int | None = None) -> str:
    """What `device` resolves to, as a key: two spellings of one device (`default`, a substring, its index)
    give the same key. `devices`/`default_index` default to what PortAudio reports now; a device that cannot
    be resolved keys on its spelling (opening it will report why)."""
    try:
        if devices is None:
            from runtime.audio.devices import import_sounddevice

            sd = import_sounddevice()
            devices = sd.query_devices()
            default_index = int(sd.default.device[0 if kind == "input" else 1])
        index = choose_device(devices, -1 if default_index is None else default_index, device, kind)
    except (DeviceError, OSError, ImportError) as exc:
        log.debug("%s device %r not resolved (%s); keyed by its name", kind, device, exc)
        return f"{kind}:unresolved:{device}"
    found = devices[index]
    return f"{kind}:{found.get('hostapi', 0)}:{found['name']}"


class SharedCapture:
    """One device's microphone and the taps reading it; the source is built and opened for the first open
    tap and closed with the last."""

    def __init__(self, key: str, make: MakeInput) -> None:
        self.key = key
        self.make = make
        self.source: AudioIn | None = None
        self.taps: list[CaptureTap] = []
        """The taps currently open, in the order they opened."""
        self.frames = 0
        """16 kHz frames read from the device so far (over every open of it): the stream's position."""
        self.companions: dict[str, Any] = {}
        """Per-device state other layers keep beside the stream (the wake word's shared feature front end)."""
        self._open_lock = anyio.Lock()
        self._read_lock = anyio.Lock()

    @property
    def lost(self) -> bool:
        return bool(getattr(self.source, "lost", False))

    async def attach(self, tap: CaptureTap) -> None:
        async with self._open_lock:
            if not self.taps:
                source = self.make()
                await source.open()
                self.source = source
                log.debug("%s opened (shared)", self.key)
            self.taps.append(tap)

    async def detach(self, tap: CaptureTap) -> None:
        async with self._open_lock:
            if tap not in self.taps:
                return
            self.taps.remove(tap)
            if not self.taps and self.source is not None:
                source, self.source = self.source, None
                await source.close()
                log.debug("%s closed (no agent reads it)", self.key)

    async def fill(self, tap: CaptureTap) -> None:
        """Read one block from the device for every tap, unless another tap already brought `tap` one."""
        async with self._read_lock:
            if tap.backlog or tap not in self.taps:
                return
            source = self.source
            if source is None:
                raise DeviceError(f"{self.key} read before open()")
            block = await source.read()
            self.frames += len(block) // 2
            for each in self.taps:
                each.deliver(block, self.frames)

    def companion(self, name: str, make: Callable[[], Any]) -> Any:
        """The device's `name` companion, made on first use (one per device, whatever number of agents)."""
        if name not in self.companions:
            self.companions[name] = make()
        return self.companions[name]


class CaptureTap:
    """One agent's view of a shared microphone: the device's blocks, re-cut to the agent's block size."""

    def __init__(self, device: SharedCapture, block_frames: int) -> None:
        self.device = device
        self.block_frames = block_frames
        self.backlog: collections.deque[tuple[bytes, int]] = collections.deque()
        """Blocks delivered and not yet read, each with the device position of its end."""
        self.position_frames = 0
        """The device position (`SharedCapture.frames`) of the end of the audio `read` returned last."""
        self.dropped_frames = 0
        """16 kHz frames dropped because this agent fell more than `BACKLOG_MS` behind the device."""
        self._backlog_bytes = 0
        self._pending = bytearray()
        self._pending_end = 0

    @property
    def lost(self) -> bool:
        """True while the device is gone (reads yield silence, for every agent on it)."""
        return self.device.lost

    @property
    def latency_s(self) -> float:
        return float(getattr(self.device.source, "latency_s", 0.0))

    @property
    def erle_db(self) -> float | None:
        """The device's echo canceller's live ERLE (one canceller per device, whichever agents read it);
        None without a canceller or before it has heard echo (`runtime_echo_erle_db`)."""
        value = getattr(self.device.source, "erle_db", None)
        return value if isinstance(value, float) else None

    def deliver(self, block: bytes, end_frame: int) -> None:
        """A block from the device, ending at device position `end_frame` (called by whichever tap read it)."""
        self.backlog.append((block, end_frame))
        self._backlog_bytes += len(block)
        while self._backlog_bytes > MIC_RATE_HZ * 2 * BACKLOG_MS // 1000 and len(self.backlog) > 1:
            old, _ = self.backlog.popleft()
            self._backlog_bytes -= len(old)
            self.dropped_frames += len(old) // 2

    async def open(self) -> None:
        self.backlog.clear()
        self._backlog_bytes = 0
        self._pending.clear()
        await self.device.attach(self)

    async def read(self) -> bytes:
        need = self.block_frames * 2
        while len(self._pending) < need:
            if not self.backlog:
                await self.device.fill(self)
                continue
            block, self._pending_end = self.backlog.popleft()
            self._backlog_bytes -= len(block)
            self._pending += block
        out = bytes(self._pending[:need])
        del self._pending[:need]
        self.position_frames = self._pending_end - len(self._pending) // 2
        return out

    def ready_frames(self) -> int:
        """Frames this tap could read without waiting: its own backlog and what the device holds."""
        method = getattr(self.device.source, "ready_frames", None)
        held = int(method()) if callable(method) and not self.device.lost else 0
        return len(self._pending) // 2 + self._backlog_bytes // 2 + held

    async def close(self) -> None:
        await self.device.detach(self)


class DeviceHub:
    """The daemon's shared devices, one entry per resolved device; agents get taps on them."""

    def __init__(self) -> None:
        self.captures: dict[str, SharedCapture] = {}
        self.speakers: dict[str, SharedSpeaker] = {}
        self.users: dict[str, set[str]] = {}
        """Which agents asked for each device (its key), for `runtime devices` and the logs."""

    def capture(self, key: str, make: MakeInput, *, block_frames: int, agent: str = "") -> CaptureTap:
        """A tap on the microphone `key`; `make` builds the device's port when it is first opened (the
        latest caller's `make` wins, so a changed agent file takes effect once every agent closed it)."""
        shared = self.captures.get(key)
        if shared is None:
            shared = self.captures[key] = SharedCapture(key, make)
        elif not shared.taps:
            shared.make = make
        self._note(key, agent)
        return CaptureTap(shared, block_frames)

    def speaker(self, key: str, make: Callable[[], SharedSpeaker], *, agent: str = "") -> SharedSpeaker:
        """The speaker `key`, built by `make` the first time any agent names it."""
        shared = self.speakers.get(key)
        if shared is None:
            shared = self.speakers[key] = make()
        self._note(key, agent)
        return shared

    def _note(self, key: str, agent: str) -> None:
        users = self.users.setdefault(key, set())
        if agent and agent not in users:
            users.add(agent)
            if len(users) > 1:
                log.info("%s shared by %s", key, ", ".join(sorted(users)))
