"""Running the real `runtime doctor` in a subprocess, with a clean environment and no way to the internet."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

CANARY_KEY = "canary-key-Q7zX41mN0pLr"
CANARY_TEXT = "CANARY-TEXT-5d1f9a"
CANARY_ARG = "CANARY-ARG-88b2"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any key, token URL or base URL of the machine running the tests."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "CREDENTIALS_DIRECTORY", "RUNTIME_BASE_URL",
                           "RUNTIME_CA_FILE", "RUNTIME_TOKEN_URL", "RUNTIME_TOKEN_BEARER", "RUNTIME_AGENTS",
                           "RUNTIME_TOKEN_CREDENTIAL_FILE", "RUNTIME_TOKEN_CA_FILE")}
    env.update(extra)
    return env


def run_doctor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtime", "doctor", *args], capture_output=True, text=True,
                          timeout=180, env=env, check=False)


def checks_of(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """`--json` output: check name -> check."""
    document = json.loads(result.stdout)
    return {check["name"]: check for check in document["checks"]}


def write_agent(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(body)
    return path
