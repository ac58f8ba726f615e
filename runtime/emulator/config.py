"""What a `setup` message asks for, read once into a frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.emulator.vad import VadSettings
from runtime.emulator.wire import INVALID_ARGUMENT, ProtocolViolation

NATIVE_AUDIO_WINDOW = 131072
HALF_CASCADE_WINDOW = 32768


@dataclass(frozen=True)
class SessionConfig:
    model: str
    audio_out: bool
    """Response modality AUDIO (else TEXT)."""
    transcribe_input: bool
    transcribe_output: bool
    resumption: bool
    """`sessionResumption` was set: send sessionResumptionUpdate messages."""
    resume_handle: str
    declared_tools: frozenset[str]
    """Names of the functions the setup declares: the only ones the model may call."""
    non_blocking_tools: frozenset[str]
    manual_activity: bool
    interrupts: bool
    """User activity interrupts the model (START_OF_ACTIVITY_INTERRUPTS)."""
    vad: VadSettings
    context_limit: int
    compression: tuple[int, int] | None
    """(trigger tokens, target tokens) when context window compression is on."""


def read_setup(setup: dict[str, Any], window_override: int | None) -> SessionConfig:
    """Turn a normalized (camelCase) setup into a config, refusing what the service refuses."""
    model = str(setup.get("model", ""))
    if not model.startswith("models/") or len(model) <= len("models/"):
        raise ProtocolViolation(INVALID_ARGUMENT, f"Invalid model name '{model}': expected models/NAME.")
    modalities = setup.get("generationConfig", {}).get("responseModalities", ["AUDIO"])
    if len(modalities) > 1:
        raise ProtocolViolation(INVALID_ARGUMENT, "Multiple response modalities are not supported.")
    if modalities and modalities[0] not in ("TEXT", "AUDIO"):
        raise ProtocolViolation(INVALID_ARGUMENT, f"Response modality {modalities[0]} is not supported.")
    realtime = setup.get("realtimeInputConfig", {})
    detection = realtime.get("automaticActivityDetection", {})
    limit = window_override or (NATIVE_AUDIO_WINDOW if "native-audio" in model else HALF_CASCADE_WINDOW)
    declarations = [
        declaration for tool in setup.get("tools", []) for declaration in tool.get("functionDeclarations", [])
    ]
    return SessionConfig(
        model=model,
        audio_out=not modalities or modalities[0] == "AUDIO",
        transcribe_input="inputAudioTranscription" in setup,
        transcribe_output="outputAudioTranscription" in setup,
        resumption="sessionResumption" in setup,
        resume_handle=str(setup.get("sessionResumption", {}).get("handle", "")),
        declared_tools=frozenset(str(declaration.get("name", "")) for declaration in declarations),
        non_blocking_tools=frozenset(
            str(declaration.get("name", "")) for declaration in declarations
            if declaration.get("behavior") == "NON_BLOCKING"
        ),
        manual_activity=bool(detection.get("disabled", False)),
        interrupts=realtime.get("activityHandling") != "NO_INTERRUPTION",
        vad=VadSettings.from_setup(detection),
        context_limit=limit,
        compression=_compression(setup.get("contextWindowCompression"), limit),
    )


def _compression(settings: dict[str, Any] | None, limit: int) -> tuple[int, int] | None:
    if settings is None:
        return None
    trigger = int(settings.get("triggerTokens", 0)) or int(limit * 0.8)
    target = int(settings.get("slidingWindow", {}).get("targetTokens", 0)) or trigger // 2
    return trigger, min(target, trigger)


def merge_setup(client: dict[str, Any], locked: dict[str, Any]) -> dict[str, Any]:
    """An ephemeral token's constraints win over what the client asks for."""
    merged = dict(client)
    for key, value in locked.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_setup(merged[key], value)
        else:
            merged[key] = value
    return merged
