"""The audio ports an agent file asks for: WAV files, nothing, or real devices with echo handling between them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.agentfile.spec import NULL_DEVICE, Audio
from runtime.audio.ports import MIC_RATE_HZ, AudioIn, AudioOut

if TYPE_CHECKING:
    from runtime.audio.shared import DeviceHub

log = logging.getLogger(__name__)


def _file_path(device: str | int, base_dir: Path) -> Path | None:
    from runtime.audio.files import file_path

    path = file_path(device)
    if path is None:
        return None
    return path if path.is_absolute() else base_dir / path


def open_ports(
    audio: Audio, *, base_dir: Path, hub: DeviceHub | None = None, agent: str = ""
) -> tuple[AudioIn, AudioOut]:
    """Build (not yet open) the microphone and speaker of one agent; the session opens and closes them.

    `file:PATH` settings are resolved against `base_dir` (the agent file's folder). A device pair gets the
    echo handling `audio.echo` asks for; file and null ports need none (nothing is acoustically coupled).
    With a `hub` (the daemon's), a sound card is opened once for every agent naming it (`shared.py`).
    """
    block_frames = MIC_RATE_HZ * audio.input.block_ms // 1000
    mic = _make_input(audio, base_dir, block_frames)
    if hub is not None:
        mic = _shared_input(mic, hub, agent)
    speaker = _make_output(audio, base_dir)
    from runtime.audio.devices import SoundDeviceIn, SoundDeviceOut
    from runtime.audio.shared import CaptureTap

    if isinstance(mic, SoundDeviceIn | CaptureTap) and isinstance(speaker, SoundDeviceOut):
        from runtime.audio.echo import EchoHandledIn, make_processor, resolve_mode

        mode = resolve_mode(audio.echo)
        log.debug("echo handling %s (audio.echo: %s)", mode, audio.echo)
        processor = make_processor(mode, block_frames=block_frames, delay_ms=80)
        if processor is not None:
            return EchoHandledIn(mic, speaker, processor), speaker
    return mic, speaker


def _shared_input(mic: AudioIn, hub: DeviceHub, agent: str) -> AudioIn:
    """A tap on the hub's stream for a sound card microphone; files and `null` are never shared."""
    from runtime.audio.devices import SoundDeviceIn
    from runtime.audio.shared import device_key

    if not isinstance(mic, SoundDeviceIn):
        return mic
    return hub.capture(device_key(mic.device, "input"), lambda: mic, block_frames=mic.block_frames, agent=agent)


def _make_input(audio: Audio, base_dir: Path, block_frames: int) -> AudioIn:
    device = audio.input.device
    path = _file_path(device, base_dir)
    if path is not None:
        from runtime.audio.files import WavFileIn

        return WavFileIn(path, block_frames=block_frames)
    if device == NULL_DEVICE:
        from runtime.audio.files import NullIn

        return NullIn()
    from runtime.audio.devices import SoundDeviceIn

    return SoundDeviceIn(device, block_frames=block_frames, buffer_ms=audio.input.buffer_ms)


def _make_output(audio: Audio, base_dir: Path) -> AudioOut:
    device = audio.output.device
    path = _file_path(device, base_dir)
    if path is not None:
        from runtime.audio.files import WavFileOut

        return WavFileOut(path)
    if device == NULL_DEVICE:
        from runtime.audio.files import NullOut

        return NullOut()
    from runtime.audio.devices import SoundDeviceOut

    return SoundDeviceOut(device, buffer_ms=audio.output.buffer_ms, fade_ms=audio.output.fade_ms)
