"""Is the system clock in sync? Ephemeral tokens (expiry times) and TLS (certificate validity) need it.

The kernel knows: an NTP client (systemd-timesyncd, chrony, ntpd) that disciplines the clock clears the
`STA_UNSYNC` flag and keeps `maxerror` (the largest error it can rule out) small. `adjtimex(2)` with no
modes only reads that state, needs no privilege, and works in a container (it reads the host's clock).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

from runtime.doctor.report import Check, passed, skipped, warned

FAMILY = "credentials"
NAME = "clock"
STA_UNSYNC = 0x0040
TIME_ERROR = 5
MAX_ERROR_S = 3.0
"""Beyond this the clock is reported: tokens minted elsewhere may look expired or not yet valid."""
HINT = "enable time sync: `timedatectl set-ntp true` (systemd-timesyncd) or install chrony"


@dataclass(frozen=True)
class ClockState:
    """What the kernel says about the system clock."""

    synchronized: bool
    max_error_s: float
    """The kernel's `maxerror`: how far off the clock may be (seconds)."""
    estimated_error_s: float


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """`struct timex` of <sys/timex.h> (Linux, LP64 and ILP32 alike: every field is int or long)."""

    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int), ("padding", ctypes.c_int * 11),
    ]


def read_clock() -> ClockState | None:
    """The kernel's clock state, or None where `adjtimex` is not available (not Linux)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if not hasattr(libc, "adjtimex"):
        return None
    timex = _Timex()
    state = libc.adjtimex(ctypes.byref(timex))
    if state < 0:
        return None
    synchronized = state != TIME_ERROR and not timex.status & STA_UNSYNC
    return ClockState(synchronized, timex.maxerror / 1e6, timex.esterror / 1e6)


def judge_clock(state: ClockState | None) -> Check:
    if state is None:
        return skipped(FAMILY, NAME, "the kernel's clock state cannot be read here (adjtimex)")
    if not state.synchronized:
        return warned(FAMILY, NAME, "not synchronized (no NTP client disciplines the clock)", HINT)
    if state.max_error_s > MAX_ERROR_S:
        return warned(FAMILY, NAME, f"synchronized, but may be off by up to {state.max_error_s:.1f} s", HINT)
    return passed(FAMILY, NAME, f"synchronized (estimated error {state.estimated_error_s:.3f} s, "
                                f"at most {state.max_error_s:.3f} s)")
