"""Resumption handles that outlive a connection and a daemon restart, what a close means, and goAway timing.

The store is one small JSON file per agent in the state directory, replaced atomically (write a temporary
file, fsync, rename) so a power cut leaves either the old handle or the new one, never half a file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runtime.retry import Recovery

logger = logging.getLogger(__name__)

HANDLE_VALIDITY_S = 2 * 60 * 60
"""The service keeps a session resumable about two hours after it ends."""


class HandleStore:
    """The latest resumption handle of one agent, in `state_dir/<name>.json`."""

    def __init__(
        self,
        state_dir: Path,
        name: str,
        *,
        max_age_s: float = HANDLE_VALIDITY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = state_dir / f"{name}.json"
        self._max_age_s = max_age_s
        self._clock = clock

    def load(self) -> str | None:
        """The stored handle if it is younger than the handle validity, else None."""
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            handle, saved_at = stored["handle"], float(stored["saved_at"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable resumption state %s: %s", self.path, exc)
            return None
        if not isinstance(handle, str) or not handle:
            return None
        if self._clock() - saved_at > self._max_age_s:
            logger.info("resumption handle in %s is older than %.0f s; starting fresh", self.path, self._max_age_s)
            return None
        return handle

    def save(self, handle: str) -> None:
        """Replace the stored handle atomically (blocking file I/O: call it from a worker thread)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"handle": handle, "saved_at": self._clock()})
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)

    def clear(self) -> None:
        """Forget the handle (the service said the session no longer exists)."""
        self.path.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; not every file system lets a directory be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


STALE_HANDLE_MARKERS = ("session not found", "invalid handle", "session_resumption", "maximum session duration")
"""Close reasons after which resuming would reach a session that no longer exists or has ended for good
(an audio session without compression ends after 15 minutes: resuming it is closed again at once)."""


def classify_close(code: int | None, reason: str) -> Recovery:
    """Map a close code and reason to a recovery; unknown codes are treated as transient."""
    text = reason.lower()
    if any(marker in text for marker in STALE_HANDLE_MARKERS):
        return Recovery.FRESH
    if code in (1008, 1007, 4001, 4003):
        return Recovery.FATAL
    return Recovery.RESUME


def goaway_deadline_s(time_left: str | float | None, *, margin_s: float = 10.0, fraction: float = 0.5) -> float:
    """How long to wait for a resumable point after `goAway` before handing over anyway.

    The timer fires well before the server's deadline: at most `fraction` of `timeLeft`, and at least
    `margin_s` before it, so a handover happens even if the server goes silent.
    """
    seconds = parse_duration_s(time_left)
    if seconds is None:
        return 5.0
    return max(0.0, min(seconds * fraction, seconds - margin_s))


def parse_duration_s(value: str | float | None) -> float | None:
    """`"50s"`, `"1.5s"` or a number of seconds → seconds; None when unparseable."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text[:-1] if text.endswith("s") else text)
    except ValueError:
        return None
