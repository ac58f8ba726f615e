"""Ephemeral tokens: `client.auth_tokens.create()` against the emulator, then a Constrained session."""

from __future__ import annotations

import datetime

import pytest
from google.genai import errors, types

from tests.emulator.helpers import ANY_MODEL, client_for, collect_until, emulating, text_of, turn_complete

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:The SDK.s")]

TEXT = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
"""Text replies: tokens are model-independent, tested on a model served with lenient rules (`ANY_MODEL`)."""


def token_config(uses: int = 1, **constraints: object) -> types.CreateAuthTokenConfig:
    now = datetime.datetime.now(tz=datetime.UTC)
    return types.CreateAuthTokenConfig(
        uses=uses,
        expire_time=now + datetime.timedelta(minutes=30),
        new_session_expire_time=now + datetime.timedelta(minutes=1),
        live_connect_constraints=types.LiveConnectConstraints(
            model=ANY_MODEL, config=types.LiveConnectConfig(**constraints)
        )
        if constraints
        else None,
        http_options=types.HttpOptions(api_version="v1alpha"),
    )


async def test_token_minted_with_the_key_opens_one_constrained_session() -> None:
    async with emulating(api_key="secret", accept_any_model=True) as emulator:
        owner = client_for(emulator, api_key="secret")
        token = await owner.aio.auth_tokens.create(config=token_config(uses=1))
        assert token.name and token.name.startswith("auth_tokens/")
        device = client_for(emulator, api_key=token.name, api_version="v1alpha")
        async with device.aio.live.connect(model=ANY_MODEL, config=TEXT) as session:
            await session.send_realtime_input(text="with a token")
            assert text_of(await collect_until(session, turn_complete)) == "You said: with a token"
        with pytest.raises(errors.APIError) as caught:
            async with device.aio.live.connect(model=ANY_MODEL, config=TEXT):
                pass
    assert caught.value.code == 1008
    assert "used too many times" in str(caught.value.details)
    paths = [e for e in emulator.records if "setup" in e["msg"]]
    assert len(paths) == 2


def test_sync_client_mints_tokens_and_a_wrong_key_is_refused() -> None:
    from runtime.emulator import EmulatorOptions, EmulatorThread

    with EmulatorThread(EmulatorOptions(api_key="secret")) as emulator:
        owner, stranger = client_for(emulator, api_key="secret"), client_for(emulator, api_key="wrong")
        token = owner.auth_tokens.create(config=token_config())
        assert token.name and token.name.startswith("auth_tokens/")
        with pytest.raises(errors.ClientError) as caught:
            stranger.auth_tokens.create(config=token_config())
    assert caught.value.code == 400


async def test_token_constraints_override_the_client_setup() -> None:
    async with emulating(accept_any_model=True) as emulator:
        config = token_config(response_modalities=[types.Modality.TEXT])
        owner = client_for(emulator)
        token = await owner.aio.auth_tokens.create(config=config)
        device = client_for(emulator, api_key=str(token.name), api_version="v1alpha")
        audio = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
        async with device.aio.live.connect(model=ANY_MODEL, config=audio) as session:
            await session.send_realtime_input(text="locked")
            assert text_of(await collect_until(session, turn_complete)) == "You said: locked"
