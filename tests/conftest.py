"""Shared test set-up: anyio on asyncio, loopback never proxied."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
