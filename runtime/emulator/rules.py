"""Each model's rules, as the catalogue (runtime/data/models.yaml) records them: which setups and client
messages the service refuses for a model, and with which close.

The facts and their sources live in the catalogue entry named in each comment (`models.yaml: <entry>.<group>`);
this module only applies them, so that a client written for one model's rules fails here as it would there.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from runtime.agentfile import catalogue
from runtime.agentfile.catalogue import ModelInfo, Refusal
from runtime.emulator.wire import ProtocolViolation
from runtime.errors import AgentRuntimeError

LENIENT_ID = "any-live-model"
"""The catalogue-shaped entry that `--accept-any-model` serves for a model the catalogue does not know."""


@cache
def lenient_model() -> ModelInfo:
    """What the emulator did before it followed the catalogue: every reply modality, every input, one part per
    message, no overhead; the context window of today's Live models. For experiments only (`accept_any_model`)."""
    unconfirmed = "unconfirmed: the emulator's lenient default for a model the catalogue does not know"
    return ModelInfo.model_validate({
        "id": LENIENT_ID,
        "kind": "half_cascade",
        "limits": {"context_window_tokens": 131072, "source": unconfirmed},
        "reply": {"modalities": ["TEXT", "AUDIO"], "source": unconfirmed},
        "tools": {"behaviors": ["blocking", "non_blocking"], "scheduling": True, "source": unconfirmed},
        "origin": "emulator",
    })


def resolve_model(model: str, version: str, *, accept_any_model: bool) -> ModelInfo:
    """The catalogue entry of a setup's `models/NAME`; an unknown or shut-down model closes the session.

    models.yaml `service.unknown_model`: the service closes 1008 "models/X is not found for API version V, or is not
    supported for bidiGenerateContent. ..." for a misspelt, unknown or shut-down model alike (google/adk-samples#23,
    google/adk-python#3964), the reason cut at 123 bytes. A shut-down model served anyway (`accept_any_model`) keeps
    its own catalogue rules; an unknown one gets `lenient_model()`.
    """
    models = catalogue.current()
    info = models.lookup(model)
    if info is not None and info.status() != "shut_down":
        return info
    if accept_any_model:
        return info or lenient_model()
    reason = models.service.unknown_model_reason(model.removeprefix("models/"), version)
    raise ProtocolViolation(models.service.unknown_model.code, reason)


def check_setup(setup: dict[str, Any], info: ModelInfo) -> None:
    """Refuse what the model refuses in a (normalized, camelCase) setup: a reply modality it cannot give, and
    features it does not have."""
    generation = setup.get("generationConfig", {})
    modalities = generation.get("responseModalities", ["AUDIO"])
    if modalities and modalities[0] not in info.reply.modalities:
        # models.yaml <model>.reply.text_refusal: native audio closes 1007 "Cannot extract voices from a non-audio
        # request." (kizuna-ai-lab/sokuji#93, google/adk-python#866); gemini-3.1-flash-live-preview closes 1011
        # (googleapis/python-genai#2238); the 3.8 family is assumed to close 1007 (unconfirmed there).
        _refuse(info.reply.text_refusal)
    if info.setup_refusal is not None:
        _check_features(setup, generation, info, info.setup_refusal)
    if builtin_tools(setup) - set(info.tools.built_in):
        # models.yaml <model>.tools.built_in: the Live tools page lists code execution as unsupported on the
        # native-audio and 3.x Live models (https://ai.google.dev/gemini-api/docs/live-tools); the close is the
        # invalid-argument one (unconfirmed for built-in tools).
        _refuse(info.setup_refusal)


BUILTIN_WIRE_NAMES = {"googleSearch": "google_search", "codeExecution": "code_execution"}
"""A setup's built-in tools (camelCase on the wire) by the names the catalogue and the agent file use."""


def builtin_tools(setup: dict[str, Any]) -> set[str]:
    """The built-in tools a (normalized) setup asks for."""
    return {name for tool in setup.get("tools", []) for key, name in BUILTIN_WIRE_NAMES.items() if key in tool}


def _check_features(setup: dict[str, Any], generation: dict[str, Any], info: ModelInfo, refusal: Refusal) -> None:
    """models.yaml <model>.features and <model>.setup_refusal: the 3.x model pages say affective dialog,
    proactive audio (3.1) and thinking settings other than the model's own are not supported and must be removed;
    the close is the service's invalid-argument one (googleapis/python-genai#1780; unconfirmed for 3.x)."""
    features = info.features
    if generation.get("enableAffectiveDialog") and not features.affective_dialog:
        if info.setup_silence is not None and "affective_dialog" in info.setup_silence.features:
            raise SetupUnanswered("affective dialog")
        _refuse(refusal)
    proactive = setup.get("proactivity", {}).get("proactiveAudio")
    if proactive is True and features.proactive_audio == "no":
        _refuse(refusal)
    if proactive is False and features.proactive_audio == "always":
        _refuse(refusal)
    if "thinkingBudget" in generation.get("thinkingConfig", {}) and features.thinking != "budget":
        _refuse(refusal)


class SetupUnanswered(AgentRuntimeError):
    """models.yaml <model>.setup_silence: the service neither answers nor closes (PatterAI/Patter#210: on
    gemini-3.1-flash-live-preview a setup with affective dialog never gets setupComplete; the client times out)."""


def _refuse(refusal: Refusal | None) -> None:
    """Close with the catalogue's code and reason; an entry without one gets the invalid-argument close."""
    if refusal is None:
        raise ProtocolViolation(1007, "Request contains an invalid argument.")
    raise ProtocolViolation(refusal.code, refusal.reason)


def non_blocking_default(info: ModelInfo) -> bool:
    """models.yaml <model>.tools.default_behavior: on the 3.8 family a declaration without `behavior` is called
    asynchronously (https://ai.google.dev/gemini-api/docs/models/gemini-3.8-live); elsewhere it blocks."""
    return info.tools.default_behavior == "non_blocking"


class InputRules:
    """One connection's client messages against the model's input rules (models.yaml <model>.input)."""

    def __init__(self, info: ModelInfo, initial_history: bool) -> None:
        self._info = info
        self._history_open = initial_history
        """`clientContent` may still seed the history: the setup asked for it and nothing real-time came yet."""

    def client_content(self) -> None:
        """models.yaml <model>.input.client_content: on gemini-3.1-flash-live-preview `clientContent` is only
        initial history — with `historyConfig.initialHistoryInClientContent: true` in the setup and before the
        first real-time input — and mid-session it closes 1007 "Request contains an invalid argument."
        (livekit/agents#5238 and #5262, google/adk-python#5076 and #5018); typed text goes as `realtimeInput.text`."""
        if self._info.input.client_content == "initial_history_only" and not self._history_open:
            _refuse(self._info.input.client_content_refusal)

    def realtime_input(self, realtime: dict[str, Any]) -> None:
        """models.yaml <model>.input.media_chunks: gemini-3.1-flash-live-preview closes 1007 "realtime_input.
        media_chunks is deprecated. Use audio, video, or text instead." (kizuna-ai-lab/sokuji#150,
        mastra-ai/mastra#18287; assumed for 3.8). Any real-time input ends the initial history."""
        if "mediaChunks" in realtime and self._info.input.media_chunks == "refused":
            _refuse(self._info.input.media_chunks_refusal)
        self._history_open = False

    def model_turn_started(self) -> None:
        """A reply began: what follows is mid-session, not initial history."""
        self._history_open = False
