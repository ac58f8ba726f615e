"""The entries of `tools:` in the agent file: functions (`python`, `http`), MCP servers (`mcp`) and Gemini's own
tools (`google_search`, `code_execution`); one entry, one kind, told apart by its key (`tool_kind`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from runtime.agentfile.section import Section

ENTRY_POINT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$"


class HttpCall(Section):
    """An HTTP endpoint called with the tool's arguments."""

    url: str = Field(examples=["http://127.0.0.1:8080/weather?city={city}"])
    """URL; `{arg}` placeholders are filled with URL-encoded arguments; `{{` and `}}` are literal braces."""
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    """HTTP method."""
    headers: dict[str, str] = {}
    """Request headers; `${secret:NAME}` keeps tokens out of the file."""
    body: str | dict[str, Any] | None = None
    """Request body: a template string or a JSON object whose strings (at any depth) may hold `{arg}`
    placeholders (`{{`, `}}`: literal braces); empty sends the arguments as JSON for methods with a body."""
    timeout_s: float | None = Field(default=None, gt=0, le=300)
    """Request timeout (seconds); defaults to the tool's `timeout_s`."""
    allow_private_networks: bool = False
    """Allow link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, metadata host
    names); off for safety. Loopback and LAN addresses are always allowed."""


Behavior = Literal["blocking", "non_blocking"]
"""Whether the model waits for a tool's result."""
Scheduling = Literal["interrupt", "when_idle", "silent"]
"""How a non-blocking tool's result is delivered."""


class Tool(Section):
    """A function the model can call."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", examples=["set_timer"])
    """Function name the model sees (a valid identifier, unique in the agent)."""
    description: str = ""
    """What the tool does; the model reads this to decide when to call it."""
    parameters: dict[str, Any] | None = None
    """JSON Schema (type object) of the arguments; derived from a Python tool's type hints when empty."""
    python: str | None = Field(default=None, pattern=ENTRY_POINT_PATTERN, examples=["kitchen_tools:set_timer"])
    """Python entry point `module:function`, looked up beside the agent file first."""
    http: HttpCall | None = None
    """HTTP endpoint to call instead of Python."""
    behavior: Behavior = "blocking"
    """`non_blocking` lets the model keep talking while the tool runs."""
    scheduling: Scheduling | None = None
    """For non-blocking tools: how the result is delivered (speak now, after the current turn, or silently)."""
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    """Longest a call may run before the model gets a timeout error (seconds)."""

    @model_validator(mode="after")
    def _one_implementation(self) -> Tool:
        if self.python is not None and self.http is not None:
            # `conflicting_keys`: runtime.agentfile.spec_errors reports it at the later-written of the two keys.
            raise PydanticCustomError(
                "conflicting_keys",
                "a tool has both `python` and `http`; it needs exactly one of them",
                {"keys": "python http", "hint": "keep one, or split it into two tools with names of their own"},
            )
        if self.python is None and self.http is None:
            raise PydanticCustomError(
                "missing_implementation",
                "a tool needs exactly one of `python` or `http`",
                {"hint": "add `python: module:function` or `http: {url: ...}`"},
            )
        return self


class McpToolOverride(Section):
    """Settings for one tool of an MCP server, by the name the server gives it."""

    behavior: Behavior | None = None
    """`non_blocking` lets the model keep talking while the tool runs; empty: the server entry's `behavior`."""
    scheduling: Scheduling | None = None
    """For non-blocking tools: how the result is delivered; empty: the server entry's `scheduling`."""
    timeout_s: float | None = Field(default=None, gt=0, le=600)
    """Longest a call may run (seconds); empty: the server entry's `timeout_s`."""


class McpServer(Section):
    """An MCP server whose tools the model can call: a local program over stdio, or a remote server over
    streamable HTTP."""

    command: list[str] | None = Field(default=None, min_length=1, examples=[["python3", "-m", "home_tools"]])
    """Program and arguments of a local server, started and supervised by the daemon (stdio transport)."""
    env: dict[str, str] = {}
    """The local server's whole environment (nothing is inherited); `${secret:NAME}` keeps tokens out of the
    file."""
    url: str | None = Field(default=None, examples=["http://homeassistant.local:8123/api/mcp"])
    """URL of a remote server (streamable HTTP transport)."""
    headers: dict[str, str] = {}
    """Request headers of a remote server; `${secret:NAME}` keeps tokens out of the file."""
    allow_private_networks: bool = False
    """Allow a remote server at a link-local or cloud metadata address; off for safety. Loopback and LAN
    addresses are always allowed."""
    include: list[str] | None = Field(default=None, examples=[["turn_on", "turn_off"]])
    """Only these of the server's tools (by the server's names); empty: all of them."""
    exclude: list[str] = []
    """None of these of the server's tools (by the server's names)."""
    prefix: str = Field(default="", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}$|^$", examples=["home_"])
    """Put before each tool name the model sees (`home_` makes `turn_on` `home_turn_on`)."""
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    """Longest one call may run before the model gets a timeout error (seconds)."""
    behavior: Behavior = "blocking"
    """`non_blocking` lets the model keep talking while the server's tools run."""
    scheduling: Scheduling | None = None
    """For non-blocking tools: how the result is delivered (speak now, after the current turn, or silently)."""
    overrides: dict[str, McpToolOverride] = {}
    """`behavior`, `scheduling` or `timeout_s` of single tools, by the server's name for them."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if self.command is not None and self.url is not None:
            raise PydanticCustomError(
                "conflicting_keys",
                "an MCP server has both `command` and `url`; it needs exactly one of them",
                {"keys": "command url", "hint": "`command` starts a local server, `url` reaches a remote one"},
            )
        if self.command is None and self.url is None:
            raise PydanticCustomError(
                "missing_implementation",
                "an MCP server needs exactly one of `command` or `url`",
                {"hint": "add `command: [program, arg, ...]` or `url: http://host/path`"},
            )
        if self.include is not None and self.exclude:
            raise PydanticCustomError(
                "conflicting_keys",
                "an MCP server has both `include` and `exclude`; use one of them",
                {"keys": "include exclude", "hint": "list the tools to keep, or the tools to drop"},
            )
        return self


class McpTools(Section):
    """The tools of one MCP server."""

    mcp: McpServer
    """The server: `command` (local, stdio) or `url` (remote, streamable HTTP)."""


class GoogleSearch(Section):
    """Gemini's own Google Search grounding (no settings)."""


class GoogleSearchTool(Section):
    """Let the model ground its answers in Google Search results."""

    google_search: GoogleSearch
    """Google Search grounding; write `google_search: {}`."""


class CodeExecution(Section):
    """Gemini runs Python code it writes, on Google's side (no settings)."""


class CodeExecutionTool(Section):
    """Let the model write and run code to answer."""

    code_execution: CodeExecution
    """Code execution; write `code_execution: {}`."""


BUILTIN_TOOLS = ("google_search", "code_execution")
"""Tools Gemini runs itself: declared in the setup, never called on the device."""
TOOL_KINDS = ("function", "mcp", *BUILTIN_TOOLS)
"""The kinds of entry in `tools:`; pydantic puts the kind into an error's location (stripped for users)."""


def tool_kind(entry: Any) -> str:
    """The kind of a `tools:` entry, by its key; a function tool (`python`/`http`) otherwise."""
    if isinstance(entry, dict):
        for kind in ("mcp", *BUILTIN_TOOLS):
            if kind in entry:
                return kind
    if isinstance(entry, McpTools):
        return "mcp"
    if isinstance(entry, GoogleSearchTool):
        return "google_search"
    if isinstance(entry, CodeExecutionTool):
        return "code_execution"
    return "function"


ToolEntry = Annotated[
    Annotated[Tool, Tag("function")]
    | Annotated[McpTools, Tag("mcp")]
    | Annotated[GoogleSearchTool, Tag("google_search")]
    | Annotated[CodeExecutionTool, Tag("code_execution")],
    Discriminator(tool_kind),
]
"""One entry of `tools:`: a function (`python` or `http`), an MCP server, or a tool Gemini runs itself."""
