"""Two agents' replies on one speaker, period by period, in each `audio.output.share` mode."""

from __future__ import annotations

import numpy as np

from runtime.audio.mixer import DUCK_GAIN, Mixer, MixerInput, ShareMode
from runtime.audio.playback import PlaybackBuffer

PERIOD = 480


def reply(share: ShareMode) -> MixerInput:
    return MixerInput(PlaybackBuffer(capacity_frames=24_000 * 10, prebuffer_frames=0, fade_frames=96), share)


def say(entry: MixerInput, level: int, periods: int) -> None:
    entry.buffer.write(np.full(PERIOD * periods, level, dtype=np.int16))
    entry.buffer.end_of_turn()


def play(mixer: Mixer, periods: int) -> list[np.ndarray]:
    out = []
    for _ in range(periods):
        period = np.zeros(PERIOD, dtype=np.int16)
        mixer.render(period)
        out.append(period)
    return out


def levels(periods: list[np.ndarray]) -> list[int]:
    """Each period's last sample (after any gain ramp within it)."""
    return [int(p[-1]) for p in periods]


def test_mix_plays_both_replies_at_once_summed() -> None:
    mixer = Mixer(PERIOD)
    kitchen, house = reply("mix"), reply("mix")
    mixer.add(kitchen)
    mixer.add(house)
    say(kitchen, 1000, 3)
    say(house, 3000, 2)
    assert levels(play(mixer, 4)) == [4000, 4000, 1000, 0]


def test_mix_protects_against_clipping_and_recovers_slowly() -> None:
    mixer = Mixer(PERIOD)
    kitchen, house = reply("mix"), reply("mix")
    mixer.add(kitchen)
    mixer.add(house)
    say(kitchen, 25_000, 3)
    say(house, 25_000, 3)
    periods = play(mixer, 3)
    assert all(int(np.max(p)) <= 32767 for p in periods), "limited, never wrapped around"
    assert min(int(np.min(p)) for p in periods) > 30_000, "lowered to full scale, not to silence"
    assert mixer.limited_periods == 3
    say(kitchen, 10_000, 2)
    after = levels(play(mixer, 2))
    assert after[0] < after[1] <= 10_000, "the gain comes back gradually"


def test_queue_holds_the_second_reply_until_the_first_has_ended() -> None:
    mixer = Mixer(PERIOD)
    kitchen, house = reply("queue"), reply("queue")
    mixer.add(kitchen)
    mixer.add(house)
    say(kitchen, 1000, 2)
    first = play(mixer, 1)
    say(house, 3000, 2)
    second = play(mixer, 1)
    assert house.waiting, "the second reply waits (its agent still counts as speaking)"
    rest = play(mixer, 4)
    assert levels(first + second + rest) == [1000, 1000, 3000, 3000, 0, 0], "one right after the other, nothing lost"
    assert not house.waiting


def test_queue_does_not_hold_back_the_agent_that_is_already_speaking() -> None:
    mixer = Mixer(PERIOD)
    kitchen, house = reply("mix"), reply("queue")
    mixer.add(kitchen)
    mixer.add(house)
    say(house, 3000, 2)
    play(mixer, 1)
    say(kitchen, 1000, 1)
    assert levels(play(mixer, 2)) == [4000, 0], "a `mix` reply joins a `queue` one that already plays"


def test_duck_lowers_the_other_reply_while_it_plays() -> None:
    mixer = Mixer(PERIOD)
    music, announcement = reply("mix"), reply("duck")
    mixer.add(music)
    mixer.add(announcement)
    say(music, 8000, 6)
    before = play(mixer, 1)
    say(announcement, 1000, 2)
    during = play(mixer, 3)
    after = play(mixer, 2)
    assert levels(before) == [8000]
    assert levels(during)[:2] == [int(8000 * DUCK_GAIN) + 1000] * 2
    assert int(during[0][0]) > int(during[0][-1]), "ramped down across the period, not stepped (no click)"
    assert levels(after)[-1] == 8000, "back to full level once the announcement ended"


def test_barge_in_flushes_only_the_interrupted_agent() -> None:
    mixer = Mixer(PERIOD)
    kitchen, house = reply("mix"), reply("mix")
    mixer.add(kitchen)
    mixer.add(house)
    say(kitchen, 1000, 5)
    say(house, 3000, 5)
    play(mixer, 1)
    house.buffer.flush()
    fading = play(mixer, 1)[0]
    assert int(fading[0]) > 1000 and int(fading[-1]) == 1000, "the house agent fades out within the period"
    assert levels(play(mixer, 3)) == [1000, 1000, 1000], "the kitchen agent keeps talking"


def test_a_waiting_reply_flushed_by_its_barge_in_is_never_played() -> None:
    mixer = Mixer(PERIOD)
    kitchen, house = reply("queue"), reply("queue")
    mixer.add(kitchen)
    mixer.add(house)
    say(kitchen, 1000, 2)
    play(mixer, 1)
    say(house, 3000, 2)
    play(mixer, 1)
    house.flush_pending = True
    house.buffer.flush()
    assert levels(play(mixer, 4)) == [0, 0, 0, 0], "the kitchen reply has ended; the dropped one never starts"
    assert not house.waiting
