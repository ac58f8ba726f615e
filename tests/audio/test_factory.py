"""What `open_ports` builds from an agent file's `audio` section."""

from __future__ import annotations

from pathlib import Path

from runtime.agentfile.spec import Audio
from runtime.audio.devices import SoundDeviceIn
from runtime.audio.devices_out import SoundDeviceOut
from runtime.audio.echo import CancelThenGate, DoubleTalkGate, EchoHandledIn, livekit_available
from runtime.audio.factory import open_ports
from runtime.audio.files import NullIn, NullOut, WavFileIn, WavFileOut


def audio(**section: object) -> Audio:
    return Audio.model_validate(section)


def test_file_devices_become_wav_ports_relative_to_the_agent_folder(tmp_path: Path) -> None:
    mic, speaker = open_ports(
        audio(input={"device": "file:in.wav", "block_ms": 40}, output={"device": "file:/tmp/out.wav"}),
        base_dir=tmp_path
    )
    assert isinstance(mic, WavFileIn) and mic.path == tmp_path / "in.wav" and mic.block_frames == 640
    assert isinstance(speaker, WavFileOut) and speaker.path == Path("/tmp/out.wav")


def test_null_devices_become_null_ports(tmp_path: Path) -> None:
    mic, speaker = open_ports(
        audio(input={"device": "null"}, output={"device": "null"}), base_dir=tmp_path
    )
    assert isinstance(mic, NullIn) and isinstance(speaker, NullOut)


def test_a_device_pair_gets_echo_handling_fed_by_its_own_speaker(tmp_path: Path) -> None:
    mic, speaker = open_ports(
        audio(input={"device": "USB"}, output={"device": 2, "buffer_ms": 100}), base_dir=tmp_path
    )
    assert isinstance(speaker, SoundDeviceOut) and speaker.device == 2 and speaker.buffer_ms == 100
    assert isinstance(mic, EchoHandledIn) and mic.speaker is speaker
    assert isinstance(mic.mic, SoundDeviceIn) and mic.mic.device == "USB"
    expected = CancelThenGate if livekit_available() else DoubleTalkGate
    assert isinstance(mic.processor, expected)


def test_echo_modes_none_and_half_duplex_are_honoured(tmp_path: Path) -> None:
    mic, _ = open_ports(audio(echo="none"), base_dir=tmp_path)
    assert isinstance(mic, SoundDeviceIn)
    mic, _ = open_ports(audio(echo="half_duplex"), base_dir=tmp_path)
    assert isinstance(mic, EchoHandledIn) and isinstance(mic.processor, DoubleTalkGate)


def test_a_file_microphone_with_a_real_speaker_gets_no_echo_handling(tmp_path: Path) -> None:
    mic, speaker = open_ports(audio(input={"device": "file:in.wav"}), base_dir=tmp_path)
    assert isinstance(mic, WavFileIn) and isinstance(speaker, SoundDeviceOut)
