"""The emulator answers the SDK's model listing (`client.aio.models.list()`) as the service does: pages,
`supported_actions`, the catalogue's models that are not shut down, and a refused key."""

from __future__ import annotations

import pytest
from google.genai import errors

from runtime.agentfile import catalogue
from tests.emulator.helpers import client_for, emulating

pytestmark = pytest.mark.anyio


async def test_the_sdk_pages_through_the_catalogue_s_live_models() -> None:
    async with emulating() as emulator:
        client = client_for(emulator)
        pager = await client.aio.models.list(config={"page_size": 3})
        assert len(pager.page) == 3
        listed = {model.name: model async for model in pager}
    live = {name.removeprefix("models/") for name, model in listed.items()
            if "bidiGenerateContent" in (model.supported_actions or [])}
    models = catalogue.current()
    assert set(models.ids("current")) <= live
    assert not live & set(models.ids("shut_down")), "the service no longer offers shut-down models"
    assert live - set(models.models), "the listing holds Live models the catalogue does not describe"
    assert "generateContent" in (listed["models/gemini-3.8-flash"].supported_actions or [])
    model = listed["models/gemini-3.8-live"]
    assert (model.input_token_limit, model.output_token_limit) == (131072, 65536)


async def test_a_listing_without_page_size_holds_fifty_models_a_page() -> None:
    async with emulating() as emulator:
        pager = await client_for(emulator).aio.models.list()
        assert len(pager.page) == min(50, len([model async for model in pager]))


async def test_a_wrong_key_is_refused_like_the_service_refuses_it() -> None:
    async with emulating(api_key="right") as emulator:
        with pytest.raises(errors.ClientError) as refused:
            await client_for(emulator, api_key="wrong").aio.models.list()
    assert refused.value.code == 400
    assert refused.value.message == "API key not valid. Please pass a valid API key."
