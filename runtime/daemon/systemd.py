"""sd_notify(3) without libsystemd: what the daemon tells systemd, and the plain socket that carries it.

Message building is pure (tested without a socket); `Notifier` is the thin I/O shell. Outside systemd
(`NOTIFY_SOCKET` unset) every notification is a no-op, so the daemon runs the same in a terminal.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock `RELOADING=1` requires in `MONOTONIC_USEC=`."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def status_line(status: str) -> str:
    """`STATUS=` takes one line: newlines would end the message's field early."""
    return "STATUS=" + " ".join(status.split())


def ready_message(status: str) -> str:
    return "\n".join(["READY=1", status_line(status)])


def reloading_message(status: str, usec: int) -> str:
    return "\n".join(["RELOADING=1", f"MONOTONIC_USEC={usec}", status_line(status)])


def stopping_message(status: str) -> str:
    return "\n".join(["STOPPING=1", status_line(status)])


def status_message(status: str) -> str:
    return status_line(status)


WATCHDOG_MESSAGE = "WATCHDOG=1"


def watchdog_interval_s(env: Mapping[str, str], pid: int) -> float | None:
    """Seconds between `WATCHDOG=1` pings (half of `WATCHDOG_USEC`), or None when no watchdog is asked of us.

    `WATCHDOG_PID` names the process the watchdog is meant for; a child that inherited the variables is not it.
    """
    usec, for_pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if for_pid and (not for_pid.isdigit() or int(for_pid) != pid):
        return None
    return int(usec) / 2e6


def socket_address(notify_socket: str) -> str:
    """`@name` is a socket in the abstract namespace (a leading NUL byte on the wire)."""
    return "\0" + notify_socket[1:] if notify_socket.startswith("@") else notify_socket


@dataclass
class Notifier:
    """Sends notifications to systemd; silently does nothing when not started by systemd."""

    address: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        value = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
        return cls(socket_address(value) if value else None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, message: str) -> bool:
        """One datagram; a failure is logged, never raised: a lost notification must not stop the agents.

        The send never waits: when nobody reads the socket its queue fills, and a blocking send would hang the
        event loop (and every agent with it). A full queue drops the message (logged at debug).
        """
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.connect(self.address)
                sock.send(message.encode(), socket.MSG_DONTWAIT)
        except BlockingIOError:
            log.debug("sd_notify dropped (the notify socket's queue is full): %s", message.split("\n", 1)[0])
            return False
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc)
            return False
        return True
