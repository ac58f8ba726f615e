"""`${env:NAME}` and `${secret:NAME}` references in agent files, resolved at load time.

Secrets come from files: `$CREDENTIALS_DIRECTORY/NAME` first (systemd `LoadCredential=`), then the secrets
directory (`--secrets-dir`, `$RUNTIME_SECRETS_DIR`, default /etc/runtime/secrets). Every resolved secret is
registered with the process-wide redactor, and no error message ever contains a resolved value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runtime.guards.redact import SECRETS

DEFAULT_SECRETS_DIR = Path("/etc/runtime/secrets")
MAX_SECRET_BYTES = 64 * 1024

# `$${...}` is a literal `${...}`; anything else inside `${...}` must be a reference.
REFERENCE = re.compile(r"\$(\$?)\{([^{}]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Secret names are file names inside a trusted directory: no `/`, no leading `.`, so no `..` and no
# escaping to other files (a shared agent file must not be able to read /etc/shadow via a secret name).
SECRET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class UnresolvedReference(Exception):
    """One reference could not be resolved: a message and a hint, never the value."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.ordinal = 0
        """Which reference of the string failed (0 for the first `${...}`, escaped ones not counted)."""


def secrets_dir_from_env(explicit: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The secrets directory: the explicit one, else `$RUNTIME_SECRETS_DIR`, else /etc/runtime/secrets."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        return explicit
    configured = env.get("RUNTIME_SECRETS_DIR")
    return Path(configured) if configured else DEFAULT_SECRETS_DIR


@dataclass
class Resolver:
    """Resolves references in one file's strings; remembers which ones were secrets."""

    secrets_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    resolved_secrets: int = 0

    def interpolate(
        self, text: str, quote: Callable[[str], str] | None = None
    ) -> tuple[str, list[UnresolvedReference]]:
        """`text` with every reference replaced (each value passed through `quote` when given: a value put into
        a template must stay literal), and the references that failed (each replaced by "")."""
        if "${" not in text:
            return text, []
        failures: list[UnresolvedReference] = []
        count = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal count
            if match.group(1):
                return "${" + match.group(2) + "}"
            count += 1
            try:
                value = self.resolve(match.group(2))
            except UnresolvedReference as failure:
                failure.ordinal = count - 1
                failures.append(failure)
                return ""
            return quote(value) if quote is not None else value

        return REFERENCE.sub(replace, text), failures

    def resolve(self, reference: str) -> str:
        """The value of `env:NAME` or `secret:NAME`."""
        kind, _, name = reference.partition(":")
        kind = kind.strip()
        name = name.strip()
        if kind == "env":
            return self._env(name)
        if kind == "secret":
            return self._secret(name)
        raise UnresolvedReference(
            f"unknown reference `${{{reference}}}`",
            "use `${env:NAME}` or `${secret:NAME}`; write `$${` for a literal `${`",
        )

    def _env(self, name: str) -> str:
        if not ENV_NAME.fullmatch(name):
            raise UnresolvedReference(
                f"`{name}` is not a valid environment variable name", "use letters, digits and `_`"
            )
        value = self.environ.get(name)
        if value is None:
            raise UnresolvedReference(
                f"environment variable `{name}` is not set",
                f"set {name} in the daemon's environment (systemd: `Environment=` or `EnvironmentFile=`)",
            )
        return value

    def _secret(self, name: str) -> str:
        if not SECRET_NAME.fullmatch(name):
            raise UnresolvedReference(
                f"`{name}` is not a valid secret name",
                "a secret name is a file name: letters, digits, `_`, `-`, `.`, not starting with `.`",
            )
        searched = self.search_path()
        for directory in searched:
            candidate = directory / name
            if candidate.is_file():
                value = read_secret(candidate, name)
                SECRETS.add(value)
                self.resolved_secrets += 1
                return value
        where = " or ".join(str(directory) for directory in searched)
        raise UnresolvedReference(
            f"secret `{name}` not found",
            f"create the file `{name}` in {where} (readable by the daemon only), or pass --secrets-dir",
        )

    def search_path(self) -> list[Path]:
        """Where secrets are looked up, in order: systemd credentials, then the secrets directory."""
        directories = []
        credentials = self.environ.get("CREDENTIALS_DIRECTORY")
        if credentials:
            directories.append(Path(credentials))
        directories.append(self.secrets_dir)
        return directories


def read_secret(path: Path, name: str) -> str:
    """A secret file's text without its trailing newline (editors add one)."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_SECRET_BYTES + 1)
    except OSError as error:
        raise UnresolvedReference(
            f"secret `{name}` cannot be read: {error.strerror}",
            "make the file readable by the user the daemon runs as",
        ) from None
    if len(raw) > MAX_SECRET_BYTES:
        raise UnresolvedReference(f"secret `{name}` is larger than {MAX_SECRET_BYTES // 1024} KiB", "")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnresolvedReference(f"secret `{name}` is not UTF-8 text", "") from None
    text = text.rstrip("\r\n")
    if not text:
        raise UnresolvedReference(f"secret `{name}` is empty", f"put the value into the file `{name}`")
    return text
