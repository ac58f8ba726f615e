"""`python -m bench --setup-baselines`: the Pipecat baseline's own virtual environment, made by one command.

Pipecat cannot share the runtime's environment: pipecat-ai 1.14.0 requires google-genai <3 and the runtime
pins 3.3. So the bench keeps a venv of its own under `bench/.baselines/` (ignored by git), with pipecat-ai and
google-genai pinned here and every other package held to `pipecat-constraints.txt` (the `pip freeze` of the
environment the published figures came from), and runs the Pipecat client with its interpreter. The venv
records the pins it was made with, so a stale one is refused with the command that renews it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / "bench" / ".baselines" / "pipecat"
REQUIREMENTS = ("pipecat-ai[google,local]==1.14.0", "google-genai==2.34.0")
"""Pipecat's Gemini Live service and local audio transport, and the newest google-genai it accepts (<3)."""
CONSTRAINTS = Path(__file__).with_name("pipecat-constraints.txt")
STAMP = "bench-pins.json"
"""Written into the venv once it is verified: the pins it was made with."""
PORTAUDIO_HEADERS = ("/usr/include/portaudio.h", "/usr/local/include/portaudio.h", "/opt/homebrew/include/portaudio.h")
SETUP_COMMAND = "python -m bench --setup-baselines"
CHECK_IMPORTS = (
    "import importlib.metadata as m, pyaudio; "
    "from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService; "
    "from pipecat.transports.local.audio import LocalAudioTransport; "
    "print(m.version('pipecat-ai'), m.version('google-genai'))"
)


class SetupError(Exception):
    """The Pipecat environment could not be made; the message says what is missing and how to get it."""


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def missing_system_packages(
    which: Callable[[str], str | None] = shutil.which, exists: Callable[[str], bool] = os.path.exists
) -> list[str]:
    """What PyAudio's build from source needs and this machine lacks (Debian package, what it is for).

    PyAudio has no Linux wheels: pip compiles it against PortAudio's headers with the interpreter's own."""
    missing: list[str] = []
    if not any(which(compiler) for compiler in ("cc", "gcc")):
        missing.append("gcc (a C compiler, to build PyAudio)")
    if not any(exists(header) for header in PORTAUDIO_HEADERS):
        missing.append("portaudio19-dev (PortAudio's headers, to build PyAudio)")
    if not exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        missing.append(f"python3-dev (Python.h for {sys.executable}, to build PyAudio)")
    try:
        import ensurepip  # noqa: F401  (Debian ships it in python3-venv)
    except ImportError:
        missing.append("python3-venv (to make the virtual environment)")
    return missing


def missing_packages_message(missing: list[str]) -> str:
    """The error that names each missing package, why it is needed, and the one command that installs all."""
    names = " ".join(entry.split()[0] for entry in missing)
    return (
        "missing system packages: " + "; ".join(missing) + ".\n  Install them (Debian, Raspberry Pi OS): "
        f"sudo apt-get install -y {names}\n  then run `{SETUP_COMMAND}` again."
    )


def pins_of(venv: Path = VENV) -> list[str] | None:
    """The pins a verified venv was made with (None: not made, or not finished)."""
    try:
        pins = json.loads((venv / STAMP).read_text()).get("requirements")
    except (OSError, ValueError):
        return None
    return [str(pin) for pin in pins] if isinstance(pins, list) else None


def stale_reason(venv: Path = VENV) -> str | None:
    """Why the bench cannot use the venv as it is (None: it can)."""
    pins = pins_of(venv)
    if not venv_python(venv).exists() or pins is None:
        return f"no Pipecat environment at {venv}: run `{SETUP_COMMAND}` (see bench/README.md)"
    if pins != list(REQUIREMENTS):
        return f"the Pipecat environment was made for {', '.join(pins)}: run `{SETUP_COMMAND}` to renew it"
    return None


def describe() -> str:
    """What the Pipecat client runs with, for the report: the venv's pins and versions, or the override."""
    override = os.environ.get("BENCH_PIPECAT_PYTHON")
    if override:
        return f"{override} (BENCH_PIPECAT_PYTHON, not the pinned environment)"
    try:
        versions = str(json.loads((VENV / STAMP).read_text()).get("versions", "?"))
    except (OSError, ValueError):
        return "not set up"
    pipecat_version, _, genai_version = versions.partition(" ")
    return f"pipecat-ai {pipecat_version}, google-genai {genai_version} ({SETUP_COMMAND})"


def run_step(command: list[str], what: str) -> str:
    """Runs one step, echoing nothing; on failure raises with the last lines of its output."""
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PIP_NO_INPUT="1"))
    if done.returncode != 0:
        tail = "\n    ".join((done.stdout + done.stderr).strip().splitlines()[-12:])
        raise SetupError(f"{what} failed (exit {done.returncode}):\n    {tail}")
    return done.stdout


def setup(venv: Path = VENV, say: Callable[[str], None] = print) -> str:
    """Makes (or renews) the venv, installs the pins, checks that Pipecat's pieces import; returns versions."""
    missing = missing_system_packages()
    if missing:
        raise SetupError(missing_packages_message(missing))
    say(f"making {venv} with {sys.executable}")
    if venv.exists():
        shutil.rmtree(venv)
    run_step([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    pip = [str(venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    say("installing " + ", ".join(REQUIREMENTS) + f" (others held to {CONSTRAINTS.name}); PyAudio builds from source")
    run_step([*pip, "-c", str(CONSTRAINTS), *REQUIREMENTS], "pip install")
    versions = run_step([str(venv_python(venv)), "-c", CHECK_IMPORTS], "importing Pipecat's Gemini Live pieces").strip()
    (venv / STAMP).write_text(json.dumps({"requirements": list(REQUIREMENTS), "versions": versions}) + "\n")
    return versions


def main() -> int:
    """The `--setup-baselines` command: exit 0 with the versions, or 1 with what to do."""
    try:
        versions = setup()
    except SetupError as error:
        print(f"bench: cannot set up the Pipecat baseline: {error}", file=sys.stderr)
        return 1
    print(f"Pipecat baseline ready in {VENV}: pipecat-ai, google-genai = {versions}")
    return 0
