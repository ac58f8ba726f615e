"""sd_notify messages, built without a socket; and the socket shell against a real datagram socket."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from runtime.daemon import systemd


def test_ready_carries_a_one_line_status() -> None:
    assert systemd.ready_message("2 agents:\n 2 running") == "READY=1\nSTATUS=2 agents: 2 running"


def test_reloading_carries_the_monotonic_clock() -> None:
    usec = systemd.monotonic_usec()
    assert abs(usec - time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000) < 1_000_000
    assert systemd.reloading_message("reloading", 42) == "RELOADING=1\nMONOTONIC_USEC=42\nSTATUS=reloading"


def test_stopping() -> None:
    assert systemd.stopping_message("bye").splitlines() == ["STOPPING=1", "STATUS=bye"]


def test_watchdog_interval_is_half_of_watchdog_usec_and_only_for_our_pid() -> None:
    assert systemd.watchdog_interval_s({"WATCHDOG_USEC": "30000000"}, 7) == 15.0
    assert systemd.watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 7) == 15.0
    assert systemd.watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"}, 7) is None
    assert systemd.watchdog_interval_s({}, 7) is None
    assert systemd.watchdog_interval_s({"WATCHDOG_USEC": "0"}, 7) is None
    assert systemd.watchdog_interval_s({"WATCHDOG_USEC": "junk"}, 7) is None


def test_abstract_socket_addresses() -> None:
    assert systemd.socket_address("@runtime/notify") == "\0runtime/notify"
    assert systemd.socket_address("/run/systemd/notify") == "/run/systemd/notify"


def test_notifier_without_notify_socket_does_nothing() -> None:
    notifier = systemd.Notifier.from_env({})
    assert not notifier.enabled and notifier.send("READY=1") is False


def test_notifier_sends_one_datagram_to_a_path_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)
        assert systemd.Notifier.from_env({"NOTIFY_SOCKET": str(path)}).send("READY=1\nSTATUS=ok")
        assert server.recv(4096) == b"READY=1\nSTATUS=ok"


def test_notifier_sends_to_an_abstract_socket() -> None:
    name = f"runtime-test-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(2)
        assert systemd.Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).send("WATCHDOG=1")
        assert server.recv(4096) == b"WATCHDOG=1"


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path) -> None:
    assert systemd.Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).send("READY=1") is False


def test_a_socket_nobody_reads_drops_messages_instead_of_blocking(tmp_path: Path) -> None:
    """systemd not reading: the datagram queue fills, and further sends return False at once."""
    path = tmp_path / "unread.sock"
    notifier = systemd.Notifier.from_env({"NOTIFY_SOCKET": str(path)})
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        started = time.monotonic()
        results = [notifier.send(f"STATUS=message {n}") for n in range(2000)]
        print(f"2000 sends to an unread socket took {time.monotonic() - started:.3f} s")
        assert results[0] is True
        assert False in results  # the queue filled: later messages were dropped, not waited on
        first_dropped = results.index(False)
        assert not any(results[first_dropped:])
        server.setblocking(False)
        assert server.recv(4096) == b"STATUS=message 0"
