"""One Live connection of a session: connect, send and receive until it ends, then say how it ended.

The connection never imports its session: it takes a `ConnectionHandler`, defined here, and tells it what
arrived. goAway and the handover it leads to are decided here and nowhere else: the timer, the wait for a
resumable point (asked of the handler), and the close.

A planned close (handover, or a send that failed) stops the sender between two items first, then closes
the socket with 1000 while the receiver keeps reading, so audio already on its way still reaches the
speaker and nothing sent is in doubt. On cancellation the socket is closed with 1000 too.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import anyio

from runtime.errors import CredentialRefused, FatalSessionError, SessionError
from runtime.live import sdk
from runtime.live.receive import MalformedCounter, MalformedMessage, ServerMessageParser, ServerMessages
from runtime.live.resume import classify_close, goaway_deadline_s
from runtime.live.uplink import Uplink, pump
from runtime.retry import Recovery

if TYPE_CHECKING:
    from google.genai import types
    from google.genai.live import AsyncSession

    from runtime.live.endpoint import Endpoint

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timeouts:
    """How long a connection waits for the server and for itself (seconds); tests pass a faster instance."""

    setup_s: float = 20.0
    """The SDK waits for `setupComplete` with no deadline of its own: a server that accepts the socket and then
    says nothing would hold the session forever. Past this, the attempt ends and is retried like a drop."""
    close_s: float = 2.0
    """Wait for the server to answer our close; after as long again the socket is aborted."""
    send_s: float = 5.0
    """A send still running after this fails the connection (its bytes count as sent)."""
    goaway_margin_s: float = 10.0
    """Hand over at least this long before goAway's `timeLeft` runs out."""
    resumable_poll_s: float = 0.02
    """How often a connection told to go away looks for a resumable point."""


@dataclass(frozen=True)
class ConnectionEnd:
    """How a connection ended and what to do next."""

    recovery: Recovery
    code: int | None = None
    reason: str = ""
    ready: bool = False
    """The connection got as far as setupComplete."""
    lasted_s: float = 0.0

    def summary(self) -> str:
        code = f"close code {self.code}" if self.code is not None else "no close code"
        return f"{code}: {self.reason}" if self.reason else code


class ConnectionHandler(Protocol):
    """The session, as its connection sees it. Every call comes from the connection's own tasks; an exception
    out of one is a bug of the handler's and ends the session as one (never a reconnect)."""

    def connection_ready(self) -> None:
        """setupComplete arrived: the connection is up."""

    def on_audio(self, pcm: bytes) -> None:
        """A message that was nothing but the model's voice (the receive fast path)."""

    def on_message(self, message: types.LiveServerMessage) -> None:
        """Any other server message (goAway included: the connection acts on it after the handler)."""

    def at_resumable_point(self) -> bool:
        """Whether switching connections now would cut nothing (asked while a goAway is pending)."""
        ...

    def handing_over(self, why: str) -> None:
        """The connection is closing for a handover; the next one resumes."""


class LiveState:
    """What one connection's tasks share while it is live: closing and why, and a pending goAway."""

    def __init__(self) -> None:
        self.closing = anyio.Event()
        self.sender_done = anyio.Event()
        self.go_away = anyio.Event()
        self.hand_over_within_s = 0.0
        """Set with `go_away`: how long to wait for a resumable point before handing over anyway."""
        self.handover = False
        self.send_error: str | None = None

    def request_close(self, *, handover: bool) -> None:
        if not self.closing.is_set():
            self.handover = handover
            self.closing.set()

    def send_failed(self, exc: BaseException) -> None:
        self.send_error = f"send failed: {type(exc).__name__}: {exc}"
        self.request_close(handover=False)


class Connection:
    """Opens and serves the connections of one session, one at a time."""

    def __init__(
        self, endpoint: Endpoint, uplink: Uplink, handler: ConnectionHandler, *,
        counter: MalformedCounter, timeouts: Timeouts, agent: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.agent = agent
        """The agent's name, sent to a token service (which locks the token to that agent)."""
        self.uplink = uplink
        self.handler = handler
        self.counter = counter
        """Where malformed audio parts are counted (the session's stats)."""
        self.timeouts = timeouts
        self._live: LiveState | None = None
        """The state of the connection being served (None between connections)."""

    def request_handover(self, why: str, *, within_s: float) -> None:
        """Hand over to a new connection, with a new setup, at the next resumable point (a goAway of our own):
        a changed tool list is declared that way. Between connections there is nothing to do."""
        state = self._live
        if state is None or state.go_away.is_set() or state.closing.is_set():
            return
        logger.info("%s: handing over at the next resumable point", why)
        state.hand_over_within_s = within_s
        state.go_away.set()

    async def run(self, model: str, config: types.LiveConnectConfig, *, resuming: bool) -> ConnectionEnd:
        """Open one connection, serve it until it ends, classify the end; only cancellation and the handler's
        own errors propagate."""
        started = time.monotonic()
        async with contextlib.AsyncExitStack() as stack:
            opened = await self._open(stack, model, config, resuming=resuming)
            if isinstance(opened, ConnectionEnd):
                return _timed(opened, started)
            try:
                self.handler.connection_ready()
                end = await self._serve(opened)
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(self.timeouts.close_s):
                    await opened.close()
        return _timed(end, started, ready=True)

    async def _open(
        self, stack: contextlib.AsyncExitStack, model: str, config: types.LiveConnectConfig, *, resuming: bool
    ) -> AsyncSession | ConnectionEnd:
        """The connection after its setupComplete, or how the attempt failed. The `try` covers the handshake
        only: what the handler does with the connection is not a connection error."""
        from google.genai import errors
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        try:
            client = await self.endpoint.client(self.agent)
            with anyio.move_on_after(self.timeouts.setup_s) as setup:
                live = await stack.enter_async_context(client.aio.live.connect(model=model, config=config))
            if setup.cancelled_caught:
                raise TimeoutError(f"no setupComplete within {self.timeouts.setup_s:g} s")
            return live
        except errors.APIError as exc:
            recovery = classify_close(exc.code, str(exc.details or exc.message or ""))
            if recovery is Recovery.FRESH and not resuming:
                recovery = Recovery.FATAL
            return ConnectionEnd(recovery, exc.code, str(exc.details or ""))
        except InvalidStatus as exc:
            status = exc.response.status_code
            recovery = Recovery.FATAL if status in (401, 403, 404) else Recovery.RESUME
            return ConnectionEnd(recovery, None, f"HTTP {status} from the handshake")
        except CredentialRefused:
            raise  # the token service refused this device: no retry, the supervisor parks the agent
        except FatalSessionError as exc:
            return ConnectionEnd(Recovery.FATAL, None, str(exc))
        except (SessionError, InvalidHandshake, ConnectionClosed, OSError, TimeoutError) as exc:
            return ConnectionEnd(Recovery.RESUME, None, f"{type(exc).__name__}: {exc}")

    async def _serve(self, live: AsyncSession) -> ConnectionEnd:
        state = self._live = LiveState()
        end: ConnectionEnd | None = None
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._send, live, state)
                group.start_soon(self._close_when_asked, live, state, group.cancel_scope)
                group.start_soon(self._hand_over_after_go_away, state)
                end = await self._receive(live, state)
                group.cancel_scope.cancel()
        finally:
            self._live = None
        if end is None:  # the peer never answered our close; the socket was aborted
            recovery = Recovery.HANDOVER if state.handover else Recovery.RESUME
            return ConnectionEnd(recovery, None, state.send_error or "close not answered; connection aborted")
        return end

    async def _send(self, live: AsyncSession, state: LiveState) -> None:
        try:
            await pump(live, self.uplink, state.closing, state.send_failed, timeout_s=self.timeouts.send_s,
                       fast=self.endpoint.fast_paths.send)
        finally:
            state.sender_done.set()

    async def _close_when_asked(self, live: AsyncSession, state: LiveState, serving: anyio.CancelScope) -> None:
        """Close once the sender has stopped; the receiver ends with the close. A peer that does not answer
        (a silent network) must not hold the handover up: after a deadline the socket is aborted."""
        await state.closing.wait()
        await state.sender_done.wait()
        close_s = self.timeouts.close_s
        with anyio.move_on_after(close_s):
            await live.close()
        await anyio.sleep(close_s)  # normally cancelled first: the receiver ends and stops the group
        logger.warning("the server did not finish closing within %.0f s; aborting the connection", 2 * close_s)
        sdk.abort(live)
        serving.cancel()

    async def _receive(self, live: AsyncSession, state: LiveState) -> ConnectionEnd:
        """Read messages until the connection closes. The `try` covers reading and parsing only: an exception
        out of the handler is a bug of ours and ends the session as one."""
        from google.genai import errors
        from websockets.exceptions import ConnectionClosed

        parser = ServerMessageParser(self.counter)
        messages = ServerMessages(live, parser, fast=self.endpoint.fast_paths.receive)
        while True:
            try:
                message = await messages.next()
            except errors.APIError as exc:
                if state.handover:
                    return ConnectionEnd(Recovery.HANDOVER, exc.code, "handover")
                if state.send_error is not None:
                    return ConnectionEnd(Recovery.RESUME, exc.code, state.send_error)
                reason = str(exc.details or exc.message or "")
                return ConnectionEnd(classify_close(exc.code, reason), exc.code, reason)
            except ConnectionClosed as exc:
                return ConnectionEnd(Recovery.RESUME, exc.rcvd.code if exc.rcvd else 1006, str(exc))
            except MalformedMessage as exc:
                # Not JSON, or refused by the SDK's parser (a JSON string, deeply nested JSON, a field of the
                # wrong type): start over on a clean connection.
                logger.warning("malformed message from the server: %s", exc)
                return ConnectionEnd(Recovery.RESUME, None, "malformed message")
            self._route(message, state)

    def _route(self, message: types.LiveServerMessage | bytes, state: LiveState) -> None:
        if isinstance(message, bytes):
            if message:  # empty when every audio part of the message was malformed (counted by the parser)
                self.handler.on_audio(message)
            return
        self.handler.on_message(message)
        if message.go_away is not None:
            self._go_away(message.go_away, state)

    def _go_away(self, go_away: types.LiveServerGoAway, state: LiveState) -> None:
        if state.go_away.is_set():
            return
        deadline_s = goaway_deadline_s(go_away.time_left, margin_s=self.timeouts.goaway_margin_s)
        logger.info("goAway (time left %s); handing over within %.1f s", go_away.time_left, deadline_s)
        state.hand_over_within_s = deadline_s
        state.go_away.set()

    async def _hand_over_after_go_away(self, state: LiveState) -> None:
        """After goAway: hand over at the first resumable point, or at the deadline even if the server is silent."""
        await state.go_away.wait()
        deadline = time.monotonic() + state.hand_over_within_s
        while not state.closing.is_set():
            if self.handler.at_resumable_point():
                self._hand_over(state, "resumable point after goAway")
            elif time.monotonic() >= deadline:
                self._hand_over(state, "goAway timer")
            else:
                await anyio.sleep(self.timeouts.resumable_poll_s)

    def _hand_over(self, state: LiveState, why: str) -> None:
        logger.info("handing over to a new connection (%s)", why)
        self.handler.handing_over(why)
        state.request_close(handover=True)


def _timed(end: ConnectionEnd, started: float, *, ready: bool = False) -> ConnectionEnd:
    return ConnectionEnd(end.recovery, end.code, end.reason, ready, time.monotonic() - started)
