"""A real process that talks to the emulator with a canary API key while everything logs at DEBUG.

`python tests/security/canary_client.py KEY accepted|rejected redact|plain`: the test reads this process's
stderr and stdout. With `plain` the key is expected to show up (websockets logs request headers at DEBUG),
which proves the capture would see a leak; with `redact` it must not.
"""

from __future__ import annotations

import logging
import sys

import anyio
from google import genai
from google.genai import types

from runtime.emulator import EmulatorOptions, serve
from runtime.guards.redact import SECRETS, install_logging_filter, redact_exception

MODEL = "gemini-3.8-live"


async def talk(key: str, accepted: bool, redact: bool) -> None:
    options = EmulatorOptions(api_key=key if accepted else "another-key-entirely")
    async with serve(options) as emulator:
        trust = emulator.client_ssl_context()
        client = genai.Client(
            api_key=key,
            http_options=types.HttpOptions(
                base_url=emulator.base_url, api_version="v1beta", async_client_args={"ssl": trust, "verify": trust}
            ),
        )
        config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])  # current models only speak
        try:
            with anyio.fail_after(20):
                async with client.aio.live.connect(model=MODEL, config=config) as session:
                    await session.send_realtime_input(text=f"my key is {key}")
                    async for message in session.receive():
                        logging.getLogger("canary").debug("received %r", message)
        except Exception as exc:
            logging.getLogger("canary").exception("live session failed with key %s", key)
            print(redact_exception(exc) if redact else repr(exc))
        else:
            print("session completed")


def main() -> None:
    key, outcome, mode = sys.argv[1:4]
    redact = mode == "redact"
    if redact:
        SECRETS.add(key)
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    if redact:
        install_logging_filter()
    anyio.run(talk, key, outcome == "accepted", redact)


if __name__ == "__main__":
    main()
