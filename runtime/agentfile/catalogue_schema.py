"""The models file's facts as types: what a Live model supports, refuses and sends, and the service-wide
rules (`runtime.agentfile.catalogue` reads them in force; `runtime.agentfile.catalogue_file` reads the files)."""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, field_validator, model_validator

SOURCE_PATTERN = re.compile(r"^(https?://\S+|[\w.-]+/[\w.-]+#\d+|unconfirmed: .+)$", re.DOTALL)
ID_PATTERN = r"^[a-z0-9][a-z0-9.\-]*$"

Status = Literal["current", "deprecated", "shut_down"]
Modality = Literal["TEXT", "AUDIO"]
Behavior = Literal["blocking", "non_blocking"]


class Fact(BaseModel):
    """A group of facts about a model, and where they come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: tuple[str, ...] = ()
    """URLs, `owner/repo#number` reports, or `unconfirmed: what is assumed and why`."""

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("source")
    @classmethod
    def _cited(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not SOURCE_PATTERN.match(item):
                raise ValueError(f"`{item}` is not a source: use a URL, owner/repo#number or `unconfirmed: why`")
        return value


class Refusal(Fact):
    """How the service closes the WebSocket when it refuses something: close code and reason."""

    code: int = Field(ge=1000, le=4999)
    reason: str
    """Close reason as sent; `{model}` and `{version}` are filled in by `ServiceRules.unknown_model_reason`."""


class Limits(Fact):
    context_window_tokens: PositiveInt
    """Tokens of context the session can hold (the model's input token limit)."""
    output_tokens: PositiveInt | None = None
    """Output token limit of one reply."""


class Reply(Fact):
    modalities: tuple[Modality, ...] = Field(min_length=1)
    """Response modalities the service accepts in `generationConfig.responseModalities` (one per session)."""
    text_refusal: Refusal | None = None
    """The close a TEXT reply request gets on an audio-only model."""

    @model_validator(mode="after")
    def _refusal_when_audio_only(self) -> Reply:
        if "TEXT" not in self.modalities and self.text_refusal is None:
            raise ValueError("an audio-only model needs `text_refusal` (the close a TEXT request gets)")
        return self


class Features(Fact):
    affective_dialog: bool = False
    proactive_audio: Literal["no", "optional", "always"] = "no"
    """`always`: on whatever the setup says, and `proactiveAudio: false` is refused."""
    thinking: Literal["none", "budget", "level", "automatic"] = "none"
    """How thinking is set: `thinkingBudget`, `thinkingLevel`, not at all (`automatic`: built in), or no thinking."""
    thinking_levels: tuple[str, ...] = ()
    video: bool = False
    """Video frames are accepted as input."""


class SetupSilence(Fact):
    """Setup features the service never answers: no setupComplete and no close; the client's connect times out."""

    features: tuple[Literal["affective_dialog"], ...] = ()


class Tools(Fact):
    behaviors: tuple[Behavior, ...] = ("blocking",)
    """Function behaviours the model honours (`non_blocking` = asynchronous calls)."""
    default_behavior: Behavior = "blocking"
    """What a declaration without `behavior` gets: send `BLOCKING` explicitly where this is non_blocking."""
    scheduling: bool = False
    """`scheduling` (SILENT, WHEN_IDLE, INTERRUPT) in function responses."""
    built_in: tuple[str, ...] = ()


class InputRules(Fact):
    client_content: Literal["anytime", "initial_history_only"] = "anytime"
    """`initial_history_only`: `clientContent` only before the first turn, with `historyConfig.
    initialHistoryInClientContent: true` in the setup; typed text goes as `realtimeInput.text`."""
    client_content_refusal: Refusal | None = None
    media_chunks: Literal["accepted", "refused"] = "accepted"
    """`realtimeInput.mediaChunks` (deprecated); `audio`/`video`/`text` work on every model."""
    media_chunks_refusal: Refusal | None = None

    @model_validator(mode="after")
    def _refusals_for_restrictions(self) -> InputRules:
        if self.client_content != "anytime" and self.client_content_refusal is None:
            raise ValueError("`client_content: initial_history_only` needs `client_content_refusal`")
        if self.media_chunks == "refused" and self.media_chunks_refusal is None:
            raise ValueError("`media_chunks: refused` needs `media_chunks_refusal`")
        return self


class OutputShape(Fact):
    parts_per_message: Literal["one", "several"] = "one"
    """`several`: one serverContent may carry audio, text and transcriptions at once."""
    usage_before_first_turn: bool = False
    """A `serverContent` holding only `usageMetadata` comes before the first `modelTurn`."""
    output_transcription: Literal["sub_word", "words"] = "sub_word"
    input_transcription: Literal["pieces", "whole"] = "pieces"
    prompt_token_overhead: NonNegativeInt = 0
    """`promptTokenCount` of a one-word first turn: tokens the service adds beyond the visible input."""
    interaction_status: bool = False
    """The server reports background reasoning with `interaction_status` IN_PROGRESS / IDLE, and the model may
    speak several times for one request."""


class Lifecycle(Fact):
    stage: Literal["preview", "stable", "alias"] = "preview"
    status: Status = "current"
    """As last checked; `state_on(date)` also honours dates that have passed since."""
    released: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    deprecated: datetime.date | None = None
    shutdown: datetime.date | None = None
    replacement: str | None = None
    """The recommended model instead (for a current model: its successor)."""

    @field_validator("released", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime.date) else value

    def state_on(self, day: datetime.date) -> Status:
        """The status on `day`: a passed shutdown date means shut down, an announced one deprecated."""
        if self.status == "shut_down" or (self.shutdown is not None and self.shutdown <= day):
            return "shut_down"
        if self.status == "deprecated" or self.shutdown is not None:
            return "deprecated"
        if self.deprecated is not None and self.deprecated <= day:
            return "deprecated"
        return "current"


@dataclass(frozen=True)
class ReplyPlan:
    """How a session gets the reply an agent asks for (`response: audio | text`) from this model."""

    modality: Modality
    """What goes in `responseModalities`."""
    output_transcription: bool
    """Output transcription must be on: it carries the text of the reply."""
    discard_audio: bool
    """The model's audio is dropped: the agent wanted text."""


class ModelInfo(BaseModel):
    """One Live model: its kind, limits, features, input rules, message shapes and lifecycle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    """Model id without the `models/` prefix."""
    display_name: str = ""
    kind: Literal["half_cascade", "native_audio", "live_3"]
    """half_cascade (native audio in, text-to-speech out), native_audio (2.5), live_3 (3.x Live)."""
    limits: Limits
    reply: Reply
    features: Features = Features()
    tools: Tools = Tools()
    input: InputRules = InputRules()
    output: OutputShape = OutputShape()
    setup_refusal: Refusal | None = None
    """The close a setup asking for an unsupported feature gets."""
    setup_silence: SetupSilence | None = None
    """Unsupported features whose setup gets no answer at all instead of that close."""
    lifecycle: Lifecycle = Lifecycle()
    origin: str = "package"
    """Where the entry was read: `package` or the path of a user models file."""

    # The names below are the catalogue's API before it became data; checks and tests use them.
    @property
    def name(self) -> str:
        return self.id

    @property
    def architecture(self) -> str:
        return self.kind

    @property
    def context_window_tokens(self) -> int:
        return self.limits.context_window_tokens

    @property
    def affective_dialog(self) -> bool:
        return self.features.affective_dialog

    @property
    def proactive_audio(self) -> bool:
        return self.features.proactive_audio != "no"

    @property
    def thinking(self) -> bool:
        """A `thinking_budget` can be set."""
        return self.features.thinking == "budget"

    @property
    def video(self) -> bool:
        return self.features.video

    @property
    def text_response(self) -> bool:
        """The model can reply in TEXT; the others speak only (text agents get the transcription)."""
        return "TEXT" in self.reply.modalities

    @property
    def stable(self) -> bool:
        return self.lifecycle.stage == "stable"

    def status(self, day: datetime.date | None = None) -> Status:
        return self.lifecycle.state_on(day or today())

    def reply_plan(self, response: Literal["audio", "text"]) -> ReplyPlan:
        """A text agent on an audio-only model is served as audio with output transcription, audio dropped:
        every Live model of today speaks only, and a typed question still deserves a typed answer."""
        if response == "audio":
            return ReplyPlan("AUDIO", output_transcription=False, discard_audio=False)
        if self.text_response:
            return ReplyPlan("TEXT", output_transcription=False, discard_audio=False)
        return ReplyPlan("AUDIO", output_transcription=True, discard_audio=True)


class Listing(Fact):
    default_page_size: PositiveInt
    max_page_size: PositiveInt
    live_action: str
    """The entry of `supportedGenerationMethods` (`Model.supported_actions`) that marks a Live model."""


class CloseReason(Fact):
    max_bytes: PositiveInt


class ServiceRules(BaseModel):
    """Rules of the service that do not depend on the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unknown_model: Refusal
    """The close a setup naming an unknown or shut-down model gets."""
    close_reason: CloseReason
    listing: Listing

    def unknown_model_reason(self, model: str, version: str) -> str:
        """The reason as the service sends it: filled in and cut to the close frame's limit."""
        reason = self.unknown_model.reason.format(model=model, version=version)
        return reason.encode()[: self.close_reason.max_bytes].decode(errors="ignore")


@dataclass(frozen=True)
class Catalogue:
    """Every known model by id, the service-wide rules, and the files they were read from."""

    checked: datetime.date
    """When the packaged facts were last checked against their sources."""
    service: ServiceRules
    models: Mapping[str, ModelInfo]
    files: tuple[str, ...] = ()
    raw: Mapping[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    """Each model's entry as written (after `like`), so that a user file can build on it."""

    def lookup(self, model: str) -> ModelInfo | None:
        """The entry of a model name (with or without the `models/` prefix), or None if unknown."""
        return self.models.get(model.removeprefix("models/"))

    def ids(self, status: Status | None = None, day: datetime.date | None = None) -> list[str]:
        """Model ids, newest release first; only those with `status` on `day` when given."""
        chosen = [info for info in self.models.values() if status is None or info.status(day) == status]
        chosen.sort(key=lambda info: info.lifecycle.released or "", reverse=True)
        return [info.id for info in chosen]

    def closest(self, model: str, *, among: list[str] | None = None) -> str | None:
        """The known id nearest to a misspelt one, for a "did you mean" hint."""
        names = among if among is not None else list(self.models)
        matches = difflib.get_close_matches(model.removeprefix("models/"), names, n=1, cutoff=0.6)
        return matches[0] if matches else None

    def newest(self, day: datetime.date | None = None) -> ModelInfo | None:
        """The most recently released current model that is not an alias: the default to suggest."""
        for model_id in self.ids("current", day):
            if self.models[model_id].lifecycle.stage != "alias":
                return self.models[model_id]
        return None


def today() -> datetime.date:
    """The date lifecycle decisions are made against (one place, so that the catalogue test shares it)."""
    return datetime.date.today()
