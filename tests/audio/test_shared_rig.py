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


async def test_an_unplugged_shared_device_goes_silent_for_both_agents_and_comes_back_for_both(
    lossy_server: LossyServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from runtime.audio.speaker import SpeakerTap
    from tests.audio.rig import sine

    hub = DeviceHub()
    ports = [
        open_ports(audio("rig_lossy_mic", "rig_lossy"), base_dir=tmp_path, hub=hub, agent=name) for name in "ab"
    ]
    taps = [mic for mic, _ in ports if isinstance(mic, CaptureTap)]
    speakers = [speaker for _, speaker in ports if isinstance(speaker, SpeakerTap)]
    assert len(taps) == len(speakers) == 2 and taps[0].device is taps[1].device
    for tap, speaker in zip(taps, speakers, strict=True):
        await tap.open()
        await speaker.open()
    try:
        for tap in taps:
            await tap.read()
        lossy_server.stop()
        await wait_until(lambda: all(port.lost for port in [*taps, *speakers]))
        assert [await tap.read() for tap in taps] == [bytes(640)] * 2, "silence for both while it is gone"
        speakers[0].write(bytes(4800))
        assert speakers[0].dropped_frames == 2400
        lossy_server.start()
        await wait_until(lambda: not any(port.lost for port in [*taps, *speakers]), timeout_s=20)
        for _ in range(10):
            for tap in taps:
                await tap.read()
        for speaker in speakers:
            speaker.write(sine(440.0, 0.2, 24_000).tobytes())
            speaker.end_of_turn()
        device = speakers[0].device
        written = device.played.written
        await wait_until(lambda: device.played.written > written + 4800 and not any(s.playing for s in speakers))
    finally:
        for tap, speaker in zip(taps, speakers, strict=True):
            await tap.close()
            await speaker.close()
    lost_lines = [r for r in caplog.records if "device lost" in r.getMessage()]
    back_lines = [r for r in caplog.records if "device is back" in r.getMessage()]
    assert len(lost_lines) == 2 and len(back_lines) == 2, "one microphone and one speaker: not one per agent"


def tone_level(samples: np.ndarray, rate_hz: int, freq_hz: float, window_s: float = 0.05) -> np.ndarray:
    """The amplitude of one frequency in each window (a single-bin DFT)."""
    size = int(rate_hz * window_s)
    count = len(samples) // size
    frames = samples[: count * size].reshape(count, size).astype(np.float64)
    basis = np.exp(-2j * np.pi * freq_hz * np.arange(size) / rate_hz)
    return np.asarray(2 * np.abs(frames @ basis) / size)


async def two_replies(share: tuple[str, str], tmp_path: Path) -> np.ndarray:
    """The kitchen agent says 440 Hz for 1 s; 0.3 s into it the house agent says 660 Hz for 0.6 s."""
    from runtime.audio.speaker import SpeakerTap
    from tests.audio.rig import Recorder, sine

    hub = DeviceHub()
    speakers = [
        open_ports(audio("null", "default", output={"device": "default", "share": mode}), base_dir=tmp_path,
                   hub=hub, agent=name)[1]
        for name, mode in zip(("kitchen", "house"), share, strict=True)
    ]
    kitchen, house = speakers
    assert isinstance(kitchen, SpeakerTap) and isinstance(house, SpeakerTap) and kitchen.device is house.device
    with Recorder("rig_speaker_monitor", 24_000) as monitor:
        await kitchen.open()
        await house.open()
        try:
            kitchen.write(sine(440.0, 1.0, 24_000, level=0.4).tobytes())
            kitchen.end_of_turn()
            await wait_until(lambda: kitchen.playing)
            await anyio.sleep(0.3)
            house.write(sine(660.0, 0.6, 24_000, level=0.4).tobytes())
            house.end_of_turn()
            await wait_until(lambda: not kitchen.playing and not house.playing, timeout_s=10)
            await anyio.sleep(0.2)
        finally:
            await kitchen.close()
            await house.close()
    return monitor.samples()


def spans(levels: np.ndarray, threshold: float) -> tuple[int, int]:
    loud = np.nonzero(levels > threshold)[0]
    return int(loud[0]), int(loud[-1])


async def test_two_replies_on_one_speaker_mixed_play_together(tmp_path: Path) -> None:
    heard = await two_replies(("mix", "mix"), tmp_path)
    low, high = tone_level(heard, 24_000, 440.0), tone_level(heard, 24_000, 660.0)
    (low_start, low_end), (high_start, high_end) = spans(low, 3000), spans(high, 3000)
    print(f"mix: 440 Hz windows {low_start}-{low_end}, 660 Hz {high_start}-{high_end} (50 ms each)")
    assert low_start < high_start < high_end < low_end, "the second reply plays inside the first"


async def test_two_replies_on_one_speaker_queued_play_one_after_the_other(tmp_path: Path) -> None:
    heard = await two_replies(("queue", "queue"), tmp_path)
    low, high = tone_level(heard, 24_000, 440.0), tone_level(heard, 24_000, 660.0)
    (low_start, low_end), (high_start, high_end) = spans(low, 3000), spans(high, 3000)
    print(f"queue: 440 Hz windows {low_start}-{low_end}, 660 Hz {high_start}-{high_end} (50 ms each)")
    assert low_end <= high_start, "the second reply waited for the first"
    assert 10 <= high_end - high_start + 1 <= 13, "and played whole (0.6 s)"


async def test_a_ducking_reply_lowers_the_other_while_it_plays(tmp_path: Path) -> None:
    heard = await two_replies(("mix", "duck"), tmp_path)
    low, high = tone_level(heard, 24_000, 440.0), tone_level(heard, 24_000, 660.0)
    high_start, high_end = spans(high, 3000)
    low_start, _ = spans(low, 500)
    solo = float(np.median(low[low_start + 1 : high_start - 1]))
    ducked = float(np.median(low[high_start + 2 : high_end - 1]))
    print(f"duck: 440 Hz alone {solo:.0f}, under the 660 Hz reply {ducked:.0f}")
    assert 0.15 < ducked / solo < 0.35, "about -12 dB while the other agent speaks"


async def test_a_shared_microphone_gates_the_echo_of_any_agent_on_its_speaker(tmp_path: Path) -> None:
    """The kitchen agent plays nothing; the house agent's reply echoes into the shared microphone. The echo
    handling runs once, before the fan-out, against everything the shared speaker played, so the kitchen
    agent does not hear (and would not send) the house agent's voice."""
    from runtime.audio.devices import SoundDeviceIn
    from tests.audio.rig import echo_path

    hub = DeviceHub()
    pair = audio("default", "default", echo="half_duplex", output={"device": "default", "share": "mix"})
    (kitchen_mic, kitchen_speaker), (house_mic, house_speaker) = (
        open_ports(pair, base_dir=tmp_path, hub=hub, agent=name) for name in ("kitchen", "house")
    )
    raw = SoundDeviceIn("default")  # what the room sounds like without echo handling (PulseAudio shares it)
    ports = [kitchen_mic, kitchen_speaker, house_mic, house_speaker, raw]
    heard: dict[str, bytes] = {}

    async def listen(name: str, mic: AudioIn, blocks: int) -> None:
        heard[name] = b"".join([await mic.read() for _ in range(blocks)])

    with echo_path(volume="30%"):
        for port in ports:
            await port.open()
        try:
            async with anyio.create_task_group() as tg:
                for name, mic in (("kitchen", kitchen_mic), ("house", house_mic), ("raw", raw)):
                    tg.start_soon(listen, name, mic, 25)  # 0.5 s of a quiet room
            house_speaker.write(speech(24_000, seconds=2.5).tobytes())
            house_speaker.end_of_turn()
            await wait_until(lambda: house_speaker.playing)
            async with anyio.create_task_group() as tg:
                for name, mic in (("kitchen", kitchen_mic), ("house", house_mic), ("raw", raw)):
                    tg.start_soon(listen, name, mic, 100)  # 2 s of the reply echoing
        finally:
            for port in ports:
                await port.close()
    levels = {name: rms(np.frombuffer(pcm, "<i2")) for name, pcm in heard.items()}
    print(f"echo during the house agent's reply: raw mic rms {levels['raw']:.0f}, "
          f"kitchen agent's mic {levels['kitchen']:.0f}, house agent's mic {levels['house']:.0f}")
    assert levels["raw"] > 40, "the echo path carries the reply into the microphone (a silent room: rms < 5)"
    assert heard["kitchen"] == heard["house"], "one echo handler, before the fan-out"
    assert levels["kitchen"] < levels["raw"] / 10, "the neighbour's reply is gated out of the kitchen agent's mic"
