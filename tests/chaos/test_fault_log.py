"""The chaos rig's reading of the emulator's fault log lines."""

from __future__ import annotations

import logging

from runtime.emulator import Fault
from tests.chaos.rig import FaultLog


def line(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("runtime.emulator.session", logging.INFO, __file__, 1, message, args, None)


def test_a_close_fault_is_labelled_by_the_code_it_closed_with_on_whichever_connection_it_fired() -> None:
    """A `once` 1008 planned for connection 7 may fire on connection 8 (both reached its time together)."""
    log = FaultLog((Fault(action="close", at=1.0, code=1008, reason="Request violates a policy.", conn=7, once=True),
                    Fault(action="close", at=1.0, code=1011, conn=5)))
    log.emit(line("connection %d: injecting fault %s", 8, "close"))
    log.emit(line("connection %d: closed with %d %s", 8, 1008, "Request violates a policy."))
    log.emit(line("connection %d: injecting fault %s", 5, "close"))
    log.emit(line("connection %d: closed with %d %s", 5, 1011, "Internal error encountered."))
    log.emit(line("connection %d: injecting fault %s", 9, "drop"))
    assert [(e.conn, e.kind) for e in log.events] == [(8, "close 1008"), (5, "close 1011"), (9, "drop")]
    assert log.events[0].mono <= log.events[1].mono
