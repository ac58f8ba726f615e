"""The one exception hierarchy of runtime: every error a user can see says what, where and what to do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in an agent file (1-based line and column, as editors count)."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{self.column}"


class AgentRuntimeError(Exception):
    """Base class of every error runtime raises on purpose."""


class RuntimeConfigError(AgentRuntimeError):
    """An agent file is wrong: carries the location, the message and a hint, never a resolved secret."""

    def __init__(self, location: Location, message: str, hint: str = "", severity: str = "error") -> None:
        super().__init__(f"{location}: {severity}: {message}")
        self.location = location
        self.message = message
        self.hint = hint
        self.severity = severity

    def render(self) -> str:
        """`path:line:column: error: message` and, on the next line, the hint."""
        text = f"{self.location}: {self.severity}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class SessionError(AgentRuntimeError):
    """A Live session failed in a way its own recovery could not handle."""


class FatalSessionError(SessionError):
    """Retrying will not help soon (bad key, quota, model not found): report clearly, retry slowly."""


class CredentialRefused(FatalSessionError):
    """The token service refused this device (revoked, or not allowed this agent): the agent is parked until a
    reload, so that a revoked device does not keep asking."""


class DeviceError(AgentRuntimeError):
    """An audio device is missing, busy or failed."""
