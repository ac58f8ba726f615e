"""Every fault the emulator can inject, and what the session does about it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from runtime.audio.files import NullIn, NullOut, WavFileIn
from runtime.emulator import EmulatorOptions, Fault, serve
from runtime.errors import FatalSessionError, SessionError
from runtime.live.endpoint import Endpoint
from runtime.live.resume import HandleStore
from runtime.live.session import AgentSession
from tests.live.conftest import FAST, FAST_TIMEOUTS, Recorder, agent, running, speech_wav

BLOCK = 640


def assert_no_block_twice_or_out_of_order(sent: bytes, received: bytes) -> int:
    """Every received block is a sent block, in order, none twice; returns how many blocks were lost."""
    index = {sent[i : i + BLOCK]: i // BLOCK for i in range(0, len(sent), BLOCK)}
    positions = [index[received[i : i + BLOCK]] for i in range(0, len(received), BLOCK)
                 if received[i : i + BLOCK] in index]
    assert positions == sorted(set(positions)), "a block was repeated or reordered"
    return len(sent) // BLOCK - len(positions)


async def streamed_through(fault: Fault, tmp_path: Path) -> tuple[int, Recorder, int, AgentSession]:
    """Stream 2 s of unique audio through a fault; returns (blocks lost, events, connections, session)."""
    speech_wav(tmp_path / "mic.wav", [("pause", 2.0)])
    mic = WavFileIn(tmp_path / "mic.wav")
    events = Recorder()
    async with serve(EmulatorOptions(port=0, faults=(fault,))) as emulator:
        async with running(agent(), emulator, tmp_path, mic, NullOut(), events=events) as session:
            await events.until(lambda: mic.finished.is_set() and session.uplink.sent_bytes >= len(mic.file_pcm)
                               and session.uplink.buffered_frames == 0)
        lost = assert_no_block_twice_or_out_of_order(mic.file_pcm, emulator.audio_bytes_received())
        return lost, events, emulator.connections, session


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "reason"), [
    (1011, "Internal error encountered."),
    (1011, "Deadline expired before operation could complete."),
    (1001, "going away"),
    (1000, "The operation was cancelled."),
    (1011, "keepalive ping timeout"),
])
async def test_a_closed_connection_is_resumed_and_audio_is_never_repeated(
    tmp_path: Path, code: int, reason: str
) -> None:
    lost, events, connections, session = await streamed_through(
        Fault(action="close", at=0.7, code=code, reason=reason, conn=1), tmp_path)
    assert connections == 2
    assert any(str(code) in detail for detail in events.states("reconnecting"))
    assert lost <= 3, f"{lost} blocks lost"
    assert session.stats.reconnects == 1


@pytest.mark.anyio
async def test_a_dropped_tcp_connection_is_resumed(tmp_path: Path) -> None:
    lost, events, connections, _ = await streamed_through(Fault(action="drop", at=0.7, conn=1), tmp_path)
    assert connections == 2
    assert any("1006" in detail for detail in events.states("reconnecting"))
    print(f"\nblocks lost in a TCP drop: {lost}")
    assert lost <= 5


@pytest.mark.anyio
async def test_a_malformed_frame_starts_a_clean_connection(tmp_path: Path) -> None:
    _, events, connections, _ = await streamed_through(Fault(action="garbage", at=0.5, conn=1), tmp_path)
    assert connections == 2
    assert any("malformed" in detail for detail in events.states("reconnecting"))


@pytest.mark.anyio
async def test_a_silent_server_delays_the_reply_without_a_reconnect(tmp_path: Path) -> None:
    events = Recorder()
    options = EmulatorOptions(port=0, faults=(Fault(action="delay", at=0.0, seconds=0.8),))
    async with serve(options) as emulator, running(
        agent(response="text"), emulator, tmp_path, NullIn(), NullOut(), events=events
    ) as session:
        await session.send_text("anyone there")
        await events.until(lambda: bool(events.states("turn_complete")))
        assert emulator.connections == 1
    assert "".join(events.of("text")) == "You said: anyone there"


@pytest.mark.anyio
async def test_a_transient_setup_rejection_is_retried(tmp_path: Path) -> None:
    events = Recorder()
    options = EmulatorOptions(port=0, faults=(Fault(action="reject_setup", code=1011, conn=1),))
    async with serve(options) as emulator, running(
        agent(response="text"), emulator, tmp_path, NullIn(), NullOut(), events=events
    ):
        assert emulator.connections == 2
    assert events.states("reconnecting")


@pytest.mark.anyio
async def test_a_setup_that_is_never_answered_becomes_a_reconnect(tmp_path: Path) -> None:
    timeouts = replace(FAST_TIMEOUTS, setup_s=0.5)  # 20 s in the product
    events = Recorder()
    options = EmulatorOptions(port=0, faults=(Fault(action="stall_setup", conn=1),))
    async with serve(options) as emulator, running(
        agent(response="text"), emulator, tmp_path, NullIn(), NullOut(), events=events, timeouts=timeouts
    ) as session:
        await session.send_text("still there?")
        await events.until(lambda: bool(events.states("turn_complete")))
        assert emulator.connections == 2
    assert any("no setupComplete within 0.5 s" in detail for detail in events.states("reconnecting"))
    assert "".join(events.of("text")) == "You said: still there?"


def session_for(emulator: object, tmp_path: Path, key: str = "test-key", **spec: object) -> AgentSession:
    return AgentSession(
        agent(**spec), name="test", base_dir=tmp_path,
        endpoint=Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key=key),  # type: ignore[attr-defined]
        audio_in=NullIn(), audio_out=NullOut(), state_dir=tmp_path / "state", policy=FAST,
        timeouts=FAST_TIMEOUTS,
    )


@pytest.mark.anyio
async def test_a_bad_key_is_fatal_after_slow_retries(tmp_path: Path) -> None:
    async with serve(EmulatorOptions(port=0, api_key="right")) as emulator:
        with pytest.raises(FatalSessionError, match="1008"):
            await session_for(emulator, tmp_path, key="wrong").run()
        assert emulator.connections == FAST.fatal_attempts


@pytest.mark.anyio
async def test_a_policy_rejection_of_setup_is_fatal(tmp_path: Path) -> None:
    options = EmulatorOptions(port=0, faults=(Fault(action="reject_setup", code=1008, reason="Quota exceeded."),))
    async with serve(options) as emulator:
        with pytest.raises(FatalSessionError, match="Quota exceeded"):
            await session_for(emulator, tmp_path).run()


@pytest.mark.anyio
async def test_a_server_that_never_accepts_makes_the_session_give_up(tmp_path: Path) -> None:
    options = EmulatorOptions(port=0, faults=(Fault(action="reject_setup", code=1011),))
    async with serve(options) as emulator:
        with pytest.raises(SessionError, match="cannot connect"):
            await session_for(emulator, tmp_path).run()
        assert emulator.connections == FAST.give_up_after


@pytest.mark.anyio
async def test_a_stale_handle_is_dropped_and_a_new_conversation_starts(tmp_path: Path) -> None:
    HandleStore(tmp_path / "state", "test").save("handle-from-a-forgotten-session")
    events = Recorder()
    async with serve(EmulatorOptions(port=0)) as emulator, running(
        agent(response="text"), emulator, tmp_path, NullIn(), NullOut(), events=events
    ) as session:
        await session.send_text("hi")
        await events.until(lambda: bool(events.states("turn_complete")))
        setups = [r["msg"]["setup"] for r in emulator.records if "setup" in r["msg"]]
    assert setups[0]["sessionResumption"] == {"handle": "handle-from-a-forgotten-session"}
    assert setups[1]["sessionResumption"] == {}
    await anyio.sleep(0)
    assert HandleStore(tmp_path / "state", "test").load() not in (None, "handle-from-a-forgotten-session")


@pytest.mark.anyio
async def test_the_watchdog_sees_a_stall_only_while_the_server_owes_an_answer(tmp_path: Path) -> None:
    import time

    options = EmulatorOptions(port=0, faults=(Fault(action="delay", at=0.0, seconds=1.0),))
    events = Recorder()
    async with serve(options) as emulator, running(
        agent(response="text"), emulator, tmp_path, NullIn(), NullOut(), events=events
    ) as session:
        assert time.monotonic() - session.last_progress < 0.1  # idle: nothing owed, never stalled
        await session.send_text("are you there")
        await events.until(lambda: session.uplink.owed_since is not None)
        owed_at = session.uplink.owed_since
        await events.until(lambda: time.monotonic() - owed_at > 0.3)
        assert session.last_progress == owed_at  # the server owes an answer and is silent
        await events.until(lambda: bool(events.states("turn_complete")))
        assert time.monotonic() - session.last_progress < 0.1


@pytest.mark.anyio
async def test_handovers_keep_the_backoff_at_zero_so_a_later_drop_is_retried_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.WARNING, logger="runtime.live.session")
    faults = tuple(Fault(action="drop", at=0.1, conn=n) for n in (2, 4, 6))
    options = EmulatorOptions(port=0, go_away_after_s=0.3, connection_limit_s=2.0, faults=faults)
    events = Recorder()
    async with serve(options) as emulator, running(
        agent(response="text"), emulator, tmp_path, NullIn(), NullOut(), events=events
    ) as session:
        await events.until(lambda: session.stats.reconnects >= 3 and len(session.stats.handovers) >= 3)
    delays = [r.getMessage().rsplit(" in ", 1)[1] for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert delays[:3] == ["0.00 s"] * 3
