"""`runtime chat AGENT.yaml`: talk to one agent in the terminal — type text, read or hear the answer.

For developing an agent without a microphone: every line typed is a user turn; the reply, transcripts,
tool calls and usage are printed as they come. Audio replies go to the agent's speaker (or `--speaker`);
`--mic` also streams the agent's microphone. `--backend emulator` runs against the built-in emulator.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.live.events import SessionState

EXIT_OK, EXIT_INVALID, EXIT_FAILED = 0, 1, 3
QUIT_WORDS = ("/quit", "/exit")
IMAGE_COMMAND = "/image"
REPLY_WAIT_S = 30.0
"""How long to wait for the replies still due: before sending the next line, and after end of input."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent_file", type=Path, metavar="AGENT.yaml", help="the agent file to talk to")
    parser.add_argument("--backend", choices=("auto", "gemini", "emulator"), default="auto",
                        help="gemini, the built-in emulator, or auto: gemini when a key is set (default auto)")
    parser.add_argument("--base-url", metavar="URL", help="a Live-compatible endpoint (env RUNTIME_BASE_URL)")
    parser.add_argument("--ca-file", type=Path, metavar="FILE", help="certificates to trust for --base-url")
    parser.add_argument("--token-url", metavar="URL", help="fetch a short-lived token per connection")
    parser.add_argument("--state-dir", type=Path, metavar="DIR",
                        help="keep the resumption handle here, to continue the conversation next time "
                        "(default: a temporary directory, a new conversation each time)")
    parser.add_argument("--mic", action="store_true", help="also stream the agent's microphone")
    parser.add_argument("--speaker", metavar="DEVICE",
                        help="where audio replies go: a device, `file:reply.wav` or `null` (default: the agent's)")
    parser.add_argument("--emulator-scenario", type=Path, metavar="FILE", help="scenario of the built-in emulator")
    parser.add_argument("--verbose", "-v", action="store_true", help="log connection changes and tool details")


def run(args: argparse.Namespace) -> int:
    from runtime.daemon.logs import end_process

    end_process(_run(args))  # native audio threads must not outlive a finalizing interpreter


def _run(args: argparse.Namespace) -> int:
    import logging

    import anyio

    from runtime.agentfile.loader import ConfigErrors, load_agent
    from runtime.daemon.logs import own_stderr
    from runtime.errors import AgentRuntimeError, RuntimeConfigError

    own_stderr()  # PortAudio's initialisation moves descriptor 2 away for a moment
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        agent = load_agent(args.agent_file)
    except (ConfigErrors, RuntimeConfigError) as errors:
        print(errors.render(), file=sys.stderr)
        return EXIT_INVALID
    try:
        return int(anyio.run(_chat, args, agent))
    except AgentRuntimeError as error:
        print(f"runtime chat: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BaseExceptionGroup as errors:
        matched, _ = errors.split(AgentRuntimeError)
        if matched is None:
            raise
        print(f"runtime chat: {_first_leaf(matched)}", file=sys.stderr)
        return EXIT_FAILED


def _first_leaf(errors: BaseException) -> BaseException:
    while isinstance(errors, BaseExceptionGroup):
        errors = errors.exceptions[0]
    return errors


async def _chat(args: argparse.Namespace, agent: Any) -> int:
    import tempfile

    import anyio

    from runtime.daemon.backend import BackendOptions, open_endpoint
    from runtime.daemon.console import ConversationPrinter
    from runtime.live.session import AgentSession

    printer = ConversationPrinter(lambda line: print(line, flush=True))
    tracker = _TurnTracker(printer)
    options = BackendOptions(backend=args.backend, base_url=args.base_url, ca_file=args.ca_file,
                             token_url=args.token_url, scenario=args.emulator_scenario)
    mic, speaker = await _usable_speaker(*_ports(agent, args))
    with tempfile.TemporaryDirectory(prefix="runtime-chat-") as scratch:
        async with open_endpoint(options) as backend, anyio.create_task_group() as group:
            session = AgentSession(
                agent.spec, name=agent.name, base_dir=agent.path.resolve().parent, endpoint=backend.endpoint,
                audio_in=mic, audio_out=speaker, state_dir=args.state_dir or Path(scratch), events=tracker,
                tools=agent.tools,
            )
            await group.start(session.run)
            print(f"talking to {agent.name} ({agent.spec.model}); type a message, Ctrl-D or /quit to leave",
                  file=sys.stderr, flush=True)
            await _type_lines(session, tracker)
            group.cancel_scope.cancel()
    printer.flush()
    return EXIT_OK


async def _type_lines(session: Any, tracker: _TurnTracker) -> None:
    import anyio

    while True:
        line = await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line or line.strip() in QUIT_WORDS:
            break
        if line.strip().startswith(IMAGE_COMMAND):
            await _send_image(session, line.strip().removeprefix(IMAGE_COMMAND).strip())
        elif line.strip():
            # A typed turn interrupts the model like speech; a line typed while the agent still answers waits
            # for that answer, so a script of lines gets every answer whole.
            with anyio.move_on_after(REPLY_WAIT_S):
                await tracker.all_answered()
            tracker.sent += 1
            await session.send_text(line.strip())
    with anyio.move_on_after(REPLY_WAIT_S):
        await tracker.all_answered()


async def _send_image(session: Any, path_text: str) -> None:
    """`/image PATH`: the image goes into the conversation as one camera frame (`realtimeInput.video`, scaled
    to the agent's `video.max_size_px`); the model sees it with the next thing said or typed."""
    import anyio

    from runtime.errors import DeviceError
    from runtime.live.video_link import FrameSender
    from runtime.video.jpeg import fit_jpeg

    path = Path(path_text).expanduser()
    try:
        data = await anyio.to_thread.run_sync(path.read_bytes)
        jpeg = await anyio.to_thread.run_sync(fit_jpeg, data, session.spec.video.max_size_px)
    except OSError as error:
        print(f"runtime chat: {path}: {error.strerror or error}", file=sys.stderr, flush=True)
        return
    except DeviceError as error:
        print(f"runtime chat: {path}: {error}", file=sys.stderr, flush=True)
        return
    FrameSender(session.uplink)(jpeg)
    print(f"(image {path.name} sent, {len(jpeg)} bytes)", file=sys.stderr, flush=True)


async def _usable_speaker(mic: Any, speaker: Any) -> tuple[Any, Any]:
    """Chat is for developing without hardware: no sound card means no audio, not no chat."""
    from runtime.audio.files import NullOut
    from runtime.errors import DeviceError

    try:
        await speaker.open()
    except DeviceError as error:
        print(f"runtime chat: no speaker ({error}); audio replies are not played (try --speaker file:reply.wav)",
              file=sys.stderr)
        return mic, NullOut()
    await speaker.close()
    return mic, speaker


def _ports(agent: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    from runtime.audio.factory import open_ports

    audio = agent.spec.audio
    update: dict[str, Any] = {}
    if not args.mic:
        update["input"] = audio.input.model_copy(update={"device": "null"})
    if args.speaker is not None:
        update["output"] = audio.output.model_copy(update={"device": args.speaker})
    elif agent.spec.response == "text":
        update["output"] = audio.output.model_copy(update={"device": "null"})
    return open_ports(audio.model_copy(update=update), base_dir=agent.path.resolve().parent)


class _TurnTracker:
    """Passes events to the printer and knows when every typed line has had its answer."""

    def __init__(self, printer: Any) -> None:
        import anyio

        self.printer = printer
        self.sent = 0
        self.answered = 0
        self._changed = anyio.Event()

    async def all_answered(self) -> None:
        import anyio

        while self.answered < self.sent:
            await self._changed.wait()
            self._changed = anyio.Event()

    def transcript(self, agent: str, role: Any, text: str) -> None:
        self.printer.transcript(agent, role, text)

    def text(self, agent: str, text: str) -> None:
        self.printer.text(agent, text)

    def tool_call(self, agent: str, outcome: Any) -> None:
        self.printer.tool_call(agent, outcome)

    def usage(self, agent: str, usage: Any) -> None:
        self.printer.usage(agent, usage)

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        from runtime.live.events import SessionState

        self.printer.state(agent, state, detail)
        if state in (SessionState.TURN_COMPLETE, SessionState.INTERRUPTED):
            self.answered += 1
            self._changed.set()
