"""One Live connection of a session: connect, send and receive until it ends, then say how it ended.

A planned close (handover, or a send that failed) stops the sender between two items first, then closes
the socket with 1000 while the receiver keeps reading, so audio already on its way still reaches the
speaker and nothing sent is in doubt. On cancellation the socket is closed with 1000 too.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from runtime.errors import FatalSessionError, SessionError
from runtime.live import sdk
from runtime.live.receive import MalformedMessage, ServerMessageParser, ServerMessages
from runtime.live.resume import Recovery, classify_close
from runtime.live.uplink import pump

if TYPE_CHECKING:
    from google.genai.live import AsyncSession

    from runtime.live.session import AgentSession

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 2.0
SETUP_TIMEOUT_S = 20.0
"""The SDK waits for `setupComplete` with no deadline of its own: a server that accepts the socket and then
says nothing would hold the session forever. Past this, the attempt ends and is retried like a drop."""
RESUMABLE_POLL_S = 0.02


@dataclass(frozen=True)
class Ending:
    """How a connection ended and what to do next."""

    recovery: Recovery
    code: int | None = None
    reason: str = ""
    ready: bool = False
    """The connection got as far as setupComplete."""
    lasted_s: float = 0.0

    def describe(self) -> str:
        code = f"close code {self.code}" if self.code is not None else "no close code"
        return f"{code}: {self.reason}" if self.reason else code


class Link:
    """Shared state of one connection's tasks."""

    def __init__(self) -> None:
        self.closing = anyio.Event()
        self.sender_done = anyio.Event()
        self.timer_armed = anyio.Event()
        self.timer_s = 0.0
        self.handover = False
        self.go_away_at: float | None = None
        self.send_error: str | None = None

    def request_close(self, *, handover: bool) -> None:
        if not self.closing.is_set():
            self.handover = handover
            self.closing.set()

    def arm_timer(self, seconds: float) -> None:
        self.timer_s = seconds
        self.timer_armed.set()

    def send_failed(self, exc: BaseException) -> None:
        self.send_error = f"send failed: {type(exc).__name__}: {exc}"
        self.request_close(handover=False)


async def connect_once(session: AgentSession, *, on_ready: Callable[[], None]) -> Ending:
    """Open one connection, serve it until it ends, classify the end; only cancellation propagates."""
    from google.genai import errors
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    resuming = session.resuming
    started = time.monotonic()
    ready = False
    try:
        client = await session.endpoint.client()
        async with contextlib.AsyncExitStack() as stack:
            with anyio.move_on_after(SETUP_TIMEOUT_S) as setup:
                live = await stack.enter_async_context(
                    client.aio.live.connect(model=session.spec.model, config=session.live_config())
                )
            if setup.cancelled_caught:
                raise TimeoutError(f"no setupComplete within {SETUP_TIMEOUT_S:g} s")
            ready = True
            session.connection_ready()
            on_ready()
            try:
                ending = await _serve(session, live)
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT_S):
                    await live.close()
        return _with_timing(ending, ready=True, started=started)
    except errors.APIError as exc:
        recovery = classify_close(exc.code, str(exc.details or exc.message or ""))
        if recovery is Recovery.FRESH and not resuming:
            recovery = Recovery.FATAL
        ending = Ending(recovery, exc.code, str(exc.details or ""))
    except InvalidStatus as exc:
        status = exc.response.status_code
        fatal = status in (401, 403, 404)
        ending = Ending(Recovery.FATAL if fatal else Recovery.RESUME, None, f"HTTP {status} from the handshake")
    except FatalSessionError as exc:
        ending = Ending(Recovery.FATAL, None, str(exc))
    except (SessionError, InvalidHandshake, ConnectionClosed, OSError, TimeoutError) as exc:
        ending = Ending(Recovery.RESUME, None, f"{type(exc).__name__}: {exc}")
    return _with_timing(ending, ready=ready, started=started)


def _with_timing(ending: Ending, *, ready: bool, started: float) -> Ending:
    return Ending(ending.recovery, ending.code, ending.reason, ready, time.monotonic() - started)


async def _serve(session: AgentSession, live: AsyncSession) -> Ending:
    link = Link()
    ending: Ending | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(_send, session, live, link)
        group.start_soon(_close_when_asked, session.name, live, link, group.cancel_scope)
        group.start_soon(_handover_timer, session, link)
        ending = await _receive(session, live, link)
        group.cancel_scope.cancel()
    if ending is None:  # the peer never answered our close; the socket was aborted
        recovery = Recovery.HANDOVER if link.handover else Recovery.RESUME
        return Ending(recovery, None, link.send_error or "close not answered; connection aborted")
    return ending


async def _send(session: AgentSession, live: AsyncSession, link: Link) -> None:
    try:
        await pump(live, session.uplink, link.closing, link.send_failed, fast=session.endpoint.fast_paths.send)
    finally:
        link.sender_done.set()


async def _close_when_asked(name: str, live: AsyncSession, link: Link, serving: anyio.CancelScope) -> None:
    """Close once the sender has stopped; the receiver ends with the close. A peer that does not answer
    (a silent network) must not hold the handover up: after a deadline the socket is aborted."""
    await link.closing.wait()
    await link.sender_done.wait()
    with anyio.move_on_after(CLOSE_TIMEOUT_S):
        await live.close()
    await anyio.sleep(CLOSE_TIMEOUT_S)  # normally cancelled first: the receiver ends and stops the group
    logger.warning("the server did not finish closing within %.0f s; aborting the connection", 2 * CLOSE_TIMEOUT_S,
                   extra={"agent": name})
    sdk.abort(live)
    serving.cancel()


async def _handover_timer(session: AgentSession, link: Link) -> None:
    """After goAway: hand over at the first resumable point, or at the deadline even if the server is silent."""
    await link.timer_armed.wait()
    deadline = time.monotonic() + link.timer_s
    while not link.closing.is_set():
        if session.at_resumable_point():
            session.hand_over(link, "resumable point after goAway")
        elif time.monotonic() >= deadline:
            session.hand_over(link, "goAway timer")
        else:
            await anyio.sleep(RESUMABLE_POLL_S)


async def _receive(session: AgentSession, live: AsyncSession, link: Link) -> Ending:
    """Read messages until the connection closes. The `try` covers reading and parsing only: an exception
    out of the session's handling of a message is a bug of ours and ends the session as one."""
    from google.genai import errors
    from websockets.exceptions import ConnectionClosed

    parser = ServerMessageParser(session.name, session.stats)
    messages = ServerMessages(live, parser, fast=session.endpoint.fast_paths.receive)
    while True:
        try:
            message = await messages.next()
        except errors.APIError as exc:
            if link.handover:
                return Ending(Recovery.HANDOVER, exc.code, "handover")
            if link.send_error is not None:
                return Ending(Recovery.RESUME, exc.code, link.send_error)
            reason = str(exc.details or exc.message or "")
            return Ending(classify_close(exc.code, reason), exc.code, reason)
        except ConnectionClosed as exc:
            return Ending(Recovery.RESUME, exc.rcvd.code if exc.rcvd else 1006, str(exc))
        except MalformedMessage as exc:
            # Not JSON, or refused by the SDK's parser (a JSON string, deeply nested JSON, a field of the
            # wrong type): start over on a clean connection.
            logger.warning("malformed message from the server: %s", exc, extra={"agent": session.name})
            return Ending(Recovery.RESUME, None, "malformed message")
        if isinstance(message, bytes):
            if message:  # empty when every audio part of the message was malformed (counted by the parser)
                session.on_audio(message)
        else:
            session.on_message(message, link)
