"""The audio ports an agent file asks for: WAV files, nothing, or real devices with echo handling between them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.agentfile.spec import NULL_DEVICE, Audio
from runtime.audio.ports import MIC_RATE_HZ, AudioIn, AudioOut

if TYPE_CHECKING:
    from runtime.audio.echo import FarEnd
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
    speaker = _make_output(audio, base_dir)
    if hub is not None:
        return _shared_ports(audio, mic, speaker, hub, agent)
    from runtime.audio.devices import SoundDeviceIn
    from runtime.audio.devices_out import SoundDeviceOut

    if isinstance(mic, SoundDeviceIn) and isinstance(speaker, SoundDeviceOut):
        return _echo_handled(audio, mic, speaker), speaker
    return mic, speaker


def _echo_handled(audio: Audio, mic: AudioIn, far_end: FarEnd | None) -> AudioIn:
    """`mic` with the echo handling `audio.echo` asks for, its far end what `far_end` played."""
    if far_end is None:
        return mic
    from runtime.audio.echo import EchoHandledIn, make_processor, resolve_mode

    mode = resolve_mode(audio.echo)
    log.debug("echo handling %s (audio.echo: %s)", mode, audio.echo)
    processor = make_processor(mode, block_frames=mic.block_frames, delay_ms=80)
    return mic if processor is None else EchoHandledIn(mic, far_end, processor)


def _shared_ports(
    audio: Audio, mic: AudioIn, speaker: AudioOut, hub: DeviceHub, agent: str
) -> tuple[AudioIn, AudioOut]:
    """Taps on the hub's streams for sound cards (files and `null` are never shared). The echo handling
    runs once per microphone, before the fan-out, against everything its speaker played (all agents mixed);
    the microphone's first opener's `audio.echo` and speaker decide it."""
    from runtime.audio.devices import SoundDeviceIn
    from runtime.audio.devices_out import SoundDeviceOut
    from runtime.audio.shared import device_key
    from runtime.audio.speaker import SharedSpeaker, SpeakerTap

    far_end: SharedSpeaker | None = None
    if isinstance(speaker, SoundDeviceOut):
        out_key, out_device = device_key(speaker.device, "output"), speaker.device
        far_end = hub.speaker(out_key, lambda: SharedSpeaker(out_key, out_device), agent=agent)
        output = audio.output
        speaker = SpeakerTap(far_end, output.share, buffer_ms=output.buffer_ms, fade_ms=output.fade_ms)
    if not isinstance(mic, SoundDeviceIn):
        return mic, speaker
    source, reference = mic, far_end
    tap = hub.capture(
        device_key(source.device, "input"),
        lambda: _echo_handled(audio, source, reference),
        block_frames=source.block_frames,
        agent=agent,
    )
    return tap, speaker


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
    from runtime.audio.devices_out import SoundDeviceOut

    return SoundDeviceOut(device, buffer_ms=audio.output.buffer_ms, fade_ms=audio.output.fade_ms)
