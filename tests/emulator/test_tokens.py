"""Ephemeral tokens: `client.auth_tokens.create()` against the emulator, then a Constrained session."""

from __future__ import annotations

import datetime
import logging

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


def locked_config(lock_additional_fields: list[str] | None, **constraints: object) -> types.CreateAuthTokenConfig:
    config = token_config(**constraints)
    return config.model_copy(update={"lock_additional_fields": lock_additional_fields})


async def test_a_token_locked_to_a_model_opens_its_session_on_that_model_whatever_the_client_asks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.emulator")
    async with emulating(accept_any_model=True) as emulator:
        owner = client_for(emulator)
        token = await owner.aio.auth_tokens.create(
            config=locked_config([], response_modalities=[types.Modality.TEXT], temperature=0.2))
        device = client_for(emulator, api_key=str(token.name), api_version="v1alpha")
        asked = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO], temperature=1.5,
                                        session_resumption=types.SessionResumptionConfig())
        async with device.aio.live.connect(model="another-live-model", config=asked) as session:
            await session.send_realtime_input(text="locked")
            messages = await collect_until(session, turn_complete)
            handles = await collect_until(session, lambda m: m.session_resumption_update is not None)
    assert text_of(messages) == "You said: locked"  # TEXT, as locked, although the client asked for AUDIO
    set_up = [r.getMessage() for r in caplog.records if "session set up for" in r.getMessage()]
    assert set_up == [f"connection 1: session set up for models/{ANY_MODEL}"]
    # sessionResumption is not in the fieldMask: the client's own choice stands, and a handle comes back
    assert handles[-1].session_resumption_update and handles[-1].session_resumption_update.new_handle


def test_a_field_mask_locks_the_fields_it_names_and_leaves_the_others_to_the_client() -> None:
    from runtime.emulator.config import merge_setup

    client = {"model": "models/b", "generationConfig": {"temperature": 1.5, "topK": 3},
              "sessionResumption": {"handle": "h"}, "systemInstruction": {"parts": [{"text": "mine"}]}}
    locked = {"model": "models/a", "generationConfig": {"responseModalities": ["TEXT"]}}
    masked = merge_setup(client, locked, ("model", "generationConfig.responseModalities",
                                          "generationConfig.temperature"))
    assert masked == {"model": "models/a", "generationConfig": {"responseModalities": ["TEXT"], "topK": 3},
                      "sessionResumption": {"handle": "h"}, "systemInstruction": {"parts": [{"text": "mine"}]}}
    assert merge_setup(client, locked, None) == locked  # no fieldMask: the whole setup is the token's
    assert merge_setup(client, {}, None) == client  # no constraints: nothing is locked
    assert merge_setup(client, {"generationConfig": {"topK": 1}}, None)["model"] == "models/b"
