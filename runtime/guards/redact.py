"""Keep secrets out of every log line, error message and JSON output the process produces.

Threat model: an API key, an ephemeral token or a `${secret:NAME}` value that reaches a log line ends up in
journald (readable by the `adm`/`systemd-journal` groups), in a bug report pasted to a public issue tracker,
or in a support bundle. Libraries we do not control log what they like: websockets logs handshake headers at
DEBUG, HTTP clients log URLs, the Gemini SDK puts request details into exception messages. So redaction cannot
rely on every call site being careful; it sits where all text leaves the process:

- `SECRETS`, the process-wide `Redactor`: whoever reads a secret (the loader for `${secret:...}`, the session
  for the API key and ephemeral tokens) calls `SECRETS.add(value)` before the value is used anywhere.
- `install_logging_filter()`: every `LogRecord` created from then on, by any logger, is redacted as it is
  made (message, arguments, exception text, stack, string `extra` fields), and every handler present on the
  root logger also carries the filter for records that did not come through the record factory.
- `redact_exception(exc)` / `SECRETS.redact(text)`: for text shown to users (CLI errors, `--format json`).

A value is also redacted in the forms it takes on the way out: percent-encoded (query strings), base64
(HTTP Basic auth, data URLs), and JSON / `repr` escaped.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = [
    "MASK",
    "MIN_SECRET_CHARS",
    "SECRETS",
    "RedactingFilter",
    "Redactor",
    "install_excepthooks",
    "install_logging_filter",
    "redact_exception",
]

_log = logging.getLogger(__name__)

MASK = "***"
"""What a redacted value is replaced with."""

MIN_SECRET_CHARS = 4
"""Shorter values are not registered: masking every `abc` or `1` would wreck logs, and the holes it leaves
would themselves reveal where the value occurs. No real key or token is that short."""

EPHEMERAL_TOKEN = re.compile(r"auth_tokens(?:/|%2[Ff])[A-Za-z0-9_.~-]{8,}")
"""Ephemeral Live tokens (`auth_tokens/...`, raw or URL-encoded) are redacted by their shape rather than registered
one by one: a token service mints one per connection and a daemon fetches one, and every registration recompiles
the one pattern of all secrets (measured: 35 ms per mint after 300 tokens, growing without end)."""

_MIN_FRAGMENT_CHARS = 8
"""Base64 fragments (a value encoded inside a longer base64 string) are only matched from this length on, so
that short fragments do not mask unrelated base64 text such as audio."""


def _base64_forms(raw: bytes) -> set[str]:
    """The value base64-encoded on its own, and the fragments it leaves inside a longer encoded string.

    Inside `base64(prefix + value + suffix)` the characters that depend only on the value depend on
    `len(prefix) % 3`; for each of the three alignments we keep the characters fully covered by the value.
    """
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(raw).decode("ascii").rstrip("="))
        for shift in range(3):
            encoded = encode(b"\0" * shift + raw + b"\0\0").decode("ascii")
            first = -(-8 * shift // 6)
            last = 8 * (shift + len(raw)) // 6
            fragment = encoded[first:last]
            if len(fragment) >= _MIN_FRAGMENT_CHARS:
                forms.add(fragment)
    return forms


def _encoded_forms(value: str) -> set[str]:
    """Every spelling of `value` that commonly reaches a log: raw, URL-encoded, escaped and base64."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in list(forms)}
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(repr(value)[1:-1])
    forms |= _base64_forms(value.encode("utf-8"))
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


class Redactor:
    """A set of secret values and the one compiled pattern that finds any of them; safe across threads."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Register a secret; empty and very short values are ignored (see `MIN_SECRET_CHARS`)."""
        candidates = {value, value.strip()}
        new_forms: set[str] = set()
        for candidate in candidates:
            if len(candidate) >= MIN_SECRET_CHARS:
                new_forms |= _encoded_forms(candidate)
        if not new_forms:
            if value.strip():
                _log.warning("a secret shorter than %d characters cannot be redacted from logs", MIN_SECRET_CHARS)
            return
        with self._lock:
            if new_forms <= self._forms:
                return
            forms = self._forms | new_forms
            # Longest first, so that a value is masked whole rather than around a shorter registered value.
            alternatives = sorted(forms, key=lambda form: (-len(form), form))
            self._pattern = re.compile("|".join(re.escape(form) for form in alternatives))
            self._forms = frozenset(forms)

    def __len__(self) -> int:
        return len(self._forms)

    def redact(self, text: str) -> str:
        """`text` with every registered value, in any of its encoded forms, replaced by `***`."""
        pattern = self._pattern  # one read: a concurrent `add` swaps in a new pattern atomically
        if not text:
            return text
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return EPHEMERAL_TOKEN.sub("auth_tokens/" + MASK, text) if "auth_tokens" in text else text

    def redact_value(self, value: Any) -> Any:
        """Redact strings inside JSON-like data (dicts, lists, tuples); other values are returned as they are."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact_value(key): self.redact_value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.redact_value(item) for item in value)
        return value


SECRETS = Redactor()
"""The process-wide redactor: register every secret here as soon as it is read."""


def redact_exception(exc: BaseException, redactor: Redactor = SECRETS) -> str:
    """`Type: message` of an exception and of its causes, safe to show to a user or put in JSON."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 5:
        seen.add(id(current))
        message = str(current)
        parts.append(f"{type(current).__name__}: {message}" if message else type(current).__name__)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return redactor.redact(" (caused by ".join(parts) + ")" * (len(parts) - 1))


_STANDARD_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "_redacted_by"}


def _redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Replace the record's message, arguments, exception and extras by their redacted text, in place.

    The message is formatted here, once: a handler that formats it later could see the raw arguments, and a
    record whose arguments do not match its format string would make `logging` print them raw to stderr.
    """
    if getattr(record, "_redacted_by", None) is not redactor:
        _redact_message(record, redactor)
        record._redacted_by = redactor
    # `extra=` fields are set after the record factory runs, so handler filters redact them (every time).
    for name, value in list(vars(record).items()):
        if name not in _STANDARD_RECORD_FIELDS and isinstance(value, str):
            setattr(record, name, redactor.redact(value))


def _redact_message(record: logging.LogRecord, redactor: Redactor) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: show what was logged, redacted, rather than a logging error
        message = f"{record.msg!r} % {record.args!r}"
    record.msg = redactor.redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = redactor.redact(record.exc_text)
        # The exception object still holds the raw values; handlers get the redacted text instead.
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redactor.redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts records in place and never drops one."""

    def __init__(self, redactor: Redactor = SECRETS) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record, self.redactor)
        return True


_factory_lock = threading.Lock()
_factory_redactors: list[Redactor] = []


def _install_record_factory(redactor: Redactor) -> None:
    """Redact every record as it is created, whichever logger made it and whichever handler gets it.

    Filters on a logger only see records logged on that very logger, not those propagated from children
    (`websockets.client`, `httpx2`, `google_genai.live`); filters on handlers miss handlers added later
    (pytest's `caplog`, a `basicConfig` after start-up) and handlers of non-propagating library loggers.
    The record factory sees every record of the process, so it is the one place that cannot be bypassed.
    """
    with _factory_lock:
        if any(existing is redactor for existing in _factory_redactors):
            return
        _factory_redactors.append(redactor)
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record, redactor)
            return record

        logging.setLogRecordFactory(make_record)


def install_excepthooks(redactor: Redactor = SECRETS) -> None:
    """Redact the tracebacks of uncaught exceptions (main thread and other threads), which Python writes to
    stderr without going through `logging`."""

    def excepthook(kind: type[BaseException], value: BaseException, trace: TracebackType | None) -> None:
        sys.stderr.write(redactor.redact("".join(traceback.format_exception(kind, value, trace))))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "unknown"
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        sys.stderr.write(redactor.redact(f"Exception in thread {name}:\n{text}"))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def install_logging_filter(logger: logging.Logger | None = None, redactor: Redactor = SECRETS) -> RedactingFilter:
    """Redact every log record of the process, and uncaught tracebacks; idempotent. `logger` (root by default)
    gets the filter on each of its handlers as well, for records made without the record factory
    (`logging.makeLogRecord`, queues)."""
    _install_record_factory(redactor)
    install_excepthooks(redactor)
    target = logger if logger is not None else logging.getLogger()
    redacting = RedactingFilter(redactor)
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) and f.redactor is redactor for f in handler.filters):
            handler.addFilter(redacting)
    return redacting
