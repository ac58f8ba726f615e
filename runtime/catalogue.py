"""The Live models runtime knows, and what each supports: checks use it to reject impossible agent files."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ModelInfo:
    """One Live model and the features an agent file may ask of it."""

    name: str
    architecture: Literal["native_audio", "half_cascade"]
    context_window_tokens: int
    affective_dialog: bool = False
    proactive_audio: bool = False
    thinking: bool = False
    video: bool = True
    text_response: bool = True
    """Whether the model can reply in text; native-audio models speak only."""
    stable: bool = False


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            "gemini-2.5-flash-native-audio-preview-09-2025",
            "native_audio",
            context_window_tokens=131072,
            affective_dialog=True,
            proactive_audio=True,
            thinking=True,
            text_response=False,
        ),
        ModelInfo("gemini-live-2.5-flash-preview", "half_cascade", context_window_tokens=32768),
        ModelInfo("gemini-2.0-flash-live-001", "half_cascade", context_window_tokens=32768, stable=True),
        ModelInfo("gemini-2.0-flash-live-preview-04-09", "half_cascade", context_window_tokens=32768),
    )
}


def lookup(model: str) -> ModelInfo | None:
    """The catalogue entry of a model name (with or without the `models/` prefix), or None if unknown."""
    return MODELS.get(model.removeprefix("models/"))


def closest(model: str) -> str | None:
    """The known model name nearest to a misspelt one, for a "did you mean" hint."""
    matches = difflib.get_close_matches(model.removeprefix("models/"), MODELS, n=1, cutoff=0.6)
    return matches[0] if matches else None
