"""What a `setup` message asks for, read once into a frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.agentfile.catalogue import ModelInfo
from runtime.agentfile.video_tokens import VIDEO_FRAME_TOKENS
from runtime.emulator.rules import builtin_tools, check_setup, non_blocking_default, resolve_model
from runtime.emulator.vad import VadSettings
from runtime.emulator.video import frame_tokens
from runtime.emulator.wire import INVALID_ARGUMENT, ProtocolViolation


@dataclass(frozen=True)
class SessionConfig:
    model: str
    info: ModelInfo
    """The model's catalogue entry: its rules and message shapes."""
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
    builtin_tools: frozenset[str]
    """Gemini's own tools the setup asks for (`google_search`, `code_execution`)."""
    manual_activity: bool
    interrupts: bool
    """User activity interrupts the model (START_OF_ACTIVITY_INTERRUPTS)."""
    vad: VadSettings
    context_limit: int
    compression: tuple[int, int] | None
    """(trigger tokens, target tokens) when context window compression is on."""
    initial_history: bool
    """`historyConfig.initialHistoryInClientContent`: `clientContent` may seed the history before real-time input."""
    frame_tokens: int = VIDEO_FRAME_TOKENS
    """What one `realtimeInput.video` frame costs under the setup's media resolution (runtime/emulator/video.py)."""


def read_setup(
    setup: dict[str, Any], *, version: str, window_override: int | None, accept_any_model: bool
) -> SessionConfig:
    """Turn a normalized (camelCase) setup into a config, refusing what the service refuses for its model."""
    model = str(setup.get("model", ""))
    if not model.startswith("models/") or len(model) <= len("models/"):
        raise ProtocolViolation(INVALID_ARGUMENT, f"Invalid model name '{model}': expected models/NAME.")
    info = resolve_model(model, version, accept_any_model=accept_any_model)
    modalities = setup.get("generationConfig", {}).get("responseModalities", ["AUDIO"])
    if len(modalities) > 1:
        raise ProtocolViolation(INVALID_ARGUMENT, "Multiple response modalities are not supported.")
    if modalities and modalities[0] not in ("TEXT", "AUDIO"):
        raise ProtocolViolation(INVALID_ARGUMENT, f"Response modality {modalities[0]} is not supported.")
    check_setup(setup, info)
    realtime = setup.get("realtimeInputConfig", {})
    detection = realtime.get("automaticActivityDetection", {})
    limit = window_override or info.limits.context_window_tokens  # models.yaml <model>.limits
    declarations = [
        declaration for tool in setup.get("tools", []) for declaration in tool.get("functionDeclarations", [])
    ]
    return SessionConfig(
        model=model,
        info=info,
        audio_out=not modalities or modalities[0] == "AUDIO",
        transcribe_input="inputAudioTranscription" in setup,
        transcribe_output="outputAudioTranscription" in setup,
        resumption="sessionResumption" in setup,
        resume_handle=str(setup.get("sessionResumption", {}).get("handle", "")),
        declared_tools=frozenset(str(declaration.get("name", "")) for declaration in declarations),
        non_blocking_tools=frozenset(
            str(declaration.get("name", "")) for declaration in declarations
            if _non_blocking(declaration.get("behavior", "UNSPECIFIED"), info)
        ),
        builtin_tools=frozenset(builtin_tools(setup)),
        manual_activity=bool(detection.get("disabled", False)),
        interrupts=realtime.get("activityHandling") != "NO_INTERRUPTION",
        vad=VadSettings.from_setup(detection),
        context_limit=limit,
        compression=_compression(setup.get("contextWindowCompression"), limit),
        initial_history=bool(setup.get("historyConfig", {}).get("initialHistoryInClientContent", False)),
        frame_tokens=frame_tokens(setup),
    )


def _non_blocking(behavior: str, info: ModelInfo) -> bool:
    """A declared `behavior` wins; without one the model's default applies (`rules.non_blocking_default`)."""
    if behavior == "UNSPECIFIED":
        return non_blocking_default(info)
    return behavior == "NON_BLOCKING"


def _compression(settings: dict[str, Any] | None, limit: int) -> tuple[int, int] | None:
    if settings is None:
        return None
    trigger = int(settings.get("triggerTokens", 0)) or int(limit * 0.8)
    target = int(settings.get("slidingWindow", {}).get("targetTokens", 0)) or trigger // 2
    return trigger, min(target, trigger)


def merge_setup(client: dict[str, Any], locked: dict[str, Any], field_mask: tuple[str, ...] | None = None
                ) -> dict[str, Any]:
    """The setup a session opened with an ephemeral token runs with: the token's constraints win.

    As google-genai documents the service (google/genai/tokens.py, `Tokens.create`, and
    `_convert_bidi_setup_to_token_setup`, which sends the constraints as `bidiGenerateContentSetup`):
    - no constraints: the client's setup as it is (case 1);
    - constraints and no `fieldMask` (`lock_additional_fields` unset): the whole setup is locked; what the client
      sets beyond the constraints "will be ignored by the API" (case 2); only a model it names survives when the
      constraints name none;
    - a `fieldMask` (`lock_additional_fields=[]` or a list): the masked fields (`model`, `generationConfig.
      temperature`...) take the constraints' value, or none when the constraints leave them unset; every other
      field stays the client's (cases 3 and 4).
    A locked field the client asks to change is overridden, not refused: the documentation says the change is
    ignored and names no error.
    """
    if not locked:
        return dict(client)
    if field_mask is None:
        merged = {"model": client["model"]} if "model" in client and "model" not in locked else {}
        return {**merged, **locked}
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in client.items()}
    touched = set()
    for path in field_mask:
        head, _, tail = path.partition(".")
        touched.add(head)
        source: Any = locked.get(head, {}) if tail else locked
        target = merged.setdefault(head, {}) if tail else merged
        if not isinstance(source, dict) or not isinstance(target, dict):
            merged[head] = locked.get(head)
            continue
        key = tail or head
        if key in source:
            target[key] = source[key]
        else:
            target.pop(key, None)
    return {key: value for key, value in merged.items()
            if key not in touched or (value is not None and (value != {} or key in client))}
