"""The agent file, as pydantic models: the single source of truth for validation, the JSON Schema and editors.

Every field carries its unit and meaning in the docstring under it; with `use_attribute_docstrings` those
docstrings become the schema's descriptions and so the hover text in an editor.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, Strict

from runtime.agentfile.section import SWITCH, Section
from runtime.agentfile.spec_tools import (
    BUILTIN_TOOLS,
    ENTRY_POINT_PATTERN,
    TOOL_KINDS,
    Behavior,
    CodeExecution,
    CodeExecutionTool,
    GoogleSearch,
    GoogleSearchTool,
    HttpCall,
    McpServer,
    McpToolOverride,
    McpTools,
    Scheduling,
    Tool,
    ToolEntry,
    tool_kind,
)

__all__ = [
    "BUILTIN_TOOLS", "ENTRY_POINT_PATTERN", "NULL_DEVICE", "SATELLITE_PATTERN", "SLUG_PATTERN", "SWITCH", "TOOL_KINDS",
    "Activity", "AgentSpec", "Audio", "AudioInput", "AudioOutput", "Behavior", "CodeExecution", "CodeExecutionTool",
    "Compression", "Context", "Conversation", "Generation", "GoogleSearch", "GoogleSearchTool", "HttpCall", "McpServer",
    "McpToolOverride", "McpTools", "PushToTalk", "Scheduling", "Section", "Session", "Supervision", "Tool", "ToolEntry",
    "Transcription", "Video", "Voice", "WakeWord", "json_schema",
]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
NULL_DEVICE = "null"
SATELLITE_PATTERN = r"^wyoming://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$"
"""`wyoming://HOST:PORT`, HOST a name, an IPv4 address or a bracketed IPv6 address."""
"""The device setting that means no device: nothing is streamed from the microphone, the reply is discarded."""


def _null_device(value: Any) -> Any:
    """YAML `null` (or `~`, or nothing) is the `null` device the docs spell that way."""
    return NULL_DEVICE if value is None else value


Device = Annotated[
    str | Annotated[int, Strict()],  # strict: `true` is no device index
    BeforeValidator(_null_device, json_schema_input_type=str | int | None),
]
"""Where audio comes from or goes to: a name substring, a PortAudio index, `default`, `file:PATH.wav`, `null`."""


class Voice(Section):
    """How the agent sounds (audio responses only)."""

    name: str | None = Field(default=None, examples=["Kore", "Puck", "Charon", "Aoede"])
    """Prebuilt voice name; empty means the model's default voice."""
    language: str | None = Field(default=None, examples=["en-US", "de-DE", "fr-FR"])
    """BCP-47 language code for speech output and recognition; empty lets the model decide."""


class AudioInput(Section):
    """The microphone."""

    device: Device = Field(default="default", examples=["default", "USB PnP", 2, "file:request.wav", None])
    """Device name substring, PortAudio index, `default`, `file:PATH.wav` to play a WAV file as the mic, or
    `null` for no microphone (nothing is streamed; for text chats)."""
    block_ms: int = Field(default=20, ge=10, le=100)
    """Length of one microphone block sent to the model (milliseconds)."""
    buffer_ms: int = Field(default=2000, ge=200, le=30000)
    """Microphone audio kept while reconnecting, sent on the new connection (milliseconds)."""
    mute_button: str | None = Field(
        default=None, pattern=r"^evdev:.+:\w+$", examples=["evdev:/dev/input/event0:KEY_MICMUTE"]
    )
    """A button that mutes and unmutes every microphone of the daemon: `evdev:DEVICE:KEY_NAME` (or a key number)."""


class AudioOutput(Section):
    """The speaker."""

    device: Device = Field(default="default", examples=["default", "bcm2835 Headphones", 0, "file:reply.wav", None])
    """Device name substring, PortAudio index, `default`, `file:PATH.wav` to write the reply, or `null` for no
    speaker (the reply is discarded)."""
    buffer_ms: int = Field(default=60, ge=0, le=2000)
    """Most audio the jitter buffer holds back before a turn plays (milliseconds): a turn plays at once when
    this much is queued, else 5 ms after its first audio; each underrun adds 10 ms to that wait, up to this;
    larger is smoother, smaller is snappier."""
    fade_ms: float = Field(default=4.0, ge=0, le=50)
    """Fade-out applied when the user interrupts, so the cut does not click (milliseconds)."""
    share: Literal["queue", "mix", "duck"] = "queue"
    """When other agents of the daemon play on the same speaker: `queue` (this agent's reply waits until
    theirs ends; two voices at once are hard to follow), `mix` (play at once, summed, with a limiter), or
    `duck` (play at once and lower the others while this reply plays)."""


class Audio(Section):
    """Microphone, speaker and echo handling."""

    input: AudioInput = AudioInput()
    """Where the user's voice comes from."""
    output: AudioOutput = AudioOutput()
    """Where the agent's voice goes."""
    echo: Literal["auto", "cancel", "half_duplex", "none"] = "auto"
    """Echo handling: `cancel` (WebRTC AEC, needs the `[aec]` extra), `half_duplex` (gate the mic while the
    speaker plays), `none` (headset or hardware AEC), `auto` (cancel when available, else half_duplex)."""
    satellite: str | None = Field(
        default=None, pattern=SATELLITE_PATTERN,
        examples=["wyoming://kitchen-sat.local:10700", "wyoming://192.168.1.40:10700"],
    )
    """A Wyoming satellite (`wyoming-satellite` on a Pi, or any Wyoming satellite) as the microphone and speaker:
    `wyoming://HOST:PORT`. The daemon connects to it as Home Assistant does; `input.device` and `output.device`
    are then not used. The protocol is unauthenticated: keep satellites on a trusted network (docs/satellites.md)."""


class PushToTalk(Section):
    """What the user presses to talk in `push_to_talk` mode."""

    key: str | None = Field(default="space", examples=["space", "t"])
    """Terminal key that toggles talking (when the daemon runs in a terminal)."""
    input: str | None = Field(default=None, examples=["evdev:/dev/input/event0:KEY_F1", "gpio:17"])
    """A hardware button: `evdev:DEVICE:KEY_NAME` or `gpio:PIN`; held down means talking."""


class WakeWord(Section):
    """The local wake-word detector (`wake_word` mode): nothing is streamed before it fires."""

    model: str = Field(default="okay_nabu", examples=["okay_nabu", "hey_jarvis", "alexa", "hey_mycroft"])
    """A bundled model name or the path of a custom model file."""
    backend: Literal["micro", "open"] = "micro"
    """`micro` (microWakeWord, small and fast) or `open` (openWakeWord)."""
    threshold: float | None = Field(default=None, gt=0, lt=1, examples=[0.9])
    """Detection probability needed to wake (0–1); higher means fewer false wakes. Empty uses the model's
    own recommended cutoff (0.85–0.97 for the bundled microWakeWord models, 0.5 for openWakeWord)."""
    refractory_s: float = Field(default=2.0, ge=0, le=60)
    """Seconds after a detection during which another one is ignored."""


class Activity(Section):
    """Voice activity detection: who decides when the user starts and stops talking."""

    mode: Literal["server", "manual", "push_to_talk", "wake_word"] = "server"
    """`server`: the model detects speech; `manual`: the client sends activity start/end; `push_to_talk`:
    a key or button; `wake_word`: a local detector opens the conversation."""
    start_sensitivity: Literal["high", "low"] = "high"
    """How readily speech start is detected (server mode)."""
    end_sensitivity: Literal["high", "low"] = "low"
    """How readily speech end is detected (server mode); `low` lets the user pause."""
    prefix_padding_ms: int | None = Field(default=None, ge=0, le=2000, examples=[40])
    """Speech needed before a start is committed (milliseconds, server mode)."""
    silence_duration_ms: int | None = Field(default=None, ge=0, le=10000, examples=[500])
    """Silence needed before speech end is committed (milliseconds, server mode)."""
    barge_in: bool = True
    """Whether user speech interrupts the model while it talks."""
    push_to_talk: PushToTalk = PushToTalk()
    """Key or button for `push_to_talk` mode."""
    wake: WakeWord = WakeWord()
    """Wake word for `wake_word` mode."""


class Conversation(Section):
    """The conversation lifecycle in `wake_word` mode."""

    idle_timeout_s: float = Field(default=20.0, gt=0, le=3600)
    """Seconds without user or model speech after which streaming stops and the agent listens again."""
    start_earcon: str | None = Field(default="builtin", examples=["builtin", "sounds/start.wav"])
    """Sound played when the agent wakes: `builtin`, a WAV path, or empty for none."""
    end_earcon: str | None = Field(default="builtin", examples=["builtin", "sounds/end.wav"])
    """Sound played when the conversation ends: `builtin`, a WAV path, or empty for none."""
    exclusive: bool = True
    """While this agent is in conversation, other agents on the same microphone do not wake (their wake
    words are ignored until it listens again); `false` lets them wake alongside it."""


class Compression(Section):
    """Context-window compression (sliding window), so a session can last indefinitely."""

    enabled: bool = True
    """Compress the context when it grows past `trigger_tokens`."""
    trigger_tokens: int = Field(default=25600, gt=0)
    """Context size that triggers compression (tokens)."""
    target_tokens: int = Field(default=12800, gt=0)
    """Context size kept after compression (tokens); must be below `trigger_tokens`."""


class Context(Section):
    """The model's context window."""

    compression: Compression = Compression()
    """Sliding-window compression; on by default."""


class Transcription(Section):
    """Speech transcripts for logs and the console."""

    input: bool = True
    """Transcribe what the user says."""
    output: bool = True
    """Transcribe what the agent says."""


class Session(Section):
    """Live session behaviour."""

    resumption: bool = True
    """Resume the same conversation across connection resets and daemon restarts."""
    transcription: Transcription = Transcription()
    """Input and output transcripts."""
    affective_dialog: bool = False
    """Let the model adapt its tone to the user's (native-audio models only)."""
    proactive_audio: bool = False
    """Let the model stay silent when the input is not meant for it (native-audio models only)."""
    video: bool = False
    """The old switch for camera frames: the `video:` section (its `source`) turns the camera on now."""


class Video(Section):
    """Camera frames sent to the model as JPEG in `realtimeInput.video` (docs/video.md)."""

    source: str | None = Field(
        default=None, examples=["v4l2:/dev/video0", "USB Camera", "file:shelf.jpg", "file:photos/", None]
    )
    """Where frames come from: `v4l2:/dev/videoN`, a camera name substring, `file:PATH` (a JPEG or PNG image,
    a folder of them cycled in name order, or a video file played in a loop), or empty for no camera."""
    fps: float = Field(default=1.0, gt=0, le=5)
    """Frames sent per second; Gemini samples video at about one a second. Each frame sent is counted as 258
    tokens by `runtime validate` (an upper bound if the service drops frames beyond that: not documented)."""
    max_size_px: int = Field(default=1024, ge=64, le=4096)
    """Longest side of a frame (pixels); a larger frame is scaled down, a smaller JPEG goes as it is."""
    when: Literal["conversation", "always"] | None = None
    """`conversation`: frames (and the camera) only while a conversation is open, the default in `wake_word`
    and `push_to_talk` modes; `always`: for the whole session, the default in `server` and `manual` modes."""

    def frames_when(self, mode: str) -> Literal["conversation", "always"]:
        """`when`, with the default of the activity mode filled in."""
        if self.when is not None:
            return self.when
        return "conversation" if mode in ("wake_word", "push_to_talk") else "always"


class Generation(Section):
    """Sampling parameters supported by the Live API (others, like `stop_sequences`, are rejected)."""

    temperature: float | None = Field(default=None, ge=0, le=2, examples=[0.7])
    """Randomness (0–2); empty uses the model's default."""
    top_p: float | None = Field(default=None, ge=0, le=1, examples=[0.95])
    """Nucleus sampling probability mass (0–1)."""
    top_k: int | None = Field(default=None, ge=1, examples=[40])
    """Sample among the k most likely tokens (>= 1)."""
    max_output_tokens: int | None = Field(default=None, ge=1, examples=[512])
    """Longest reply (tokens)."""
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    """Penalty for tokens already present (-2–2)."""
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    """Penalty proportional to token frequency (-2–2)."""
    thinking_budget: int | None = Field(default=None, ge=-1, examples=[0, 1024])
    """Thinking tokens allowed (models that think); 0 turns thinking off, -1 lets the model decide."""


class Supervision(Section):
    """What the daemon does when the agent's session fails."""

    restart: Literal["always", "on_failure", "never"] = "always"
    """Restart policy."""
    backoff_s: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (1.0, 60.0)
    """First and longest wait between restarts (seconds); doubles each time, with jitter."""
    max_restarts: int = Field(default=10, ge=0)
    """Restarts allowed within `window_s` before the agent is parked as failed."""
    window_s: float = Field(default=300.0, gt=0)
    """Window for counting restarts (seconds)."""
    watchdog_s: float = Field(default=120.0, gt=0)
    """A session with no progress (no message in, no audio out) for this long is restarted (seconds)."""


class AgentSpec(Section):
    """One voice agent: a Gemini Live model wired to a microphone and a speaker."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        title="runtime agent",
        json_schema_extra={
            "$id": "https://github.com/live-agent-runtime/runtime/schemas/agent.schema.json",
            "examples": [{"name": "kitchen", "model": "gemini-3.8-live", "instructions": "Be brief."}],
        },
    )

    name: str | None = Field(default=None, pattern=SLUG_PATTERN, examples=["kitchen"])
    """Agent name (lowercase letters, digits, `-`, `_`); defaults to the file name. Names state files,
    log lines and metrics."""
    model: str = Field(
        examples=[
            "gemini-3.8-live",
            "gemini-3.8-live-extended-thinking",
            "gemini-3.1-flash-live-preview",
            "gemini-2.5-flash-native-audio-preview-12-2025",
        ]
    )
    """Gemini Live model; `runtime models` lists the known ones, their features and when each shuts down."""
    instructions: str | None = None
    """System instruction: who the agent is and how it answers."""
    response: Literal["audio", "text"] = "audio"
    """Reply modality; a Live session has exactly one."""
    voice: Voice = Voice()
    """Voice and language."""
    audio: Audio = Audio()
    """Microphone, speaker and echo handling."""
    activity: Activity = Activity()
    """Voice activity detection and barge-in."""
    conversation: Conversation = Conversation()
    """Conversation lifecycle (wake-word mode)."""
    context: Context = Context()
    """Context window management."""
    session: Session = Session()
    """Resumption, transcription and model features."""
    generation: Generation = Generation()
    """Sampling parameters."""
    video: Video = Video()
    """Camera frames for the model (needs context compression: an audio+video session ends after 2 minutes
    without it)."""
    tools: list[ToolEntry] = []
    """What the model can call: functions (`python`, `http`), MCP servers (`mcp`), and Gemini's own
    `google_search` and `code_execution`."""
    supervision: Supervision = Supervision()
    """Restart policy."""

    def functions(self) -> list[tuple[int, Tool]]:
        """The `python` and `http` tools, each with its index in `tools`."""
        return [(index, entry) for index, entry in enumerate(self.tools) if isinstance(entry, Tool)]

    def mcp_servers(self) -> list[tuple[int, McpServer]]:
        """The MCP servers, each with its index in `tools`."""
        return [(index, entry.mcp) for index, entry in enumerate(self.tools) if isinstance(entry, McpTools)]

    def builtin_tools(self) -> list[str]:
        """The tools Gemini runs itself (`google_search`, `code_execution`), in file order."""
        return [tool_kind(entry) for entry in self.tools if tool_kind(entry) in BUILTIN_TOOLS]

    def agent_name(self, fallback: str) -> str:
        """The agent's name: `name` if set, else the given fallback (the file stem)."""
        return self.name or fallback


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """The agent file's JSON Schema (draft 2020-12), as `runtime schema` prints it and editors read it."""
    schema = AgentSpec.model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}
