"""What hostile or broken server frames do to the google-genai SDK's receive path.

Frames go through the SDK's own `AsyncSession._receive` (JSON decoding, `_LiveServerMessage_from_mldev`,
`LiveServerMessage._from_response`) with a stand-in for the socket's `recv`. The findings — which exceptions
escape `receive()` and which hostile values pass through silently — are recorded in docs/security.md; the
session must survive all of them. If a new SDK raises a new kind of exception, these tests fail.
"""

from __future__ import annotations

import base64
import collections
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
from google import genai
from google.genai import errors, types
from google.genai.live import AsyncSession
from hypothesis import HealthCheck, given, settings

from tests.security.server_messages import MAX_FRAME_BYTES, mutated_frames, valid_messages

RECEIVE_ERRORS: tuple[type[BaseException], ...] = (
    pydantic.ValidationError,  # a field of the wrong type, wrong base64
    ValueError,  # not JSON, or not UTF-8: "Failed to parse response: b'...'" (repeats the whole frame)
    TypeError,  # a JSON object with no known key ({"error": ...}, {"serverContent": null}), a number
    AttributeError,  # a JSON string at the top level
    RecursionError,  # JSON nested a few thousand levels deep
    errors.APIError,  # an object with no known key but an integer "code"
)
"""Everything `AsyncSession.receive()` raises for a frame it cannot parse (the socket stays open)."""

OUTCOMES: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)


class OneFrameSocket:
    """Stands in for `websockets.ClientConnection`: `recv` returns one frame."""

    def __init__(self, frame: bytes | str) -> None:
        self.frame = frame

    async def recv(self, decode: bool | None = None) -> bytes | str:
        return self.frame


@pytest.fixture(scope="module")
def api_client() -> Any:
    return genai.Client(api_key="fuzz-not-a-key")._api_client


def parse(api_client: Any, frame: bytes | str) -> types.LiveServerMessage:
    """Run the SDK's receive step on one frame; it never suspends, so no event loop is needed."""
    step = AsyncSession(api_client=api_client, websocket=OneFrameSocket(frame))._receive()  # type: ignore[arg-type]
    try:
        step.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        step.close()
    raise AssertionError("the SDK's receive step suspended on a frame that was already there")


@pytest.fixture(scope="module", autouse=True)
def report_outcomes() -> Iterator[None]:
    yield
    for kind, counter in sorted(OUTCOMES.items()):
        print(f"\n{kind:>12}: " + ", ".join(f"{name} {count}" for name, count in counter.most_common()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=valid_messages)
def test_every_valid_message_parses(api_client: Any, message: dict[str, Any]) -> None:
    parsed = parse(api_client, json.dumps(message).encode())
    content = message.get("serverContent", {})
    for index, part in enumerate(content.get("modelTurn", {}).get("parts", [])):
        assert parsed.server_content is not None and parsed.server_content.model_turn is not None
        parts = parsed.server_content.model_turn.parts or []
        if "inlineData" in part:
            assert parts[index].inline_data is not None
            assert parts[index].inline_data.data == base64.b64decode(part["inlineData"]["data"])
    if "toolCall" in message:
        assert parsed.tool_call is not None and parsed.tool_call.function_calls is not None
        assert [call.id for call in parsed.tool_call.function_calls] == [
            c["id"] for c in message["toolCall"]["functionCalls"]
        ]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(mutation=mutated_frames())
def test_a_mutated_frame_parses_or_raises_only_known_errors(api_client: Any, mutation: tuple[str, bytes]) -> None:
    kind, frame = mutation
    try:
        parse(api_client, frame)
    except RECEIVE_ERRORS as exc:
        OUTCOMES[kind][type(exc).__name__] += 1
    else:
        OUTCOMES[kind]["parsed"] += 1


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b'{"serverContent": {"turnComplete": true}', ValueError),
        (b"\xff\xfe", ValueError),
        (b'{"error": {"code": 400, "message": "bad"}}', TypeError),
        (b'{"serverContent": null}', TypeError),
        (b'{"code": 503, "message": "unavailable"}', errors.ServerError),
        (b"5", TypeError),
        (b'"hello"', AttributeError),
        (b'"setupComplete"', TypeError),
        (b"[" * 100_000, RecursionError),
        (b'{"serverContent": []}', pydantic.ValidationError),
        (b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "!!!!"}}]}}}', pydantic.ValidationError),
        (b'{"toolCall": {"functionCalls": [{"id": "1", "name": "f", "args": "x"}]}}', pydantic.ValidationError),
        (b'{"sessionResumptionUpdate": {"newHandle": 5}}', pydantic.ValidationError),
        (b'{"usageMetadata": {"totalTokenCount": "NaN"}}', pydantic.ValidationError),
    ],
)
def test_frames_that_escape_receive_as_exceptions(api_client: Any, frame: bytes, error: type[BaseException]) -> None:
    with pytest.raises(error):
        parse(api_client, frame)


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
        (
            b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": '
            b'{"mimeType": "audio/pcm;rate=abc", "data": "AAAA"}}]}}}',
            "any mime type",
        ),
        (
            b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": '
            b'{"mimeType": "audio/pcm;rate=24000", "data": "AA"}}]}}}',
            "odd-length PCM16",
        ),
        (
            b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000"}}]}}}',
            "audio without data",
        ),
        (b'{"toolCall": {"functionCalls": [{"name": "f"}]}}', "a tool call without id"),
        (b'{"toolCall": {"functionCalls": []}}', "a tool call with no calls"),
        (b'{"serverContent": {}, "someFutureField": {"x": 1}}', "unknown fields are dropped"),
    ],
)
def test_hostile_values_the_sdk_passes_to_the_session(api_client: Any, frame: bytes, what_passes: str) -> None:
    """These reach the session as normal messages: the session has to check them itself."""
    assert isinstance(parse(api_client, frame), types.LiveServerMessage), what_passes


def test_the_parse_error_repeats_the_whole_frame_so_it_must_be_cut_before_logging(api_client: Any) -> None:
    frame = b'{"serverContent": ' + b"x" * 500_000
    with pytest.raises(ValueError) as caught:
        parse(api_client, frame)
    assert len(str(caught.value)) > 500_000


@pytest.mark.parametrize("kind", ["text", "audio"])
def test_memory_to_parse_a_frame_at_the_size_limit(api_client: Any, kind: str) -> None:
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
    tracemalloc.start()
    try:
        parse(api_client, frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nparse a {len(frame)} byte {kind} frame: peak {peak / 2**20:.1f} MiB ({peak / len(frame):.1f}x the frame)")
    assert peak < 20 * len(frame)


def test_a_parse_failure_leaves_the_next_frame_readable(api_client: Any) -> None:
    frames = iter([b'{"serverContent": null}', b'{"serverContent": {"turnComplete": true}}'])

    class Socket:
        async def recv(self, decode: bool | None = None) -> bytes:
            return next(frames)

    session = AsyncSession(api_client=api_client, websocket=Socket())  # type: ignore[arg-type]
    for expected_error in (True, False):
        step = session._receive()
        try:
            step.send(None)
        except StopIteration as done:
            assert not expected_error
            assert done.value.server_content.turn_complete is True
        except TypeError:
            assert expected_error
