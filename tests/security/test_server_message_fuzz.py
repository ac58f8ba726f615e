"""What hostile or broken server frames do to the runtime's parser of server messages (runtime/live/receive.py).

Frames go through `ServerMessageParser.parse`, the parser every connection uses (its audio fast path, its
handling of malformed audio, the SDK's converter and model for the rest), and, as the oracle, through the
SDK's own `AsyncSession._receive` with a stand-in for the socket's `recv`. The properties: on every
well-formed message the two agree; anything malformed either raises `MalformedMessage` (or the SDK's
`APIError` for an error object the server sent) where the SDK raises, or is a malformed audio part that is
counted, never an exception of another type. Findings are recorded in docs/security.md.
"""

from __future__ import annotations

import base64
import collections
import json
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from google.genai.live import AsyncSession
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.live.receive import SDK_PARSE_ERRORS, MalformedMessage, ServerMessageParser
from tests.security.server_messages import MAX_FRAME_BYTES, mutated_frames, valid_messages

EXAMPLES = 500
"""Examples per property: more than any other fuzz suite of the project (the most is 300)."""

OUTCOMES: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)


@dataclass
class Counts:
    malformed_audio_parts: int = 0


class OneFrameSocket:
    """Stands in for `websockets.ClientConnection`: `recv` returns one frame."""

    def __init__(self, frame: bytes | str) -> None:
        self.frame = frame

    async def recv(self, decode: bool | None = None) -> bytes | str:
        return self.frame


@pytest.fixture(scope="module")
def api_client() -> Any:
    return genai.Client(api_key="fuzz-not-a-key")._api_client


def sdk_parse(api_client: Any, frame: bytes | str) -> types.LiveServerMessage:
    """The SDK's receive step on one frame; it never suspends, so no event loop is needed."""
    step = AsyncSession(api_client=api_client, websocket=OneFrameSocket(frame))._receive()  # type: ignore[arg-type]
    try:
        step.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        step.close()
    raise AssertionError("the SDK's receive step suspended on a frame that was already there")


def outcome(parse: Any, frame: bytes | str) -> types.LiveServerMessage | bytes | BaseException:
    try:
        result: types.LiveServerMessage | bytes = parse(frame)
    except Exception as exc:  # the properties below say which ones are allowed
        return exc
    return result


def meaning(message: types.LiveServerMessage | bytes) -> tuple[str, object]:
    """What the session does with a message: plays the audio of one that carries only audio parts, else
    handles the message (the fast path gives the first as bytes, the SDK as a model)."""
    if isinstance(message, bytes):
        return "audio", message
    content = message.server_content
    if message.model_fields_set == {"server_content"} and content is not None and content.model_turn is not None:
        parts = content.model_turn.parts or []
        only_audio = parts and all(part.model_fields_set == {"inline_data"} and part.inline_data for part in parts)
        if content.model_fields_set == {"model_turn"} and only_audio:
            return "audio", b"".join(part.inline_data.data or b"" for part in parts if part.inline_data)
    return "message", message


def check_against_the_sdk(api_client: Any, frame: bytes, kind: str) -> None:
    counts = Counts()
    ours = outcome(ServerMessageParser(counts).parse, frame)
    sdk = outcome(lambda f: sdk_parse(api_client, f), frame)
    assert not isinstance(ours, BaseException) or isinstance(ours, MalformedMessage | errors.APIError), repr(ours)
    if counts.malformed_audio_parts:
        assert isinstance(sdk, SDK_PARSE_ERRORS), f"counted as malformed audio, but the SDK read it: {sdk!r:.300}"
        OUTCOMES[kind]["counted"] += 1
    elif isinstance(ours, MalformedMessage):
        assert isinstance(sdk, SDK_PARSE_ERRORS), f"refused, but the SDK read it: {sdk!r:.300}"
        OUTCOMES[kind]["MalformedMessage"] += 1
    elif isinstance(ours, errors.APIError):
        assert isinstance(sdk, errors.APIError) and sdk.code == ours.code
        OUTCOMES[kind]["APIError"] += 1
    else:
        assert not isinstance(sdk, BaseException), f"read, but the SDK raised {sdk!r:.300}"
        assert meaning(ours) == meaning(sdk)
        OUTCOMES[kind]["audio" if isinstance(ours, bytes) else "message"] += 1


@pytest.fixture(scope="module", autouse=True)
def report_outcomes() -> Iterator[None]:
    yield
    for kind, counter in sorted(OUTCOMES.items()):
        print(f"\n{kind:>12}: " + ", ".join(f"{name} {count}" for name, count in counter.most_common()))


@st.composite
def encoded_audio(draw: st.DrawFn) -> tuple[str, bytes]:
    """PCM in base64 as a server may send it: either alphabet, padded, unpadded or half padded."""
    pcm = draw(st.binary(max_size=1200))
    encoded = draw(st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))(pcm).decode()
    bare = encoded.rstrip("=")
    padding = draw(st.sampled_from(["full", "none", "one"]))
    if padding == "none":
        encoded = bare
    elif padding == "one" and len(encoded) - len(bare) == 2:
        encoded = bare + "="
    return encoded, pcm


@st.composite
def audio_messages(draw: st.DrawFn) -> tuple[dict[str, Any], bytes]:
    """A well-formed message of nothing but audio parts of the model's turn, and its PCM."""
    chunks = draw(st.lists(encoded_audio(), min_size=1, max_size=4))
    mime = st.sampled_from(["audio/pcm;rate=24000", "audio/pcm", "audio/pcm;rate=16000", "audio/wav", "audio/"])
    parts = [{"inlineData": {"mimeType": draw(mime), "data": data}} for data, _ in chunks]
    turn: dict[str, Any] = {"parts": parts}
    role = draw(st.sampled_from([None, "model", "user", ""]))
    if role is not None:
        turn["role"] = role
    return {"serverContent": {"modelTurn": turn}}, b"".join(pcm for _, pcm in chunks)


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(message_and_pcm=audio_messages())
def test_every_well_formed_audio_message_reads_as_the_sdk_reads_it(
    api_client: Any, message_and_pcm: tuple[dict[str, Any], bytes]
) -> None:
    message, pcm = message_and_pcm
    frame = json.dumps(message).encode()
    counts = Counts()
    assert ServerMessageParser(counts).parse(frame) == pcm
    assert meaning(sdk_parse(api_client, frame)) == ("audio", pcm)
    assert counts.malformed_audio_parts == 0


@SETTINGS
@given(message=valid_messages)
def test_every_valid_message_reads_as_the_sdk_reads_it(api_client: Any, message: dict[str, Any]) -> None:
    check_against_the_sdk(api_client, json.dumps(message).encode(), "valid")
    assert OUTCOMES["valid"]["counted"] == OUTCOMES["valid"]["MalformedMessage"] == 0


@SETTINGS
@given(mutation=mutated_frames())
def test_a_mutated_frame_reads_as_the_sdk_reads_it_or_is_refused_or_counted(
    api_client: Any, mutation: tuple[str, bytes]
) -> None:
    kind, frame = mutation
    check_against_the_sdk(api_client, frame, kind)


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b'{"serverContent": {"turnComplete": true}', MalformedMessage),
        (b"\xff\xfe", MalformedMessage),
        (b'{"error": {"code": 400, "message": "bad"}}', MalformedMessage),
        (b'{"serverContent": null}', MalformedMessage),
        (b'{"code": 503, "message": "unavailable"}', errors.ServerError),
        (b"5", MalformedMessage),
        (b'"hello"', MalformedMessage),
        (b'"setupComplete"', MalformedMessage),
        (b"[" * 100_000, MalformedMessage),
        (b'{"serverContent": []}', MalformedMessage),
        (b'{"toolCall": {"functionCalls": [{"id": "1", "name": "f", "args": "x"}]}}', MalformedMessage),
        (b'{"sessionResumptionUpdate": {"newHandle": 5}}', MalformedMessage),
        (b'{"usageMetadata": {"totalTokenCount": "NaN"}}', MalformedMessage),
    ],
)
def test_frames_that_end_the_connection(frame: bytes, error: type[BaseException]) -> None:
    with pytest.raises(error):
        ServerMessageParser(Counts()).parse(frame)


def audio_frame(mime_type: str, data: Any) -> bytes:
    blob = {"mimeType": mime_type} if data is None else {"mimeType": mime_type, "data": data}
    return json.dumps({"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}}).encode()


@pytest.mark.parametrize(
    "frame",
    [
        audio_frame("audio/pcm;rate=24000", "!!!!"),
        audio_frame("audio/pcm;rate=24000", "AB=="),
        audio_frame("audio/pcm;rate=24000", "QUJD\nREVG"),
        audio_frame("audio/pcm;rate=24000", 5),
        audio_frame("audio/pcm;rate=24000", ["AAAA"]),
    ],
)
def test_malformed_audio_is_counted_and_dropped_where_the_sdk_would_raise(api_client: Any, frame: bytes) -> None:
    counts = Counts()
    assert ServerMessageParser(counts).parse(frame) == b""
    assert counts.malformed_audio_parts == 1
    with pytest.raises(SDK_PARSE_ERRORS):
        sdk_parse(api_client, frame)


@pytest.mark.parametrize(
    ("frame", "what_passes"),
    [
        (b"", "an empty frame becomes an empty message"),
        (b"null", "null becomes an empty message"),
        (b"[]", "an empty list becomes an empty message"),
        (b'{"serverContent": {"turnComplete": "yes"}}', "strings are coerced to booleans"),
        (b'{"goAway": {"timeLeft": "soon"}}', "timeLeft is not checked"),
        (b'{"sessionResumptionUpdate": {"newHandle": "", "resumable": true}}', "an empty handle"),
        (b'{"serverContent": {"outputTranscription": {"text": "\\ud800"}}}', "a lone surrogate in text"),
        (audio_frame("audio/pcm;rate=abc", "AAAA"), "any mime type"),
        (audio_frame("audio/pcm;rate=24000", "AA"), "odd-length PCM16"),
        (audio_frame("audio/pcm;rate=24000", None), "audio without data"),
        (b'{"toolCall": {"functionCalls": [{"name": "f"}]}}', "a tool call without id"),
        (b'{"toolCall": {"functionCalls": []}}', "a tool call with no calls"),
        (b'{"serverContent": {}, "someFutureField": {"x": 1}}', "unknown fields are dropped"),
    ],
)
def test_hostile_values_the_parser_passes_to_the_session(frame: bytes, what_passes: str) -> None:
    """These reach the session as normal messages: the session has to check them itself."""
    counts = Counts()
    assert isinstance(ServerMessageParser(counts).parse(frame), types.LiveServerMessage | bytes), what_passes
    assert counts.malformed_audio_parts == 0


def test_the_refusal_of_a_huge_frame_is_cut_to_a_loggable_size() -> None:
    with pytest.raises(MalformedMessage) as caught:
        ServerMessageParser(Counts()).parse(b'{"serverContent": ' + b"x" * 500_000)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("kind", ["text", "audio"])
def test_memory_to_parse_a_frame_at_the_size_limit(kind: str) -> None:
    if kind == "text":
        message = {"serverContent": {"outputTranscription": {"text": "a" * (MAX_FRAME_BYTES - 100)}}}
    else:
        data = base64.b64encode(b"\x01\x00" * ((MAX_FRAME_BYTES - 200) * 3 // 8)).decode()
        message = {
            "serverContent": {
                "modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}]}
            }
        }
    frame = json.dumps(message).encode()
    assert len(frame) <= MAX_FRAME_BYTES
    parser = ServerMessageParser(Counts())
    tracemalloc.start()
    try:
        parser.parse(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nparse a {len(frame)} byte {kind} frame: peak {peak / 2**20:.1f} MiB ({peak / len(frame):.1f}x the frame)")
    assert peak < 20 * len(frame)


def test_a_refused_frame_leaves_the_next_frame_readable() -> None:
    parser = ServerMessageParser(Counts())
    with pytest.raises(MalformedMessage):
        parser.parse(b'{"serverContent": null}')
    message = parser.parse(b'{"serverContent": {"turnComplete": true}}')
    assert isinstance(message, types.LiveServerMessage) and message.server_content is not None
    assert message.server_content.turn_complete is True
