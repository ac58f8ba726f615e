"""Audio test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.audio.rig import LossyServer


@pytest.fixture
def lossy_server() -> Iterator[LossyServer]:
    from runtime.audio.keeper import refresh_device_list

    server = LossyServer()
    server.start()
    refresh_device_list()
    try:
        yield server
    finally:
        server.stop()
