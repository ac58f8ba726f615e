"""The redactor: a registered secret never survives, in any spelling, in text, log records or exceptions."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import subprocess
import sys
import threading
from urllib.parse import quote, urlencode

import pytest

from runtime.guards.redact import MASK, RedactingFilter, Redactor, install_logging_filter, redact_exception

CANARY = "canary-Tok3n/with+odd=chars&more"


@pytest.fixture(autouse=True)
def restore_logging_record_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    """`install_logging_filter` is process-wide: undo it so that other tests see plain logging."""
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())
    monkeypatch.setattr("runtime.guards.redact._factory_redactors", [])
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)


def spellings(secret: str) -> list[str]:
    """Every way the secret is written on its way into a log line."""
    basic = base64.b64encode(f"user:{secret}".encode()).decode()
    return [
        secret,
        quote(secret, safe=""),
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        urlencode({"key": secret}),
        json.dumps({"k": secret}),
        repr({"k": secret}),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode(),
        f"Authorization: Basic {basic}",
        base64.b64encode(f"xy:{secret}".encode()).decode(),
        base64.b64encode(f"x:{secret}".encode()).decode(),
    ]


def leaks(text: str, secret: str = CANARY) -> bool:
    raw = secret.encode()
    if secret in text or quote(secret, safe="") in text:
        return True
    # Decode every base64-looking word and look for the secret inside.
    for word in text.replace('"', " ").replace("'", " ").split():
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                if raw in decode(word + "=" * (-len(word) % 4)):
                    return True
            except ValueError:
                continue
    return False


@pytest.mark.parametrize("index", range(len(spellings(CANARY))))
def test_every_spelling_of_a_secret_is_masked(index: int) -> None:
    redactor = Redactor([CANARY])
    text = f"before {spellings(CANARY)[index]} after"
    redacted = redactor.redact(text)
    assert MASK in redacted
    assert not leaks(redacted), redacted
    assert redacted.startswith("before ") and redacted.endswith(" after")


def test_short_and_empty_values_are_ignored_and_text_is_kept() -> None:
    redactor = Redactor(["", "abc", "   "])
    assert len(redactor) == 0
    assert redactor.redact("abc def") == "abc def"


def test_a_secret_read_with_its_newline_is_masked_without_it() -> None:
    redactor = Redactor(["tok3n-from-file\n"])
    assert redactor.redact("Bearer tok3n-from-file.") == f"Bearer {MASK}."


def test_text_without_secrets_is_unchanged() -> None:
    redactor = Redactor([CANARY])
    text = "GET http://127.0.0.1:8080/weather?city=Berlin 200 OK " + base64.b64encode(bytes(range(256))).decode()
    assert redactor.redact(text) == text


def test_redact_value_walks_json_data() -> None:
    redactor = Redactor([CANARY])
    data = {"errors": [{"message": f"bad {CANARY}"}], CANARY: (1, CANARY)}
    assert CANARY not in json.dumps(redactor.redact_value(data))


def test_adding_while_redacting_from_other_threads_is_safe() -> None:
    redactor = Redactor()
    secrets = [f"secret-number-{i:04d}" for i in range(100)]
    errors: list[str] = []

    def writer() -> None:
        for secret in secrets:
            redactor.add(secret)

    def reader() -> None:
        for _ in range(300):
            out = redactor.redact(" ".join(secrets[:5]))
            if "secret-number" in out and out.count(MASK) > 5:
                errors.append(out)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert "secret-number" not in redactor.redact(" ".join(secrets))


def test_redact_exception_covers_the_cause_chain() -> None:
    redactor = Redactor([CANARY])
    try:
        try:
            raise ConnectionError(f"wss://host/ws?key={quote(CANARY, safe='')}")
        except ConnectionError as cause:
            raise RuntimeError(f"session failed with key {CANARY}") from cause
    except RuntimeError as exc:
        text = redact_exception(exc, redactor)
    assert "RuntimeError" in text and "ConnectionError" in text
    assert not leaks(text)


def test_records_of_any_library_logger_are_redacted_before_any_handler_sees_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redactor = Redactor([CANARY])
    install_logging_filter(redactor=redactor)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("websockets.client").debug("> GET /ws?key=%s HTTP/1.1", quote(CANARY, safe=""))
    logging.getLogger("google_genai.live").info("headers %r", {"x-goog-api-key": CANARY})
    logging.getLogger("httpx2").warning("bad format %s %s", CANARY)  # mismatched arguments
    try:
        raise ValueError(f"key {CANARY} rejected")
    except ValueError:
        logging.getLogger("runtime.live").exception("session failed for %s", CANARY)
    logging.getLogger("runtime").info("stack", stack_info=True)
    assert len(caplog.records) == 5
    for record in caplog.records:
        assert not leaks(record.getMessage())
        assert not leaks(str(record.__dict__))
    assert not leaks(caplog.text)
    assert "Traceback" in caplog.text and "rejected" in caplog.text


def test_the_filter_on_a_handler_redacts_records_made_without_the_factory() -> None:
    redactor = Redactor([CANARY])
    record = logging.makeLogRecord({"msg": "token %s", "args": (CANARY,), "levelno": logging.INFO})
    assert RedactingFilter(redactor).filter(record)
    assert record.getMessage() == f"token {MASK}"


def test_extra_fields_are_redacted_by_the_filter_on_root_handlers() -> None:
    redactor = Redactor([CANARY])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s url=%(url)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_logging_filter(redactor=redactor)
        logging.getLogger("runtime.live.tools").warning("call failed", extra={"url": f"http://h/?k={CANARY}"})
    finally:
        root.removeHandler(handler)
    assert stream.getvalue() == f"call failed url=http://h/?k={MASK}\n"


UNCAUGHT = """
import sys, threading
from runtime.guards.redact import SECRETS, install_logging_filter
if sys.argv[1] == "redact":
    SECRETS.add(sys.argv[2])
    install_logging_filter()
thread = threading.Thread(target=lambda: (_ for _ in ()).throw(ValueError("thread saw " + sys.argv[2])))
thread.start()
thread.join()
raise RuntimeError("main saw " + sys.argv[2])
"""


@pytest.mark.parametrize("mode", ["redact", "plain"])
def test_uncaught_tracebacks_are_redacted_in_a_real_process(mode: str) -> None:
    result = subprocess.run([sys.executable, "-c", UNCAUGHT, mode, CANARY], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "ValueError: thread saw" in result.stderr and "RuntimeError: main saw" in result.stderr
    assert leaks(result.stderr) == (mode == "plain"), result.stderr


def test_ephemeral_tokens_are_redacted_by_their_shape_without_being_registered() -> None:
    from runtime.guards.redact import Redactor

    redactor = Redactor()
    text = "connect with auth_tokens/AbC-123_xyz7890 (auth_tokens%2FAbC-123_xyz7890) not auth_tokens/x"
    assert redactor.redact(text) == ("connect with auth_tokens/*** (auth_tokens/***) not auth_tokens/x")
    assert len(redactor) == 0
