"""The pattern of Google's Live API quick-start script: the way most people first stream a microphone.

It follows `Get_started_LiveAPI.py` from google-gemini/cookbook: one asyncio loop, the microphone read in
blocking 1024-frame chunks through `asyncio.to_thread`, a queue of 5 to `session.send_realtime_input`,
received audio into an unbounded queue, played by blocking writes through `asyncio.to_thread`, the queue
emptied when a turn ends (its only barge-in handling), and no reconnection.

What differs from the original, and why:
- PyAudio's streams are the bench's simulated sound cards (`bench.devices`): the same clocked callback
  behind the same blocking calls, so both sides hear the same audio at the same pace and the callback
  reports the timestamps;
- the client points at the emulator (base URL, CA), and the chunks carry the MIME rate;
- `speaker.end_of_turn()` after each turn is instrumentation only: it tells the simulated device that a
  short buffer is the end of speech rather than an underrun;
- the whole run is bounded by `duration_s`, and an ended session is reported instead of raised;
- `on_connected` tells the bench the session is up.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.devices import BlockingMic, BlockingSpeaker

CHUNK_SIZE = 1024
SEND_SAMPLE_RATE = 16_000


@dataclass
class Connection:
    """Where the baseline connects: the emulator's URL and CA, a model and a key."""

    base_url: str
    ca_file: str
    model: str = "gemini-2.5-flash-native-audio-preview-12-2025"
    api_key: str = "bench-key"


def make_client(connection: Connection) -> Any:
    from google import genai
    from google.genai import types

    context = ssl.create_default_context(cafile=connection.ca_file)
    options = types.HttpOptions(
        base_url=connection.base_url, api_version="v1beta", async_client_args={"ssl": context}
    )
    return genai.Client(api_key=connection.api_key, http_options=options)


class AudioLoop:
    """The quick-start's class, with its four tasks, as in the original."""

    def __init__(
        self,
        client: Any,
        model: str,
        mic: BlockingMic,
        speaker: BlockingSpeaker,
        on_connected: Callable[[], None] | None = None,
    ) -> None:
        self.client, self.model, self.on_connected = client, model, on_connected
        self.mic, self.speaker = mic, speaker
        self.audio_in_queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.out_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=5)
        self.session: Any = None

    async def listen_audio(self) -> None:
        while True:
            data = await asyncio.to_thread(self.mic.read, CHUNK_SIZE)
            await self.out_queue.put({"data": data, "mime_type": f"audio/pcm;rate={SEND_SAMPLE_RATE}"})

    async def send_realtime(self) -> None:
        while True:
            msg = await self.out_queue.get()
            await self.session.send_realtime_input(audio=msg)

    async def receive_audio(self) -> None:
        while True:
            turn = self.session.receive()
            async for response in turn:
                if data := response.data:
                    self.audio_in_queue.put_nowait(data)
                    continue
            # "If you interrupt the model, it sends a turn_complete. For interruptions to work, we need to
            # stop playback. So empty out the audio queue because it may have loaded much more audio than
            # has played yet." (the original's comment)
            while not self.audio_in_queue.empty():
                self.audio_in_queue.get_nowait()
            self.speaker.end_of_turn()

    async def play_audio(self) -> None:
        while True:
            bytestream = await self.audio_in_queue.get()
            await asyncio.to_thread(self.speaker.write, bytestream)

    async def run(self) -> None:
        from google.genai import types

        config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
        async with self.client.aio.live.connect(model=self.model, config=config) as session:
            self.session = session
            if self.on_connected is not None:  # instrumentation: the bench waits for every agent
                self.on_connected()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.send_realtime())
                tg.create_task(self.listen_audio())
                tg.create_task(self.receive_audio())
                tg.create_task(self.play_audio())


async def run_for(
    connection: Connection,
    mic: BlockingMic,
    speaker: BlockingSpeaker,
    duration_s: float,
    on_connected: Callable[[], None] | None = None,
) -> str:
    """Runs the loop on started devices for `duration_s`; returns "" or why the session ended early.

    The devices keep running after the session ends (the user keeps talking to a dead app)."""
    loop = AudioLoop(make_client(connection), connection.model, mic, speaker, on_connected)
    try:
        async with asyncio.timeout(duration_s):
            await loop.run()
    except TimeoutError:
        return ""
    except Exception as exc:  # the quick-start has no reconnection: any close ends it
        return describe(exc)
    return "session ended"


def describe(exc: BaseException) -> str:
    """One line per leaf exception of a (possibly nested) exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"[:200]
