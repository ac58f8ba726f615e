"""A local Live API peer that the real google-genai client cannot tell from the service (see docs/emulator.md).

It never imports runtime.live: a misunderstanding shared by client and server would pass every test.
"""

from __future__ import annotations

from runtime.emulator.options import EmulatorOptions, Fault, load_faults
from runtime.emulator.scenario import Scenario, load_scenario, parse_scenario
from runtime.emulator.server import Emulator, serve
from runtime.emulator.thread import EmulatorThread

__all__ = [
    "Emulator",
    "EmulatorOptions",
    "EmulatorThread",
    "Fault",
    "Scenario",
    "load_faults",
    "load_scenario",
    "parse_scenario",
    "serve",
]
