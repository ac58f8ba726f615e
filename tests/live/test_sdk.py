"""The one module that touches google-genai's internals: its start-up check, and the internals at work."""

from __future__ import annotations

import os
import tomllib
import types as pytypes
from pathlib import Path

import anyio
import pytest
from google import genai
from google.genai import _live_converters, errors, live, types

from runtime.live import sdk
from tests.emulator.helpers import live as live_session

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_sdk_passes_the_check_and_is_in_the_supported_range() -> None:
    version = sdk.check_sdk()
    assert version == genai.__version__ == os.environ.get("RUNTIME_SDK_UNDER_TEST", version)  # sdk_matrix.sh
    major, minor = (int(part) for part in version.split(".")[:2])
    assert sdk.SUPPORTED_SDK_MIN <= (major, minor) < sdk.SUPPORTED_SDK_BELOW


def test_the_supported_range_is_the_pin_in_pyproject() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"google-genai{sdk.SUPPORTED_SDK}" in dependencies
    low, high = sdk.SUPPORTED_SDK.split(",")
    assert low == ">={}.{}".format(*sdk.SUPPORTED_SDK_MIN) and high == "<{}.{}".format(*sdk.SUPPORTED_SDK_BELOW)


def real_modules() -> sdk.SdkModules:
    return sdk.SdkModules(genai, live, types, errors, _live_converters)


def test_every_internal_is_where_the_check_looks() -> None:
    assert sdk.missing_internals(real_modules()) == []


class SessionWithoutSocket:
    """An `AsyncSession` of an imagined release that renamed `_ws`."""

    def __init__(self, api_client: object, websocket: object) -> None:
        self._api_client = api_client
        self.websocket = websocket


def test_a_missing_internal_is_named_with_the_supported_range() -> None:
    imagined = sdk.SdkModules(
        genai=pytypes.SimpleNamespace(__version__="9.0.0", Client=genai.Client),
        live=pytypes.SimpleNamespace(AsyncSession=SessionWithoutSocket),
        types=types,
        errors=errors,
        live_converters=None,
    )
    problems = sdk.missing_internals(imagined)
    assert problems == ["google.genai.live.AsyncSession._ws", "google.genai._live_converters"]
    message = sdk.mismatch_message(imagined.version, problems)
    assert message.startswith("google-genai 9.0.0 lacks google.genai.live.AsyncSession._ws; google.genai._live_conv")
    assert f"pip install 'google-genai{sdk.SUPPORTED_SDK}'" in message
    assert issubclass(sdk.SdkMismatch, sdk.FatalSessionError), "the supervisor parks it instead of retrying"


@pytest.mark.anyio
async def test_the_fast_paths_find_the_socket_of_a_real_session_and_abort_drops_it() -> None:
    async with live_session(types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])) as (_, session):
        socket = sdk.raw_socket(session)
        assert socket is not None
        sdk.abort(session)
        with anyio.fail_after(10), pytest.raises(errors.APIError) as closed:
            await sdk.recv_frame(socket)
        assert closed.value.code == 1006
