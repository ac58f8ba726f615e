"""The daemon as a real subprocess: a fake systemd notify socket, stderr collected line by line, agent files."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

MODEL = "gemini-3.8-live"


def write_silence(path: Path, seconds: float = 0.5) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(bytes(int(16000 * seconds) * 2))


def agent_yaml(name: str, *, instructions: str = "Be brief.", extra: str = "") -> str:
    """A valid agent that needs no sound card: a silent WAV as microphone, a WAV file as speaker."""
    return (
        f"name: {name}\nmodel: {MODEL}\ninstructions: {instructions}\n"
        f"audio:\n  input: {{device: 'file:silence.wav'}}\n  output: {{device: 'file:{name}-out.wav'}}\n{extra}"
    )


def make_agents(directory: Path, names: list[str]) -> Path:
    directory.mkdir(mode=0o755, exist_ok=True)
    write_silence(directory / "silence.wav")
    for name in names:
        (directory / f"{name}.yaml").write_text(agent_yaml(name))
    return directory


class NotifySocket:
    """The systemd side of sd_notify: a datagram socket that learns each sender's pid, like NotifyAccess=main.

    A thread reads it all the time, as systemd does. The kernel holds only `net.unix.max_dgram_qlen` + 1 (11)
    datagrams for a reader that does not read, and the daemon drops a notification it cannot send at once: a
    test busy elsewhere for a while (a watchdog ping every 0.2 s, a chaos run's restarts) would otherwise see
    an old `STATUS=` as the last one, or miss `READY=1`.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"notify-{time.monotonic_ns()}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.5)  # how soon the reading thread sees `close()`
        self.messages: list[tuple[float, int | None, dict[str, str]]] = []
        """Every notification received so far, in order (the thread appends to it)."""
        self._taken = 0
        """How many of `messages` `receive` has handed out."""
        self._arrived = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="notify-socket", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data, ancillary, _flags, _addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            pid = None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("i", payload[:4])[0]
            message = dict(line.split("=", 1) for line in data.decode().splitlines())
            with self._arrived:
                self.messages.append((time.monotonic(), pid, message))
                self._arrived.notify_all()

    def receive(self, timeout_s: float) -> dict[str, str] | None:
        """The next notification not handed out yet, waiting up to `timeout_s` for it; None if none came."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: self._taken < len(self.messages), max(timeout_s, 0.0)):
                return None
            self._taken += 1
            return self.messages[self._taken - 1][2]

    def expect(self, key: str, timeout_s: float = 15.0) -> dict[str, str]:
        """The next message holding `key` (messages before it are kept in `messages`)."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(left)
            if message is not None and key in message:
                return message
        raise AssertionError(f"no {key}= within {timeout_s} s; got {[m for _, _, m in self.messages][-8:]}")

    def expect_status(self, status: str, timeout_s: float = 15.0) -> None:
        """Some `STATUS=` (received already or arriving within the timeout) equals `status`; `receive` goes on
        after it when it had not been handed out yet."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while (index := next((i for i, (_, _, m) in enumerate(self.messages) if m.get("STATUS") == status),
                                 None)) is None:
                if (left := deadline - time.monotonic()) <= 0:
                    raise AssertionError(f"no STATUS={status}; got {[m for _, _, m in self.messages][-8:]}")
                self._arrived.wait(left)
            self._taken = max(self._taken, index + 1)

    def close(self) -> None:
        self._closed = True
        self._reader.join()
        self.sock.close()


@dataclass
class Daemon:
    """`runtime run` in a subprocess; `lines` fills as it logs."""

    process: subprocess.Popen[str]
    notify: NotifySocket
    started_at: float
    lines: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def _pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_line(self, pattern: str, timeout_s: float = 15.0, *, after: int = 0) -> str:
        """The first log line (from index `after`) matching the regex `pattern`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for line in self.lines[after:]:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line like {pattern!r}; last lines:\n" + "\n".join(self.lines[-25:]))
                self._changed.wait(left)

    def matching(self, pattern: str) -> list[str]:
        with self._changed:
            return [line for line in self.lines if re.search(pattern, line)]

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout_s: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def start_daemon(
    agents: Path, tmp: Path, *args: str, env: dict[str, str] | None = None, notify: NotifySocket | None = None
) -> Daemon:
    notify = notify or NotifySocket(tmp)
    environ = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "WATCHDOG_USEC")}
    environ.update({"NOTIFY_SOCKET": str(notify.path), "PYTHONUNBUFFERED": "1"}, **(env or {}))
    command = [sys.executable, "-m", "runtime", "run", str(agents), "--state-dir", str(tmp / "state"), *args]
    started_at = time.monotonic()
    process = subprocess.Popen(command, env=environ, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    daemon = Daemon(process, notify, started_at)
    threading.Thread(target=daemon._pump, daemon=True).start()
    return daemon
