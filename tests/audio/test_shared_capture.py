"""One microphone, several agents: the hub opens a device once and every agent hears every block."""

from __future__ import annotations

from pathlib import Path

import anyio
import numpy as np
import pytest

from runtime.audio.shared import CaptureTap, DeviceHub, device_key
from runtime.errors import DeviceError

pytestmark = pytest.mark.anyio


class ExclusiveIn:
    """A bare-ALSA-style `hw:` microphone: a second open while it is open fails with "device busy".

    Each block carries its own number in every sample, so a test can tell which blocks an agent heard.
    """

    def __init__(self, block_frames: int = 320) -> None:
        self.block_frames = block_frames
        self.is_open = False
        self.opens = 0
        self.closes = 0
        self.blocks_read = 0
        self.lost = False

    async def open(self) -> None:
        if self.is_open:
            raise DeviceError("cannot open input device 'hw:1,0': Device or resource busy")
        self.is_open = True
        self.opens += 1

    async def read(self) -> bytes:
        if not self.is_open:
            raise DeviceError("read before open()")
        await anyio.sleep(0)  # a real device makes the reader wait for its period
        self.blocks_read += 1
        if self.lost:
            return bytes(self.block_frames * 2)
        return np.full(self.block_frames, self.blocks_read, dtype="<i2").tobytes()

    async def close(self) -> None:
        if self.is_open:
            self.closes += 1
        self.is_open = False


def block_numbers(pcm: bytes) -> list[int]:
    return sorted(set(np.frombuffer(pcm, dtype="<i2").tolist()))


async def read_blocks(tap: CaptureTap, count: int) -> list[bytes]:
    return [await tap.read() for _ in range(count)]


async def test_the_exclusive_device_refuses_a_second_agent_without_the_hub() -> None:
    device = ExclusiveIn()
    await device.open()
    with pytest.raises(DeviceError, match="busy"):
        await device.open()


async def test_two_agents_on_an_exclusive_device_open_it_once_and_both_hear_every_block() -> None:
    device = ExclusiveIn()
    hub = DeviceHub()
    kitchen = hub.capture("input:0:hw:1,0", lambda: device, block_frames=320, agent="kitchen")
    house = hub.capture("input:0:hw:1,0", lambda: device, block_frames=320, agent="house")
    await kitchen.open()
    await house.open()
    heard: dict[str, list[bytes]] = {}

    async def listen(name: str, tap: CaptureTap) -> None:
        heard[name] = await read_blocks(tap, 50)

    async with anyio.create_task_group() as tg:
        tg.start_soon(listen, "kitchen", kitchen)
        tg.start_soon(listen, "house", house)
    assert device.opens == 1
    assert heard["kitchen"] == heard["house"], "the same audio, block for block"
    assert [block_numbers(b) for b in heard["kitchen"]] == [[n] for n in range(1, 51)], "nothing lost or doubled"
    assert device.blocks_read == 50, "the device is read once per block, not once per agent"
    assert hub.users["input:0:hw:1,0"] == {"kitchen", "house"}
    await kitchen.close()
    assert device.is_open, "the other agent still listens"
    await house.close()
    assert not device.is_open and device.closes == 1


async def test_each_agent_gets_its_own_block_size_from_the_same_stream() -> None:
    device = ExclusiveIn(block_frames=160)
    hub = DeviceHub()
    small = hub.capture("mic", lambda: device, block_frames=320)
    large = hub.capture("mic", lambda: device, block_frames=800)
    await small.open()
    await large.open()
    small_pcm, large_pcm = b"", b""
    async with anyio.create_task_group() as tg:

        async def read_small() -> None:
            nonlocal small_pcm
            small_pcm = b"".join(await read_blocks(small, 10))

        async def read_large() -> None:
            nonlocal large_pcm
            large_pcm = b"".join(await read_blocks(large, 4))

        tg.start_soon(read_small)
        tg.start_soon(read_large)
    assert len(small_pcm) == len(large_pcm) == 6400
    assert small_pcm == large_pcm
    await small.close()
    await large.close()


async def test_an_agent_that_stops_reading_falls_behind_by_a_bounded_backlog() -> None:
    device = ExclusiveIn()
    hub = DeviceHub()
    reader = hub.capture("mic", lambda: device, block_frames=320)
    idle = hub.capture("mic", lambda: device, block_frames=320)
    await reader.open()
    await idle.open()
    await read_blocks(reader, 200)  # 4 s while `idle` reads nothing
    assert idle.dropped_frames == 100 * 320, "2 s kept, the older 2 s dropped"
    assert block_numbers(await idle.read()) == [101], "the idle agent resumes with the oldest block kept"
    await reader.close()
    await idle.close()


async def test_a_lost_device_is_lost_for_every_agent_on_it_and_returns_for_all() -> None:
    device = ExclusiveIn()
    hub = DeviceHub()
    taps = [hub.capture("mic", lambda: device, block_frames=320) for _ in range(2)]
    for tap in taps:
        await tap.open()
    device.lost = True
    assert all(tap.lost for tap in taps)
    assert [await tap.read() for tap in taps] == [bytes(640)] * 2, "silence for everyone while it is gone"
    device.lost = False
    assert not any(tap.lost for tap in taps)
    assert block_numbers(await taps[0].read()) == block_numbers(await taps[1].read()) != [0]
    for tap in taps:
        await tap.close()


async def test_a_device_that_cannot_open_fails_every_agent_and_opens_once_it_is_back() -> None:
    device = ExclusiveIn()
    await device.open()  # someone else (another program) holds it
    hub = DeviceHub()
    tap = hub.capture("mic", lambda: device, block_frames=320)
    with pytest.raises(DeviceError, match="busy"):
        await tap.open()
    await device.close()
    await tap.open()
    assert block_numbers(await tap.read()) == [1]
    await tap.close()


async def test_the_last_agent_closing_releases_the_device_and_the_next_open_builds_it_anew() -> None:
    built: list[ExclusiveIn] = []

    def make() -> ExclusiveIn:
        built.append(ExclusiveIn())
        return built[-1]

    hub = DeviceHub()
    tap = hub.capture("mic", make, block_frames=320)
    await tap.open()
    await tap.close()
    again = hub.capture("mic", make, block_frames=320)
    await again.open()
    assert len(built) == 2 and not built[0].is_open and built[1].is_open
    await again.close()


DEVICES = [
    {"name": "bcm2835 Headphones: - (hw:0,0)", "hostapi": 0, "max_input_channels": 0, "max_output_channels": 2},
    {"name": "USB PnP Sound Device: Audio (hw:1,0)", "hostapi": 0, "max_input_channels": 1,
     "max_output_channels": 2},
    {"name": "default", "hostapi": 0, "max_input_channels": 32, "max_output_channels": 32},
]


def test_a_device_is_keyed_by_what_it_resolves_to_not_by_its_spelling() -> None:
    spellings = ["USB PnP", "usb pnp sound", 1, "1", "hw:1,0"]
    keys = {device_key(spelling, "input", DEVICES, default_index=2) for spelling in spellings}
    assert keys == {"input:0:USB PnP Sound Device: Audio (hw:1,0)"}
    assert device_key("default", "input", DEVICES, default_index=2) == "input:0:default"
    assert device_key("USB", "output", DEVICES, default_index=2) != device_key("USB", "input", DEVICES, 2)


def test_a_device_that_does_not_resolve_is_keyed_by_its_spelling() -> None:
    assert device_key("ReSpeaker", "input", DEVICES, default_index=2) == "input:unresolved:ReSpeaker"


def test_files_and_null_devices_are_never_shared(tmp_path: Path) -> None:
    from runtime.agentfile.spec import Audio
    from runtime.audio.factory import open_ports
    from runtime.audio.files import NullIn, WavFileIn

    hub = DeviceHub()
    wav, _ = open_ports(Audio.model_validate({"input": {"device": "file:in.wav"}}), base_dir=tmp_path, hub=hub)
    null, _ = open_ports(Audio.model_validate({"input": {"device": None}}), base_dir=tmp_path, hub=hub)
    assert isinstance(wav, WavFileIn) and isinstance(null, NullIn) and hub.captures == {}


def test_agents_on_one_device_pair_share_both_streams_and_one_echo_handler(tmp_path: Path) -> None:
    from runtime.agentfile.spec import Audio
    from runtime.audio.echo import EchoHandledIn
    from runtime.audio.factory import open_ports
    from runtime.audio.speaker import SpeakerTap

    hub = DeviceHub()
    pair = {"input": {"device": "USB"}, "output": {"device": "USB"}, "echo": "half_duplex"}
    mic_a, speaker_a = open_ports(Audio.model_validate(pair), base_dir=tmp_path, hub=hub, agent="a")
    pair["output"] = {"device": "USB", "share": "duck"}
    mic_b, speaker_b = open_ports(Audio.model_validate(pair), base_dir=tmp_path, hub=hub, agent="b")
    assert isinstance(mic_a, CaptureTap) and isinstance(mic_b, CaptureTap) and mic_a.device is mic_b.device
    assert isinstance(speaker_a, SpeakerTap) and isinstance(speaker_b, SpeakerTap)
    assert speaker_a.device is speaker_b.device and (speaker_a.share, speaker_b.share) == ("queue", "duck")
    source = mic_a.device.make()
    assert isinstance(source, EchoHandledIn), "echo handled once, before the fan-out"
    assert source.speaker is speaker_a.device, "against everything the shared speaker played"
    assert len(hub.captures) == len(hub.speakers) == 1


class HoldingIn(ExclusiveIn):
    """A device that says how much it holds (as `SoundDeviceIn.ready_frames` does)."""

    held = 0

    def ready_frames(self) -> int:
        return self.held


async def test_a_tap_holds_its_backlog_and_what_the_device_holds() -> None:
    device = HoldingIn()
    hub = DeviceHub()
    kitchen = hub.capture("input:0:hw:1,0", lambda: device, block_frames=320, agent="kitchen")
    house = hub.capture("input:0:hw:1,0", lambda: device, block_frames=160, agent="house")
    await kitchen.open()
    await house.open()
    device.held = 640
    assert kitchen.ready_frames() == house.ready_frames() == 640
    await read_blocks(kitchen, 2)  # the device is read for both taps: house now has two blocks waiting
    assert kitchen.ready_frames() == 640 and house.ready_frames() == 640 + 640
    await read_blocks(house, 3)  # 480 of its 640 frames, the rest of the second block stays pending
    assert house.ready_frames() == 640 + 160
    await kitchen.close()
    await house.close()
