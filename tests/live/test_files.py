"""WAV-file and null audio ports."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import anyio
import numpy as np
import pytest

from runtime.audio.files import NullIn, NullOut, WavFileIn, WavFileOut, file_path, read_wav_pcm16
from runtime.errors import DeviceError


def write_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def read_wav(path: Path) -> tuple[int, bytes]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.readframes(wav.getnframes())


@pytest.mark.anyio
async def test_file_microphone_plays_the_file_in_real_time_blocks_then_silence(tmp_path: Path) -> None:
    samples = (np.arange(1000) % 200 + 1).astype(np.int16)
    write_wav(tmp_path / "in.wav", samples, 16000)
    mic = WavFileIn(tmp_path / "in.wav", block_frames=320)
    await mic.open()
    started = time.monotonic()
    blocks = [await mic.read() for _ in range(6)]
    elapsed = time.monotonic() - started
    await mic.close()
    assert all(len(block) == 640 for block in blocks)
    assert b"".join(blocks[:4])[:2000] == samples.tobytes()
    assert b"".join(blocks[3:])[2000 - 3 * 640 :] == bytes(len(b"".join(blocks[3:])) - (2000 - 3 * 640))
    assert mic.finished.is_set()
    assert mic.file_pcm == samples.tobytes() + bytes(4 * 640 - 2000)
    assert elapsed >= 0.11  # six 20 ms blocks, each there once its last frame was captured


def test_stereo_44k1_files_are_mixed_down_and_resampled(tmp_path: Path) -> None:
    t = np.arange(44100) / 44100
    tone = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    write_wav(tmp_path / "s.wav", np.repeat(tone, 2), 44100, channels=2)
    pcm = np.frombuffer(read_wav_pcm16(tmp_path / "s.wav", 16000), dtype="<i2")
    assert abs(len(pcm) - 16000) <= 2
    assert 9000 < np.abs(pcm[100:-100]).max() < 10500


def test_a_missing_file_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match=r"missing\.wav"):
        read_wav_pcm16(tmp_path / "missing.wav", 16000)


@pytest.mark.anyio
async def test_file_speaker_writes_what_was_played_and_flush_drops_the_unplayed_tail(tmp_path: Path) -> None:
    speaker = WavFileOut(tmp_path / "out.wav")
    await speaker.open()
    one_second = bytes([1, 0]) * 24000
    speaker.write(one_second)
    assert speaker.playing
    await anyio.sleep(0.1)
    speaker.flush()
    assert not speaker.playing
    speaker.write(bytes([2, 0]) * 240)
    speaker.end_of_turn()
    await speaker.close()
    rate, pcm = read_wav(tmp_path / "out.wav")
    assert rate == 24000
    played = pcm[: len(pcm) - 480]
    assert 0.09 * 48000 <= len(played) < 0.5 * 48000
    assert set(played) == {0, 1} and pcm[-480:] == bytes([2, 0]) * 240
    assert len(speaker.flushes) == 1


@pytest.mark.anyio
async def test_a_gap_in_the_middle_of_a_turn_is_an_underrun_written_as_silence(tmp_path: Path) -> None:
    speaker = WavFileOut(tmp_path / "out.wav")
    await speaker.open()
    speaker.write(bytes([1, 0]) * 240)  # 10 ms
    await anyio.sleep(0.06)
    speaker.write(bytes([1, 0]) * 240)
    speaker.end_of_turn()
    await anyio.sleep(0.05)
    speaker.write(bytes([1, 0]) * 240)  # a new turn: the pause before it is not a gap
    await speaker.close()
    assert speaker.underruns == 1
    assert 0.04 < speaker.gaps_s[0] < 0.5
    _, pcm = read_wav(tmp_path / "out.wav")
    assert len(pcm) == 3 * 480 + int(speaker.gaps_s[0] * 24000) * 2


@pytest.mark.anyio
async def test_null_ports() -> None:
    mic, speaker = NullIn(), NullOut()
    await mic.open()
    with anyio.move_on_after(0.05) as scope:
        await mic.read()
    assert scope.cancelled_caught
    await speaker.open()
    speaker.write(b"\0\0")
    speaker.flush()
    speaker.end_of_turn()
    assert not speaker.playing and speaker.underruns == 0
    await speaker.close()
    await mic.close()


def test_file_device_settings() -> None:
    assert file_path("file:/tmp/a.wav") == Path("/tmp/a.wav")
    assert file_path("default") is None and file_path(3) is None


@pytest.mark.anyio
async def test_a_prebuffer_absorbs_jitter_like_a_device_buffer(tmp_path: Path) -> None:
    speaker = WavFileOut(tmp_path / "out.wav", prebuffer_ms=150)
    await speaker.open()
    chunk = bytes([1, 0]) * 2400  # 100 ms
    speaker.write(chunk)
    assert speaker.playing  # queued, waiting for the prebuffer
    await anyio.sleep(0.1)
    speaker.write(chunk)  # 200 ms queued: playback starts, and runs dry 200 ms from now
    await anyio.sleep(0.12)
    # 20 ms late for a zero buffer (it would have started 100 ms earlier); with 150 ms, 80 ms to spare: only an
    # event loop woken 80 ms late misses it
    speaker.write(chunk)
    speaker.end_of_turn()
    await anyio.sleep(0.3)
    speaker.write(chunk)  # the next turn, after a pause: not an underrun
    speaker.write(chunk)
    speaker.end_of_turn()
    await speaker.close()
    assert speaker.underruns == 0
    assert speaker.bytes_written == 5 * len(chunk)
