"""The token service's devices file: one line per device, its secret's hash, the agents it may run.

    # name   secret hash (scrypt)                      agents (comma-separated; * = any)
    kitchen  scrypt$16384$8$1$<salt b64>$<hash b64>    kitchen,timer

A device authenticates with `Authorization: Bearer NAME.SECRET` (`runtime token-server add-device` prints that
credential once; the file keeps only the hash). The file is read on every request (a few hundred bytes a device,
nothing beside minting): an edit, a removed line or a replaced file takes effect on the very next request, so a
revoked device is refused at once, with no watcher thread that a filesystem (NFS, some bind mounts) might never
wake and no file timestamp whose granularity could hide an edit. Successful checks are
remembered per stored hash (a SHA-256 of the presented secret), so only a device's first request after a start
or an edit of its line pays for scrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SCRYPT = (1 << 14, 8, 1)
"""scrypt's n, r, p: 16 MiB and some tens of milliseconds per check (RFC 7914's interactive-login sizing)."""
ANY_AGENT = "*"
HASHING_AT_ONCE = threading.BoundedSemaphore(2)
"""scrypt checks running at once: each takes 16 MiB, and a fleet reconnecting to a service that just started would
otherwise run one per request thread (100 devices: 1.6 GiB). CPU-bound anyway, so two keep a 2-core host busy."""


@dataclass(frozen=True)
class Device:
    name: str
    secret_hash: str
    agents: frozenset[str]

    def may_run(self, agent: str) -> bool:
        return ANY_AGENT in self.agents or agent in self.agents


class DevicesFileError(ValueError):
    """A line of the devices file that cannot be read (its line number; never its content)."""


def hash_secret(secret: str, *, salt: bytes | None = None, params: tuple[int, int, int] = SCRYPT) -> str:
    n, r, p = params
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * n * r * p + (1 << 20))
    encode = base64.b64encode
    return f"scrypt${n}${r}${p}${encode(salt).decode()}${encode(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of `secret` against a `hash_secret` string."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = hash_secret(secret, salt=base64.b64decode(salt), params=(int(n), int(r), int(p)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected.split("$")[-1].encode(), digest.encode())


def parse_devices(text: str) -> dict[str, Device]:
    devices: dict[str, Device] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 3 or not NAME_PATTERN.match(words[0]) or not words[1].startswith("scrypt$"):
            raise DevicesFileError(f"line {number}: expected `NAME scrypt$... AGENT[,AGENT...]`")
        if words[0] in devices:
            raise DevicesFileError(f"line {number}: device {words[0]} is listed twice")
        agents = frozenset(agent for agent in words[2].split(",") if agent)
        devices[words[0]] = Device(words[0], words[1], agents)
    return devices


def split_credential(credential: str) -> tuple[str, str] | None:
    """`NAME.SECRET` → (name, secret); None when it is not shaped like a device credential."""
    name, dot, secret = credential.partition(".")
    if not dot or not secret or not NAME_PATTERN.match(name):
        return None
    return name, secret


class DevicesFile:
    """The devices file as of the last request: re-read whenever its stat changes (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: bytes | None = None
        self._devices: dict[str, Device] = {}
        self._verified: dict[str, bytes] = {}
        """stored hash → SHA-256 of the secret that matched it (a line edited or removed drops its entry)."""
        self.current()

    def current(self) -> dict[str, Device]:
        """The devices now; an unreadable or malformed file keeps nobody in (fail closed) and raises."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        with self._lock:
            if data != self._data:
                self._data, self._devices = data, {}
                self._devices = parse_devices(data.decode("utf-8"))
                live = {device.secret_hash for device in self._devices.values()}
                self._verified = {stored: seen for stored, seen in self._verified.items() if stored in live}
            return self._devices

    def authenticate(self, credential: str, before_hashing: Callable[[str], None] | None = None) -> Device | None:
        """The device whose credential this is, or None. `before_hashing(name)` runs before a credential not
        checked yet costs an scrypt (a throttle may raise there: a wrong secret is never remembered, so an
        attacker who knows a device's name could otherwise spend the service's CPU at will)."""
        parts = split_credential(credential)
        if parts is None:
            return None
        device = self.current().get(parts[0])
        if device is None:
            return None
        seen = hashlib.sha256(parts[1].encode()).digest()
        with self._lock:
            remembered = self._verified.get(device.secret_hash)
        if remembered is not None:
            return device if hmac.compare_digest(remembered, seen) else None
        if before_hashing is not None:
            before_hashing(device.name)
        with HASHING_AT_ONCE:
            matches = verify_secret(parts[1], device.secret_hash)
        if not matches:
            return None
        with self._lock:
            self._verified[device.secret_hash] = seen
        return device


def add_device(path: Path, name: str, agents: Iterable[str]) -> str:
    """Append a device to the file (created 0600 if missing) and return its credential, `NAME.SECRET`."""
    if not NAME_PATTERN.match(name):
        raise DevicesFileError(f"device name {name!r}: lowercase letters, digits, `-`, `_` (at most 64)")
    listed = list(agents)
    if not listed or any(not agent or "," in agent or agent.split() != [agent] for agent in listed):
        raise DevicesFileError("give the agents it may run: --agents a,b (or * for any)")
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if name in parse_devices(existing):
        raise DevicesFileError(f"device {name} is already listed: remove its line first to give it a new secret")
    secret = secrets.token_urlsafe(32)
    line = f"{name} {hash_secret(secret)} {','.join(listed)}\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as file:
        if existing and not existing.endswith("\n"):
            file.write("\n")
        file.write(line)
    return f"{name}.{secret}"
