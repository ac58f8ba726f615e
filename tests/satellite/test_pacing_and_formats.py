"""The satellite boundary's pure parts: the reply's play clock (what a barge-in can still stop) and the
microphone's format conversion, with a clock passed in."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.satellite.link import SatelliteAddress
from runtime.satellite.pacing import BYTES_PER_S, Chunk, Pacer, Start, Stop
from runtime.satellite.pcm import MicBlocks, PcmFormat


def sent_bytes(sends: list[object]) -> int:
    return sum(len(send.pcm) for send in sends if isinstance(send, Chunk))


def test_a_reply_goes_out_no_further_ahead_of_its_play_clock_than_the_lead() -> None:
    pacer = Pacer(lead_s=0.12, chunk_s=0.04)
    pacer.write(bytes(BYTES_PER_S * 2))  # two seconds, all at once (the service sends faster than real time)
    first = pacer.take(now=100.0)
    assert isinstance(first[0], Start)
    assert sent_bytes(first) == int(0.12 * BYTES_PER_S)
    assert pacer.take(now=100.0) == []
    assert pacer.due_in(now=100.0) == pytest.approx(0.0, abs=1e-9)
    sent = 0
    for step in range(1, 101):  # asked every 10 ms for a second, as the send loop does
        sent += sent_bytes(pacer.take(now=100.0 + step * 0.01))
    assert abs(sent - BYTES_PER_S) <= pacer.chunk_bytes, "one second later: one second more"


def test_barge_in_drops_what_was_not_sent_and_ends_the_reply_with_audio_stop() -> None:
    pacer = Pacer(lead_s=0.12, chunk_s=0.04)
    pacer.write(bytes(BYTES_PER_S * 2))
    pacer.take(now=0.0)
    pacer.take(now=0.5)
    pacer.flush()
    assert pacer.take(now=0.5) == [Stop(flushed=True)]
    assert pacer.flushed_bytes + pacer.sent_bytes == 2 * BYTES_PER_S
    assert pacer.sent_bytes - int(0.5 * BYTES_PER_S) <= int(0.12 * BYTES_PER_S), "at most the lead was past recall"
    assert not pacer.playing(now=0.5)
    assert pacer.cut_replies == 1


def test_a_finished_turn_ends_with_audio_stop_once_everything_went_out_and_plays_until_its_clock() -> None:
    pacer = Pacer(lead_s=0.1, chunk_s=0.04)
    pacer.write(bytes(int(0.3 * BYTES_PER_S)))
    pacer.end_of_turn()
    assert not any(isinstance(send, Stop) for send in pacer.take(now=0.0))
    stops = []
    for step in range(1, 26):
        stops += [(step, send) for send in pacer.take(now=step * 0.01) if isinstance(send, Stop)]
    assert len(stops) == 1 and not stops[0][1].flushed
    assert 18 <= stops[0][0] <= 21, "sent with the last chunk, a lead (0.1 s) before the reply's end"
    assert pacer.playing(now=0.29) and not pacer.playing(now=0.31)
    assert pacer.cut_replies == 0


@given(st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=30))
def test_every_written_byte_is_sent_once_in_order(sizes: list[int]) -> None:
    pacer = Pacer(lead_s=0.05, chunk_s=0.02)
    written = b"".join(bytes([i % 251]) * (size * 2) for i, size in enumerate(sizes))
    pacer.write(written)
    pacer.end_of_turn()
    out, now = bytearray(), 0.0
    while True:
        sends = pacer.take(now)
        out += b"".join(send.pcm for send in sends if isinstance(send, Chunk))
        if any(isinstance(send, Stop) for send in sends):
            break
        now += 0.01
    assert bytes(out) == written


def test_48_khz_stereo_becomes_16_khz_mono_blocks() -> None:
    blocks = MicBlocks(block_frames=320)
    t = np.arange(48_000) / 48_000
    tone = (np.sin(2 * np.pi * 440 * t) * 10_000).astype("<i2")
    stereo = np.repeat(tone[:, None], 2, axis=1).tobytes()
    out = []
    for start in range(0, len(stereo), 4096):
        out += blocks.push(stereo[start : start + 4096], PcmFormat(48_000, 2, 2))
    assert all(len(block) == 640 for block in out)
    pcm = np.frombuffer(b"".join(out), dtype="<i2").astype(np.float32)
    assert 15_000 <= len(pcm) <= 16_000  # one second, less what the resampler still holds
    rms = np.sqrt(np.mean(pcm[2000:] ** 2))
    assert 6_500 < rms < 7_600  # a 10 000-peak sine keeps its loudness (rms ~7 071)


def test_16_khz_mono_passes_through_untouched() -> None:
    blocks = MicBlocks(block_frames=320)
    pcm = np.arange(1000, dtype="<i2").tobytes()
    out = blocks.push(pcm, PcmFormat(16_000, 2, 1))
    assert b"".join(out) == pcm[:1920]  # three whole blocks; the rest waits for the next chunk


def test_satellite_addresses() -> None:
    assert SatelliteAddress.parse("wyoming://kitchen-sat.local:10700") == SatelliteAddress("kitchen-sat.local", 10700)
    assert SatelliteAddress.parse("wyoming://[fe80::1]:10700") == SatelliteAddress("fe80::1", 10700)


def test_a_new_connection_starts_with_nothing_owed() -> None:
    pacer = Pacer(lead_s=0.1, chunk_s=0.02)
    pacer.write(bytes(BYTES_PER_S))
    pacer.take(now=0.0)
    pacer.forget()
    assert pacer.take(now=0.05) == [] and pacer.idle and not pacer.playing(now=0.05)
