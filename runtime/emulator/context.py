"""Which conversation a connection works on, and whether new input still fits its context window."""

from __future__ import annotations

import logging

from runtime.emulator.config import SessionConfig
from runtime.emulator.hub import Hub
from runtime.emulator.state import Conversation
from runtime.emulator.wire import INTERNAL_ERROR, INVALID_ARGUMENT, POLICY_VIOLATION, ProtocolViolation

logger = logging.getLogger(__name__)

NOT_FOUND = "BidiGenerateContent session not found"


def conversation_for(hub: Hub, config: SessionConfig) -> Conversation:
    """A new conversation, or the one `config`'s resumption handle names: an unknown or expired handle is
    refused with 1008 "session not found", one still open on another connection with 1011."""
    if not config.resume_handle:
        return Conversation()
    found = hub.sessions.find(config.resume_handle)
    if found is None:
        raise ProtocolViolation(POLICY_VIOLATION, NOT_FOUND)
    if found.open_conn is not None:
        raise ProtocolViolation(INTERNAL_ERROR, "Internal error encountered.")
    return found


def compress(conversation: Conversation, config: SessionConfig, number: int) -> None:
    """Sliding-window compression: past the trigger, the oldest turns go until the target fits."""
    dropped = conversation.compress(config.compression)
    if dropped:
        logger.info("connection %d: context compressed, %d turns dropped", number, dropped)


def enforce_context(conversation: Conversation, config: SessionConfig, number: int) -> None:
    """New input must fit the context window: compression makes room, without it the session ends."""
    compress(conversation, config, number)
    total, limit = conversation.context_tokens(), config.context_limit
    if config.compression is None and total > limit:
        raise ProtocolViolation(
            INVALID_ARGUMENT,
            f"The input token count ({total}) exceeds the maximum number of tokens allowed ({limit}).",
        )
