"""Shared test set-up: anyio on asyncio, loopback never proxied, no time limit on a hypothesis example."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

# Hypothesis fails an example that takes over 200 ms (DeadlineExceeded, or Flaky when its replay is quick): a
# wall-clock judgement that a loaded CI machine can trip. A test that needs another setting still sets its own.
settings.register_profile("runtime", deadline=None)
settings.load_profile("runtime")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
