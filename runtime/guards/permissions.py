"""Refuse agent directories, tool modules and secrets that other users could change or read (like sshd's StrictModes).

Threat model: an agent directory is code. Its YAML chooses the model's instructions, which URLs tools call
and which headers carry secrets; the Python modules beside it are imported and run by the daemon, often
as a service user with access to the microphone, the network and an API key. If another local user (a
guest account, a compromised web service running as `www-data`, a container sharing the volume) can write
any of these files — or the directory, to swap a file in, or `__pycache__`, to plant bytecode — they get
the daemon's privileges and hear the room. A secrets file that others can read gives away the key directly.
So, like sshd refusing a loose `authorized_keys`, the daemon refuses to start until the files are private:

- every path must be owned by root or by the user the daemon runs as;
- nothing may be writable by group or others (directories with the sticky bit, like /tmp, are exempt for
  the directories *above* the agent directory, as the kernel then protects entries owned by others);
- secrets (files in the secrets directory) must not be readable by group or others either.

`--insecure-permissions` turns the refusal into a warning, for development boards where everyone is root.
Parent directories are checked for writability too: a writable parent lets someone rename the directory away
and put their own in its place.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from runtime.errors import AgentRuntimeError

__all__ = [
    "MAX_CHECKED_PATHS",
    "InsecurePermissionsError",
    "agent_directory_paths",
    "check_private",
    "collect_problems",
    "ensure_safe_permissions",
]

_log = logging.getLogger(__name__)

MAX_CHECKED_PATHS = 10_000
"""An agent directory holding more entries than this is refused as suspicious rather than walked forever."""

_HINT = (
    "make them private (`chmod go-w PATH`, secrets `chmod 600`, owned by root or the service user), "
    "or start with --insecure-permissions on a development machine"
)


class InsecurePermissionsError(AgentRuntimeError):
    """Agent files or secrets are writable (or readable) by users other than the daemon's."""

    def __init__(self, problems: list[str]) -> None:
        listing = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"refusing files other users can change:\n{listing}\nhint: {_HINT}")
        self.problems = problems


def _owner_problem(path: Path, status: os.stat_result) -> str | None:
    allowed = {0, os.geteuid()}
    if status.st_uid in allowed:
        return None
    return f"{path}: owned by uid {status.st_uid}, not by root or the user running runtime (uid {os.geteuid()})"


def _mode_problems(path: Path, status: os.stat_result, *, secret: bool) -> list[str]:
    mode = stat.S_IMODE(status.st_mode)
    problems = []
    if mode & stat.S_IWGRP:
        problems.append(f"{path}: writable by its group (mode {mode:04o}); run `chmod g-w {path}`")
    if mode & stat.S_IWOTH:
        problems.append(f"{path}: writable by everyone (mode {mode:04o}); run `chmod o-w {path}`")
    if secret and stat.S_ISREG(status.st_mode) and mode & (stat.S_IRGRP | stat.S_IROTH):
        problems.append(f"{path}: a secret readable by other users (mode {mode:04o}); run `chmod 600 {path}`")
    return problems


def _parent_problems(path: Path) -> list[str]:
    """Directories above `path` that someone else could use to replace it."""
    problems = []
    for parent in path.resolve().parents:
        try:
            status = parent.stat()
        except OSError:
            continue
        mode = stat.S_IMODE(status.st_mode)
        owner = _owner_problem(parent, status)
        if owner:
            problems.append(owner)
        if mode & (stat.S_IWGRP | stat.S_IWOTH) and not mode & stat.S_ISVTX:
            problems.append(f"{parent}: writable by other users (mode {mode:04o}); run `chmod go-w {parent}`")
    return problems


def check_private(path: Path, *, secret: bool = False, parents: bool = True) -> list[str]:
    """What is wrong with `path` (and, with `parents`, the directories above it); empty when it is private.

    Symbolic links are followed: what matters is the file that will be read. A missing path has no problems
    (whoever reads it reports that it is missing).
    """
    try:
        status = path.stat()
    except FileNotFoundError:
        return []
    except OSError as exc:
        return [f"{path}: cannot be checked ({exc.strerror})"]
    problems = []
    owner = _owner_problem(path, status)
    if owner:
        problems.append(owner)
    problems += _mode_problems(path, status, secret=secret)
    if parents:
        problems += _parent_problems(path)
    return problems


def agent_directory_paths(directory: Path) -> Iterator[Path]:
    """The agent directory and everything below it: YAML, tool modules, packages, `__pycache__`."""
    yield directory
    count = 0
    for root, dirs, files in os.walk(directory, followlinks=False):
        for name in dirs + files:
            count += 1
            if count > MAX_CHECKED_PATHS:
                raise InsecurePermissionsError([f"{directory}: more than {MAX_CHECKED_PATHS} entries"])
            yield Path(root, name)


def collect_problems(paths: Iterable[Path], secrets: Iterable[Path] = ()) -> list[str]:
    """Every problem of the agent paths and secret paths, without duplicates, in a stable order."""
    problems: dict[str, None] = {}
    for path in paths:
        for walked in agent_directory_paths(path) if path.is_dir() else [path]:
            for problem in check_private(walked, parents=walked == path):
                problems[problem] = None
    for path in secrets:
        for walked in agent_directory_paths(path) if path.is_dir() else [path]:
            for problem in check_private(walked, secret=True, parents=walked == path):
                problems[problem] = None
    return list(problems)


def ensure_safe_permissions(paths: Iterable[Path], insecure: bool, *, secrets: Iterable[Path] = ()) -> None:
    """Raise `InsecurePermissionsError` listing every problem of the agent `paths` (directories are walked) and
    the `secrets` paths; with `insecure` (`--insecure-permissions`) log them as warnings and carry on."""
    problems = collect_problems(paths, secrets)
    if not problems:
        return
    if insecure:
        for problem in problems:
            _log.warning("insecure permissions accepted (--insecure-permissions): %s", problem)
        return
    raise InsecurePermissionsError(problems)
