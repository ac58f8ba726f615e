"""Which Live endpoint the agents talk to: Google's service, or the emulator started in this process.

`auto` (the default outside systemd) picks Gemini when a key or token URL is configured, otherwise the
built-in emulator, and says so loudly: a user who forgot the key must not think they talk to Gemini.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, TextIO

from runtime.errors import AgentRuntimeError
from runtime.live.endpoint import Endpoint

log = logging.getLogger(__name__)

Backend = Literal["auto", "gemini", "emulator"]

EMULATOR_KEY = "emulator-local-key"
"""Any key works with an emulator started without `--api-key`; this one only tells the logs what it is."""


class BackendError(AgentRuntimeError):
    """The requested backend cannot be used (no key for Gemini, a bad emulator file)."""


@dataclass(frozen=True)
class BackendOptions:
    backend: Backend = "auto"
    base_url: str | None = None
    ca_file: Path | None = None
    token_url: str | None = None
    scenario: Path | None = None
    """Emulator scenario; the bundled demo scenario when empty."""
    faults: Path | None = None
    """Emulator faults (testing the daemon's recovery)."""


def choose_backend(requested: Backend, has_credentials: bool) -> Literal["gemini", "emulator"]:
    if requested == "auto":
        return "gemini" if has_credentials else "emulator"
    return requested


def bundled(name: str) -> Path:
    """A file shipped in `runtime/data/` (the demo request and scenario)."""
    return Path(str(resources.files("runtime") / "data" / name))


EMULATOR_BANNER = """\
================================================================================
  NO GEMINI API KEY: the agents talk to the BUILT-IN EMULATOR, not to Gemini.
  Its replies are scripted ({scenario}); nothing leaves this machine.
  To use Gemini: export GEMINI_API_KEY=... (or --backend gemini, --token-url URL)
================================================================================"""


@dataclass(frozen=True)
class ActiveBackend:
    endpoint: Endpoint
    in_process: bool
    """The emulator runs in this process: its sessions (and resumption handles) die with it."""


@contextlib.asynccontextmanager
async def open_endpoint(options: BackendOptions, *, banner: TextIO | None = None) -> AsyncIterator[ActiveBackend]:
    """The endpoint every session uses; an in-process emulator lives exactly as long as the block."""
    endpoint = Endpoint.from_env(base_url=options.base_url, ca_file=options.ca_file, token_url=options.token_url)
    backend = choose_backend(options.backend, endpoint.has_credentials())
    if backend == "gemini":
        if not endpoint.has_credentials():
            raise BackendError(
                "--backend gemini needs a key: set GEMINI_API_KEY, a systemd credential named gemini-api-key "
                "(LoadCredential=), or --token-url"
            )
        log.info("backend: gemini%s", f" at {endpoint.base_url}" if endpoint.base_url else "")
        yield ActiveBackend(endpoint, in_process=False)
        return
    from runtime.emulator import EmulatorOptions, load_faults, serve

    scenario = options.scenario or bundled("demo-scenario.yaml")
    faults = load_faults(options.faults) if options.faults else ()
    # keep_history=False: a daemon runs for months; the emulator must not keep every frame it received.
    async with serve(EmulatorOptions(port=0, scenario=scenario, faults=faults, keep_history=False)) as emulator:
        if options.backend == "auto":
            print(EMULATOR_BANNER.format(scenario=scenario.name), file=banner or sys.stderr, flush=True)
        log.warning("backend: built-in emulator at %s (scenario %s)", emulator.base_url, scenario)
        yield ActiveBackend(
            Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key=EMULATOR_KEY), in_process=True
        )
