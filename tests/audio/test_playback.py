"""The playback buffer's arithmetic: prebuffer, underruns, end of turn, flush with fade."""

from __future__ import annotations

import numpy as np

from runtime.audio.playback import PlaybackBuffer

PERIOD = 480  # 20 ms at 24 kHz


def tone(frames: int, level: int = 10_000) -> np.ndarray:
    return np.full(frames, level, dtype=np.int16)


def render(buffer: PlaybackBuffer) -> tuple[np.ndarray, int]:
    out = np.full(PERIOD, 123, dtype=np.int16)
    played = buffer.render(out)
    return out, played


def make(prebuffer: int = 1440, fade: int = 96) -> PlaybackBuffer:
    return PlaybackBuffer(capacity_frames=24_000 * 10, prebuffer_frames=prebuffer, fade_frames=fade)


def test_nothing_plays_until_the_prebuffer_is_filled() -> None:
    buffer = make()
    buffer.write(tone(1000))
    out, played = render(buffer)
    assert played == 0 and not out.any() and not buffer.playing
    buffer.write(tone(440))
    out, played = render(buffer)
    assert played == PERIOD and (out == 10_000).all() and buffer.playing


def test_end_of_turn_plays_a_short_tail_without_waiting_for_the_prebuffer() -> None:
    buffer = make()
    buffer.write(tone(600))
    buffer.end_of_turn()
    _, first = render(buffer)
    out, second = render(buffer)
    assert (first, second) == (480, 120)
    assert not out[120:].any()
    assert buffer.underruns == 0 and not buffer.playing


def test_running_dry_mid_turn_plays_silence_counts_an_underrun_and_prebuffers_again() -> None:
    buffer = make(prebuffer=480)
    buffer.write(tone(700))
    render(buffer)
    out, played = render(buffer)
    assert played == 220 and not out[220:].any()
    assert buffer.underruns == 1
    buffer.write(tone(200))
    _, played = render(buffer)
    assert played == 0, "after an underrun the buffer refills before playing again"
    assert buffer.underruns == 1, "waiting for the prebuffer is not another underrun"


def test_an_idle_speaker_is_not_an_underrun() -> None:
    buffer = make()
    for _ in range(10):
        render(buffer)
    assert buffer.underruns == 0


def test_flush_fades_out_within_one_period_and_drops_the_rest() -> None:
    buffer = make(prebuffer=0, fade=96)
    buffer.write(tone(24_000))
    render(buffer)
    buffer.flush()
    out, played = render(buffer)
    assert played == 96
    assert out[0] > out[48] > out[95] > 0, "a fade, not a hard cut"
    assert not out[96:].any()
    assert buffer.queued_frames == 0 and not buffer.playing and buffer.flush_served
    out, _ = render(buffer)
    assert not out.any() and buffer.underruns == 0


def test_audio_written_after_a_flush_survives_it() -> None:
    buffer = make(prebuffer=0)
    buffer.write(tone(5000))
    render(buffer)
    buffer.flush()
    buffer.write(tone(960, level=-5000))
    render(buffer)
    out, played = render(buffer)
    assert played == PERIOD and (out == -5000).all()


def test_a_full_buffer_refuses_and_counts_instead_of_blocking() -> None:
    buffer = PlaybackBuffer(capacity_frames=1000, prebuffer_frames=0, fade_frames=0)
    buffer.write(tone(1500))
    assert buffer.rejected_frames == 500 and buffer.queued_frames == 1000


def make_adaptive(most: int = 1440, decay: int = 4 * PERIOD) -> PlaybackBuffer:
    return PlaybackBuffer(capacity_frames=24_000 * 10, prebuffer_frames=most, fade_frames=96,
                          start_delay_s=0.015, step_s=0.02, decay_frames=decay)


def render_at(buffer: PlaybackBuffer, now: float) -> int:
    return buffer.render(np.zeros(PERIOD, dtype=np.int16), now)


def test_an_adaptive_turn_plays_its_first_chunk_once_it_waited_the_start_delay() -> None:
    buffer = make_adaptive()
    buffer.write(tone(960), now=10.0)  # a 40 ms chunk, less than the 60 ms prebuffer
    assert render_at(buffer, 10.010) == 0
    assert render_at(buffer, 10.016) == PERIOD, "15 ms later it plays: the next chunk has 15 ms of margin"


def test_a_turn_that_arrives_ahead_of_real_time_plays_at_once() -> None:
    buffer = make_adaptive()
    buffer.write(tone(1440), now=10.0)
    assert render_at(buffer, 10.0) == PERIOD


def test_each_underrun_grows_the_start_delay_up_to_the_prebuffer_duration() -> None:
    buffer = make_adaptive()
    delays = []
    now = 0.0
    for _ in range(4):
        buffer.write(tone(PERIOD + 100), now)
        now += 1.0
        while render_at(buffer, now) == PERIOD:
            pass  # the last render ran dry mid-turn
        delays.append(round(buffer.delay_s, 3))
    assert buffer.underruns == 4
    assert delays == [0.035, 0.055, 0.06, 0.06]
    buffer.write(tone(960), now)
    assert render_at(buffer, now + 0.05) == 0, "after the underruns a turn waits for the grown delay"
    assert render_at(buffer, now + 0.061) == PERIOD


def test_the_start_delay_shrinks_after_clean_playback_but_not_below_its_start() -> None:
    buffer = make_adaptive()
    buffer.write(tone(480), 0.0)
    render_at(buffer, 1.0)
    render_at(buffer, 1.0)  # underrun: the delay grows to 35 ms
    assert round(buffer.delay_s, 3) == 0.035
    buffer.write(tone(PERIOD * 12), 2.0)
    for _ in range(12):
        render_at(buffer, 3.0)
    assert round(buffer.delay_s, 3) == 0.015, "four clean periods shrink the delay by one step, down to its start"


def test_after_a_barge_in_the_next_turn_waits_from_its_own_first_audio() -> None:
    buffer = make_adaptive()
    buffer.write(tone(PERIOD * 10), 0.0)
    assert render_at(buffer, 0.0) == PERIOD
    buffer.flush()
    buffer.write(tone(960), 5.0)  # the next turn comes before the callback served the flush
    render_at(buffer, 5.0)  # fades out and drops the old turn
    assert render_at(buffer, 5.005) == 0
    assert render_at(buffer, 5.02) == PERIOD


def test_a_fixed_buffer_never_adapts() -> None:
    buffer = make(prebuffer=480)
    for _ in range(3):
        buffer.write(tone(480))
        render(buffer)
        render(buffer)
    assert buffer.underruns == 3
    buffer.write(tone(400), 0.0)
    assert render_at(buffer, 100.0) == 0, "it waits for its prebuffer however long"
