"""What outlives one connection: conversations behind resumption handles, and ephemeral tokens."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

AUDIO_TOKENS_PER_S = 25
"""The Live API counts 25 tokens per second of audio, in and out."""


HANDLES_KEPT = 16


def text_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def audio_tokens(pcm_bytes: int, rate_hz: int) -> int:
    return int(pcm_bytes / 2 / rate_hz * AUDIO_TOKENS_PER_S)


@dataclass
class Turn:
    """One entry of the context: who said it, the words, and its cost in tokens per modality."""

    role: str
    text: str
    text_tokens: int = 0
    audio_tokens: int = 0
    video_tokens: int = 0
    """Camera frames (`realtimeInput.video`; runtime/emulator/video.py)."""

    @property
    def tokens(self) -> int:
        return self.text_tokens + self.audio_tokens + self.video_tokens


@dataclass
class Conversation:
    """The session behind one or more connections: its context survives a resume."""

    started: float = field(default_factory=time.monotonic)
    history: list[Turn] = field(default_factory=list)
    speech_turns: int = 0
    """Detected speech turns so far (picks the scenario's next transcript)."""
    open_conn: int | None = None
    """Connection number currently serving this conversation."""
    ended_at: float | None = None
    handles: list[str] = field(default_factory=list)
    """Resumption handles issued for this conversation, oldest first (the latest HANDLES_KEPT stay valid)."""
    tool_results: dict[str, Any] = field(default_factory=dict)
    """Latest response per tool name, for `say_tool_result`."""

    def context_tokens(self) -> int:
        return sum(turn.tokens for turn in self.history)

    def modality_tokens(self) -> tuple[int, int]:
        """(text, audio) tokens in the context."""
        return sum(t.text_tokens for t in self.history), sum(t.audio_tokens for t in self.history)

    def video_tokens(self) -> int:
        """Tokens of the camera frames in the context."""
        return sum(t.video_tokens for t in self.history)

    def compress(self, compression: tuple[int, int] | None) -> int:
        """Sliding-window compression (trigger, target tokens): past the trigger, trim to the target."""
        if compression is None or self.context_tokens() <= compression[0]:
            return 0
        return self.trim_to(compression[1])

    def trim_to(self, target_tokens: int) -> int:
        """Sliding-window compression: drop the oldest turns until the context fits; return how many went."""
        dropped = 0
        total = self.context_tokens()
        while len(self.history) > 1 and total > target_tokens:
            total -= self.history.pop(0).tokens
            dropped += 1
        return dropped


class SessionStore:
    """Opaque resumption handles -> conversations; a handle lives `ttl_s` after its session's last connection."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._handles: dict[str, Conversation] = {}

    def issue(self, conversation: Conversation) -> str:
        self._forget_expired()
        handle = secrets.token_urlsafe(24)
        self._handles[handle] = conversation
        conversation.handles.append(handle)
        if len(conversation.handles) > HANDLES_KEPT:
            # A client only ever resumes with one of its latest handles; bounded memory over long sessions.
            self._handles.pop(conversation.handles.pop(0), None)
        return handle

    def find(self, handle: str) -> Conversation | None:
        self._forget_expired()
        return self._handles.get(handle)

    def _forget_expired(self) -> None:
        now = time.monotonic()
        expired = [
            handle
            for handle, conversation in self._handles.items()
            if conversation.ended_at is not None and now - conversation.ended_at > self._ttl_s
        ]
        for handle in expired:
            self._handles.pop(handle).handles.remove(handle)


@dataclass
class EphemeralToken:
    uses_left: int
    expires_at: float
    new_session_expires_at: float
    setup: dict[str, Any]
    """Locked `bidiGenerateContentSetup` constraints, merged over the client's setup."""
    field_mask: tuple[str, ...] | None = None
    """The `fieldMask` the token was minted with: the fields locked (None: the whole setup)."""


class TokenStore:
    """`auth_tokens/...` names minted by `POST /v1alpha/auth_tokens`."""

    def __init__(self) -> None:
        self._tokens: dict[str, EphemeralToken] = {}

    def mint(self, token: EphemeralToken) -> str:
        name = "auth_tokens/" + secrets.token_urlsafe(24)
        self._tokens[name] = token
        return name

    def redeem(self, name: str) -> tuple[EphemeralToken | None, str]:
        """Use a token to open a session: (token, "") or (None, why it was refused)."""
        token = self._tokens.get(name)
        now = time.time()
        if token is None:
            return None, "Token not found."
        if now > token.expires_at:
            return None, "Token has expired."
        if now > token.new_session_expires_at:
            return None, "Token can no longer start new sessions."
        if token.uses_left <= 0:
            return None, "Token has been used too many times."
        token.uses_left -= 1
        return token, ""
