"""Hypothesis strategies for Live API server frames: valid messages, and valid messages with one mutation.

Shared by the SDK-level fuzz test here and the session-level fuzz test (which sends the same frames through
the emulator's raw-frame fault to a real `AgentSession`).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from hypothesis import strategies as st

JSON = Any

MAX_FRAME_BYTES = 1 << 20
"""websockets' default `max_size`, which the SDK does not change: larger frames close the socket with 1009."""

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
short_text = st.text(max_size=40)
token_counts = st.integers(min_value=0, max_value=2**31 - 1)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


pcm_audio = st.binary(max_size=960).map(lambda raw: raw[: len(raw) // 2 * 2]).map(b64)
audio_part = st.builds(lambda data: {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}, pcm_audio)
text_part = st.builds(lambda text: {"text": text}, short_text)

server_content = st.fixed_dictionaries(
    {},
    optional={
        "modelTurn": st.builds(
            lambda parts: {"role": "model", "parts": parts}, st.lists(audio_part | text_part, max_size=3)
        ),
        "turnComplete": st.booleans(),
        "generationComplete": st.booleans(),
        "interrupted": st.booleans(),
        "inputTranscription": st.builds(lambda text: {"text": text}, short_text),
        "outputTranscription": st.builds(lambda text: {"text": text}, short_text),
    },
)
json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | short_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(identifiers, inner, max_size=3),
    max_leaves=8,
)
function_call = st.fixed_dictionaries(
    {"id": identifiers, "name": identifiers, "args": st.dictionaries(identifiers, json_values, max_size=3)}
)
usage = st.fixed_dictionaries(
    {"promptTokenCount": token_counts, "responseTokenCount": token_counts, "totalTokenCount": token_counts},
    optional={
        "responseTokensDetails": st.lists(
            st.fixed_dictionaries({"modality": st.sampled_from(["AUDIO", "TEXT"]), "tokenCount": token_counts}),
            max_size=2,
        )
    },
)

valid_messages: st.SearchStrategy[dict[str, JSON]] = st.one_of(
    st.just({"setupComplete": {}}),
    st.builds(lambda content: {"serverContent": content}, server_content),
    st.builds(
        lambda content, usage_metadata: {"serverContent": content, "usageMetadata": usage_metadata},
        server_content,
        usage,
    ),
    st.builds(lambda calls: {"toolCall": {"functionCalls": calls}}, st.lists(function_call, min_size=1, max_size=3)),
    st.builds(lambda ids: {"toolCallCancellation": {"ids": ids}}, st.lists(identifiers, min_size=1, max_size=3)),
    st.builds(lambda seconds: {"goAway": {"timeLeft": f"{seconds}s"}}, st.integers(0, 600)),
    st.builds(
        lambda handle, resumable, index: {
            "sessionResumptionUpdate": {
                "newHandle": handle,
                "resumable": resumable,
                "lastConsumedClientMessageIndex": str(index),
            }
        },
        st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
        st.booleans(),
        st.integers(0, 2**40),
    ),
    st.builds(lambda usage_metadata: {"usageMetadata": usage_metadata}, usage),
)


def paths(value: JSON, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of a JSON value (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    items: list[tuple[Any, JSON]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        found.append((*prefix, key))
        found += paths(child, (*prefix, key))
    return found


def _parent(message: JSON, path: tuple[Any, ...]) -> Any:
    node = message
    for key in path[:-1]:
        node = node[key]
    return node


WRONG_BASE64 = ["!!!!", "AAA=A", "A", "AB=", "****", "QUJD\nREVG", "data:audio/pcm;base64,AAAA", "%%%", "€€€€"]
WRONG_MIME_TYPES = [
    "audio/pcm;rate=",
    "audio/pcm;rate=abc",
    "audio/pcm;rate=-24000",
    "audio/pcm;rate=0",
    "audio/pcm;rate=99999999999999999999",
    "audio/pcm;rate=24000.5",
    "audio/pcm;rate=16000;rate=48000",
    "audio/pcm",
    "audio/wav",
    "",
    "audio/pcm;rate=24000;channels=2",
]


@st.composite
def mutated_frames(draw: st.DrawFn) -> tuple[str, bytes]:
    """One valid message with exactly one mutation, serialised: (the kind of mutation, the frame)."""
    message = copy.deepcopy(draw(valid_messages))
    kind = draw(
        st.sampled_from(
            ["replace", "delete", "unknown_key", "truncate", "base64", "mime", "huge", "nesting", "top_level", "bytes"]
        )
    )
    if kind == "truncate":
        frame = json.dumps(message).encode()
        return kind, frame[: draw(st.integers(0, max(len(frame) - 1, 0)))]
    if kind == "top_level":
        return kind, json.dumps(draw(st.sampled_from([[message], 5, "serverContent", None, True, [], {}]))).encode()
    if kind == "bytes":
        frame = bytearray(json.dumps(message).encode())
        index = draw(st.integers(0, len(frame) - 1))
        frame[index] = draw(st.sampled_from([0x00, 0x80, 0xFF, 0x22, 0x5C, 0x7B]))
        return kind, bytes(frame)
    if kind == "nesting":
        depth = draw(st.sampled_from([50, 500, 5_000, 50_000]))
        return kind, json.dumps(message)[:-1].encode() + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
    _mutate(draw, message, kind)
    return kind, json.dumps(message).encode()


def _mutate(draw: st.DrawFn, message: dict[str, JSON], kind: str) -> None:
    """Apply one in-place mutation of `kind` to a message."""
    all_paths = paths(message)
    if kind == "replace" and all_paths:
        path = draw(st.sampled_from(all_paths))
        _parent(message, path)[path[-1]] = draw(json_values)
    elif kind == "delete" and all_paths:
        path = draw(st.sampled_from(all_paths))
        del _parent(message, path)[path[-1]]
    elif kind == "unknown_key":
        dicts = [()] + [p for p in all_paths if isinstance(_parent(message, (*p, None)), dict)]
        target = _parent(message, (*draw(st.sampled_from(dicts)), None))
        target[draw(identifiers)] = draw(json_values)
    elif kind in ("base64", "mime"):
        blobs = [p for p in all_paths if p[-1] == "inlineData"]
        if not blobs:
            message["serverContent"] = {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000"}}]}}
            blobs = [("serverContent", "modelTurn", "parts", 0, "inlineData")]
        blob = _parent(message, (*draw(st.sampled_from(blobs)), None))
        if kind == "base64":
            blob["data"] = draw(st.sampled_from(WRONG_BASE64))
        else:
            blob["mimeType"] = draw(st.sampled_from(WRONG_MIME_TYPES))
            blob.setdefault("data", b64(b"\0\0" * 10))
    elif kind == "huge":
        _make_huge(draw, message)


def _make_huge(draw: st.DrawFn, message: dict[str, JSON]) -> None:
    """Grow one field close to (or past) the 1 MiB frame limit."""
    size = draw(st.sampled_from([100_000, 700_000, MAX_FRAME_BYTES + 1]))
    choice = draw(st.sampled_from(["text", "audio", "parts", "args", "handle"]))
    if choice == "text":
        message["serverContent"] = {"outputTranscription": {"text": "a" * size}}
    elif choice == "audio":
        data = b64(b"\x01\x00" * (size * 3 // 8))
        message["serverContent"] = {
            "modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}]}
        }
    elif choice == "parts":
        message["serverContent"] = {"modelTurn": {"parts": [{"text": "x"}] * (size // 12)}}
    elif choice == "args":
        message["toolCall"] = {"functionCalls": [{"id": "1", "name": "f", "args": {"q": "x" * size}}]}
    else:
        message["sessionResumptionUpdate"] = {"newHandle": "h" * size, "resumable": True}
