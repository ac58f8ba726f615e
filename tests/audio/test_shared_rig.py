"""Shared devices on the PulseAudio rig: several agents' ports built by the factory with the daemon's hub."""

from __future__ import annotations

from pathlib import Path

import anyio
import numpy as np
import pytest

from runtime.agentfile.spec import Audio
from runtime.audio.factory import open_ports
from runtime.audio.ports import AudioIn
from runtime.audio.shared import CaptureTap, DeviceHub
from tests.audio.rig import LossyServer, feed_microphone, needs_rig, rms, speech

pytestmark = [pytest.mark.audio, needs_rig, pytest.mark.anyio]


def audio(mic: str | int, speaker: str | int = "null", **extra: object) -> Audio:
    return Audio.model_validate({"input": {"device": mic}, "output": {"device": speaker}, "echo": "none", **extra})


async def wait_until(condition: object, timeout_s: float = 10.0) -> None:
    with anyio.fail_after(timeout_s):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.02)


async def test_two_agents_naming_one_microphone_two_ways_share_one_stream_and_both_hear_speech(
    tmp_path: Path,
) -> None:
    from runtime.audio.devices import import_sounddevice

    sd = import_sounddevice()
    default_index = int(sd.default.device[0])
    hub = DeviceHub()
    kitchen, _ = open_ports(audio("default"), base_dir=tmp_path, hub=hub, agent="kitchen")
    house, _ = open_ports(audio(default_index), base_dir=tmp_path, hub=hub, agent="house")
    assert isinstance(kitchen, CaptureTap) and isinstance(house, CaptureTap)
    assert kitchen.device is house.device, "one stream for the device, whatever the spelling"
    await kitchen.open()
    await house.open()
    heard: dict[str, bytes] = {}

    async def listen(name: str, mic: AudioIn) -> None:
        heard[name] = b"".join([await mic.read() for _ in range(125)])

    try:
        feeder = feed_microphone(speech(16_000, seconds=2.0), 16_000)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listen, "kitchen", kitchen)
            tg.start_soon(listen, "house", house)
        await anyio.to_thread.run_sync(feeder.join)
    finally:
        await kitchen.close()
        await house.close()
    print(f"shared mic: kitchen rms {rms(np.frombuffer(heard['kitchen'], '<i2')):.0f}")
    assert heard["kitchen"] == heard["house"], "both agents hear the same audio"
    assert rms(np.frombuffer(heard["kitchen"], "<i2")) > 300
    assert hub.users[kitchen.device.key] == {"kitchen", "house"}
    assert kitchen.device.source is None, "the last agent closing released the device"


async def test_an_unplugged_shared_microphone_goes_silent_for_both_agents_and_comes_back_for_both(
    lossy_server: LossyServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub = DeviceHub()
    mics = [open_ports(audio("rig_lossy_mic"), base_dir=tmp_path, hub=hub, agent=name)[0] for name in ("a", "b")]
    taps = [mic for mic in mics if isinstance(mic, CaptureTap)]
    assert len(taps) == 2 and taps[0].device is taps[1].device
    for tap in taps:
        await tap.open()
    try:
        for tap in taps:
            await tap.read()
        lossy_server.stop()
        await wait_until(lambda: all(tap.lost for tap in taps))
        assert [await tap.read() for tap in taps] == [bytes(640)] * 2, "silence for both while it is gone"
        lossy_server.start()
        await wait_until(lambda: not any(tap.lost for tap in taps), timeout_s=20)
        for _ in range(10):
            for tap in taps:
                await tap.read()
    finally:
        for tap in taps:
            await tap.close()
    lost_lines = [r for r in caplog.records if "device lost" in r.getMessage()]
    back_lines = [r for r in caplog.records if "device is back" in r.getMessage()]
    assert len(lost_lines) == 1 and len(back_lines) == 1, "one device, one loss: not one per agent"
