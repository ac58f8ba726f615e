"""What an emulator serves and which faults it injects: frozen settings, loadable from YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from runtime.errors import Location, RuntimeConfigError

if TYPE_CHECKING:
    from runtime.emulator.scenario import Scenario

FAULT_ACTIONS = ("close", "drop", "delay", "garbage", "reject_setup", "stall_setup", "late_turn_complete")


@dataclass(frozen=True)
class Fault:
    """One injected failure, so the runtime's recovery can be tested."""

    action: str
    """close | drop (TCP reset, no close frame) | delay (server goes silent) | garbage (malformed frame) |
    reject_setup (answer `setup` with a close) | stall_setup (never answer `setup`) | late_turn_complete (an
    interrupted turn's turnComplete arrives after the next reply's first message, not before it)"""
    at: float = 0.0
    """Seconds into the connection when it happens (ignored by reject_setup)."""
    code: int = 1011
    """Close code for close (default 1011) and reject_setup (default 1008)."""
    reason: str = ""
    """Close reason; a service-like default when empty."""
    seconds: float = 0.0
    """How long `delay` holds every server message."""
    conn: int | None = None
    """Only on this connection number (1 = the first accepted); every connection when None."""
    once: bool = False
    """Fire at most once in the emulator's life: on the first connection numbered `conn` or later (any when
    `conn` is None) that is still open `at` seconds in. A fault pinned to one connection never fires when that
    connection ends early (a handover, another fault); a test that needs the fault to happen uses this."""

    def applies_to(self, conn_number: int) -> bool:
        if self.conn is None:
            return True
        return conn_number >= self.conn if self.once else conn_number == self.conn


@dataclass(frozen=True)
class EmulatorOptions:
    """How one emulator instance behaves; times are seconds and are scaled down in tests."""

    host: str = "127.0.0.1"
    port: int = 0
    """TCP port; 0 picks a free one."""
    scenario: Path | None = None
    """YAML scenario file that scripts the model's replies."""
    scenario_obj: Scenario | None = None
    """An already parsed scenario (wins over `scenario`)."""
    go_away_after_s: float | None = None
    """`goAway` is sent this many seconds into every connection."""
    connection_limit_s: float | None = None
    """Connections close with 1011 "Deadline expired before operation could complete." after this."""
    session_limit_s: float = 900.0
    """An audio session without context compression ends after this (the service: 15 minutes)."""
    video_session_limit_s: float = 120.0
    """An audio+video session (a frame arrived) without context compression ends after this (the service: 2
    minutes)."""
    faults: tuple[Fault, ...] = ()
    api_key: str | None = None
    """When set, any other key is refused with close code 1008."""
    record_path: Path | None = None
    """Every client message as a JSON line {"conn", "t", "msg"}."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    audio_chunk_ms: int = 40
    """Duration of each streamed audio chunk of the model's speech."""
    context_window_tokens: int | None = None
    """Context window size; by default the model's, from the catalogue."""
    accept_any_model: bool = False
    """Serve a model the catalogue does not know, or has shut down, instead of closing with 1008 as the service
    does: for experiments. An unknown model gets lenient rules (every reply modality and input, 128k tokens)."""
    handle_ttl_s: float = 7200.0
    """How long a resumption handle stays valid after its session's last connection ends."""
    keep_history: bool = True
    """Keep `records`, `sent` and received audio in memory (turn off for long soaks)."""


def load_faults(path: Path) -> tuple[Fault, ...]:
    """Read a YAML list of faults, e.g. `- {at: 5, action: close, code: 1011, reason: "..."}`."""
    try:
        entries = yaml.safe_load(path.read_text()) or []
    except (OSError, yaml.YAMLError) as error:
        raise RuntimeConfigError(Location(str(path)), f"cannot read faults: {error}") from None
    if not isinstance(entries, list):
        raise RuntimeConfigError(Location(str(path)), "faults must be a YAML list", "e.g. - {at: 5, action: drop}")
    return tuple(_fault(entry, path, index) for index, entry in enumerate(entries))


def _flag(value: Any, where: Location) -> bool:
    if not isinstance(value, bool):
        raise RuntimeConfigError(where, f"`once` must be true or false, not {value!r}")
    return value


def _fault(entry: Any, path: Path, index: int) -> Fault:
    where = Location(f"{path}[{index}]")
    if not isinstance(entry, dict) or entry.get("action") not in FAULT_ACTIONS:
        raise RuntimeConfigError(where, "each fault needs an action", f"one of {', '.join(FAULT_ACTIONS)}")
    unknown = set(entry) - {"action", "at", "code", "reason", "seconds", "conn", "once"}
    if unknown:
        raise RuntimeConfigError(where, f"unknown fault keys: {', '.join(sorted(unknown))}")
    default_code = 1008 if entry["action"] == "reject_setup" else 1011
    try:
        return Fault(
            action=str(entry["action"]),
            at=float(entry.get("at", 0.0)),
            code=int(entry.get("code", default_code)),
            reason=str(entry.get("reason", "")),
            seconds=float(entry.get("seconds", 0.0)),
            conn=None if entry.get("conn") is None else int(entry["conn"]),
            once=_flag(entry.get("once", False), where),
        )
    except (TypeError, ValueError) as error:
        raise RuntimeConfigError(where, f"invalid fault value: {error}") from None
