"""The bench's one definition of an underrun, on made-up speaker logs: pure logic, no clock, no sockets.

An underrun is a silence after which the speaker carries on the same reply exactly where it stopped; the end
of a reply and a reply cut short are not. The count never depends on a client's own turn signals, nor on
whether the server sends `turnComplete` after `interrupted`.
"""

from __future__ import annotations

import base64
from typing import Any

from bench.analysis import DeviceLog
from bench.devices import SpeakerMeter
from bench.silences import Kind, SentReply, classified, classify, handover_gaps, replies_sent, underrun_figures
from runtime.emulator.voice import synthesize

PERIOD_FRAMES = 480
PERIOD_BYTES = 2 * PERIOD_FRAMES
CHUNK_BYTES = 1920
"""40 ms at 24 kHz, the emulator's chunk."""
REPLY = synthesize("the quick brown fox jumps over the lazy dog")
"""Every reply says the same words, as in the bench: replies are byte-for-byte alike."""


def audio_message(pcm: bytes, at_s: float, conn: int = 1) -> dict[str, Any]:
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(pcm).decode()}}
    return {"conn": conn, "mono": at_s, "msg": {"serverContent": {"modelTurn": {"parts": [part]}}}}


def signal(name: str, at_s: float, conn: int = 1) -> dict[str, Any]:
    return {"conn": conn, "mono": at_s, "msg": {"serverContent": {name: True}}}


def reply_sent(
    pcm: bytes, at_s: float, end: tuple[str, ...] = ("turnComplete",), conn: int = 1
) -> list[dict[str, Any]]:
    """A reply as the emulator sends it: 40 ms chunks, then its ending signal(s)."""
    chunks = [audio_message(pcm[i : i + CHUNK_BYTES], at_s + i / 48_000, conn) for i in range(0, len(pcm), CHUNK_BYTES)]
    return chunks + [signal(name, at_s + len(pcm) / 48_000, conn) for name in end]


class Speaker:
    """Plays through the bench's speaker meter one 20 ms period at a time, on a made-up clock."""

    def __init__(self) -> None:
        self.log = DeviceLog()
        self.meter = SpeakerMeter(self.log, PERIOD_FRAMES)
        self.now_s = 0.0

    def tick(self, audio: bytes = b"", flushed: bool = False) -> None:
        self.now_s += 0.020
        self.meter.on_callback(audio, self.now_s, flushed)

    def play(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), PERIOD_BYTES):
            self.tick(pcm[start : start + PERIOD_BYTES])

    def silence(self, periods: int) -> None:
        for _ in range(periods):
            self.tick()


def test_a_hole_in_the_middle_of_a_reply_is_one_underrun() -> None:
    speaker = Speaker()
    speaker.play(REPLY[:19_200])  # 20 whole periods
    speaker.tick(REPLY[19_200:19_500])  # the queue ran dry partway through a period
    speaker.silence(2)
    speaker.play(REPLY[19_500:])
    speaker.silence(10)
    speaker.play(REPLY)  # the next reply, after the end of this one
    speaker.silence(3)

    figures = underrun_figures(speaker.log, reply_sent(REPLY, 0.0) + reply_sent(REPLY, 5.0))

    assert figures["count"] == 1
    assert round(figures["silence_ms"]) == 60  # from the short period to the next one that played
    assert figures["client_counter"] is None
    assert [kind for _, kind in classified(speaker.log, reply_sent(REPLY, 0.0))] == [Kind.UNDERRUN, Kind.REPLY_END]


def test_every_silence_in_a_reply_counts_once_however_long() -> None:
    speaker = Speaker()
    for start in range(0, len(REPLY), 4 * PERIOD_BYTES):  # four periods of audio, then one of silence
        speaker.play(REPLY[start : start + 4 * PERIOD_BYTES])
        speaker.silence(1 if start < 40_000 else 5)
    holes = -(-len(REPLY) // (4 * PERIOD_BYTES)) - 1  # the silence after the last piece is the reply's end

    assert underrun_figures(speaker.log, reply_sent(REPLY, 0.0))["count"] == holes


def barge_in_run(ending: tuple[str, ...]) -> tuple[DeviceLog, list[dict[str, Any]]]:
    """A reply interrupted after 1.2 s of audio (the client flushes), then the answer to the barge-in."""
    cut_at = 28_800
    sent = reply_sent(REPLY[:cut_at], 0.0, end=ending) + reply_sent(REPLY, 2.5)
    speaker = Speaker()
    speaker.play(REPLY[: cut_at - 4 * PERIOD_BYTES])  # what was still queued at the barge-in is never played
    speaker.tick(REPLY[cut_at - 4 * PERIOD_BYTES : cut_at - 4 * PERIOD_BYTES + 96], flushed=True)
    speaker.silence(60)
    speaker.play(REPLY)
    return speaker.log, sent


def test_a_barge_in_is_a_cut_reply_whether_or_not_turn_complete_follows_interrupted() -> None:
    log, interrupted_only = barge_in_run(("interrupted",))
    same_log, with_turn_complete = barge_in_run(("interrupted", "turnComplete"))

    assert [kind for _, kind in classified(log, interrupted_only)] == [Kind.REPLY_CUT]
    assert underrun_figures(log, interrupted_only) == underrun_figures(same_log, with_turn_complete)
    assert underrun_figures(log, interrupted_only)["count"] == 0
    assert replies_sent(interrupted_only) == replies_sent(with_turn_complete)


def test_a_client_that_plays_out_an_interrupted_reply_has_no_underrun_either() -> None:
    """The quick-start before it handled `interrupted`: it played all it had received, then went silent
    until the next reply. However long that silence, it is not an underrun: the reply was cut."""
    cut_at = 28_800
    sent = reply_sent(REPLY[:cut_at], 0.0, end=("interrupted",)) + reply_sent(REPLY, 2.5)
    speaker = Speaker()
    speaker.play(REPLY[:cut_at])
    speaker.silence(120)
    speaker.play(REPLY)

    assert [kind for _, kind in classified(speaker.log, sent)] == [Kind.REPLY_CUT]
    assert underrun_figures(speaker.log, sent)["count"] == 0


def test_a_reply_cut_inside_a_pause_is_not_mistaken_for_its_lookalike() -> None:
    """Replies are identical: a reply cut in the pause before "the" is followed by a new reply starting with
    "the". The 100 ms of context holds the word before the pause, so the two are not taken for one stretch."""
    pause = REPLY.index(bytes(2880), 25 * 2880)  # the space before "the lazy"
    played = REPLY[: pause + 1000] + REPLY
    replies = [SentReply(REPLY, complete=True)]
    assert classify(played, pause + 1000, replies) is Kind.REPLY_CUT
    assert classify(REPLY, pause + 1000, replies) is Kind.UNDERRUN  # the same place, resumed: a hole


def test_nothing_played_after_a_silence_is_not_classified() -> None:
    assert classify(REPLY[:9600], 9600, [SentReply(REPLY, complete=True)]) is None


def test_a_reply_ends_only_where_the_emulator_completed_it() -> None:
    played = REPLY[:30_000] + REPLY
    assert classify(played, 30_000, [SentReply(REPLY[:30_000], complete=False)]) is Kind.REPLY_CUT
    assert classify(played, 30_000, [SentReply(REPLY[:30_000], complete=True)]) is Kind.REPLY_END


def test_replies_end_at_turn_complete_or_interrupted_and_with_their_connection() -> None:
    sent = reply_sent(REPLY[:4000], 0.0, end=("interrupted", "turnComplete"))
    sent += reply_sent(REPLY[:6000], 1.0, end=())  # its connection dropped mid-reply
    sent += reply_sent(REPLY[:2000], 2.0, conn=2)
    assert replies_sent(sent) == [
        SentReply(REPLY[:4000], complete=False),
        SentReply(REPLY[:2000], complete=True),
        SentReply(REPLY[:6000], complete=False),
    ]


def test_handover_gaps_are_underruns_and_cut_replies_near_a_handover() -> None:
    """Silences from 0.5 s before to 5 s after a handover count: underruns give the gap, cut replies `cut`."""
    speaker = Speaker()
    speaker.play(REPLY[:9600])  # 0.2 s
    speaker.silence(3)  # an underrun of 60 ms at 0.22 s
    speaker.play(REPLY[9600:28_800])
    speaker.silence(20)  # at 0.62 s: the reply was cut (its connection dropped)
    speaker.play(REPLY[:48_000])
    speaker.silence(7)  # an underrun of 140 ms at 1.64 s
    speaker.play(REPLY[48_000:])
    sent = reply_sent(REPLY[:28_800], 0.0, end=()) + reply_sent(REPLY, 1.0, conn=2)

    assert handover_gaps(speaker.log, sent, around=[0.1]) == (140.0, 1)
    assert handover_gaps(speaker.log, sent, around=[1.5]) == (140.0, 0)
    assert handover_gaps(speaker.log, sent, around=[-4.7]) == (60.0, 0)
    assert handover_gaps(speaker.log, sent, around=[100.0]) == (0.0, 0)


def test_the_meter_records_every_silence_after_audio_and_nothing_before() -> None:
    speaker = Speaker()
    speaker.silence(3)  # nothing played yet: not a silence after audio
    speaker.play(REPLY[: PERIOD_BYTES * 2])
    speaker.silence(2)
    speaker.tick(REPLY[PERIOD_BYTES * 2 : PERIOD_BYTES * 3])
    speaker.tick(REPLY[PERIOD_BYTES * 3 : PERIOD_BYTES * 3 + 10], flushed=True)  # a barge-in's fade
    speaker.silence(1)
    speaker.tick(REPLY[:PERIOD_BYTES])

    assert [offset for offset, _, _ in speaker.log.silences] == [PERIOD_BYTES * 2, PERIOD_BYTES * 3]
    assert [round(end - start, 3) for _, start, end in speaker.log.silences] == [0.04, 0.04]
    assert bytes(speaker.log.played_pcm) == REPLY[: PERIOD_BYTES * 3] + REPLY[:PERIOD_BYTES]


def test_a_reply_whose_last_chunk_is_padded_with_zeros_still_ends() -> None:
    """Pipecat pads the last chunk of a reply with digital silence up to 40 ms: the reply still ended."""
    speaker = Speaker()
    speaker.play(REPLY + bytes(960))
    speaker.silence(20)
    speaker.play(REPLY)

    assert [kind for _, kind in classified(speaker.log, reply_sent(REPLY, 0.0))] == [Kind.REPLY_END]


def test_an_underrun_just_before_the_end_of_a_reply_is_judged_by_that_reply_alone() -> None:
    speaker = Speaker()
    speaker.play(REPLY[:-960])  # the last period came late
    speaker.silence(2)
    speaker.play(REPLY[-960:])
    speaker.silence(20)
    speaker.play(REPLY)

    kinds = [kind for _, kind in classified(speaker.log, reply_sent(REPLY, 0.0) + reply_sent(REPLY, 4.0))]
    assert kinds == [Kind.UNDERRUN, Kind.REPLY_END]
