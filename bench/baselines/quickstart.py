"""The pattern of Google's Live API quick-start script: the way most people first stream a microphone.

It follows `quickstarts/Get_started_LiveAPI.py` of google-gemini/cookbook as of commit fcaac01a (2026-05-28,
PR #1224): one asyncio loop, the microphone read in blocking 1024-frame chunks through `asyncio.to_thread`
into a queue of 5 that drops its oldest chunk when full, a task sending that queue with
`session.send_realtime_input(audio=Blob)`, received audio into an unbounded queue played by blocking writes
through `asyncio.to_thread`, the playback queue emptied on `server_content.interrupted` (its barge-in
handling), and no reconnection.

What differs from the original, and why:
- PyAudio's streams are the bench's simulated sound cards (`bench.devices`): the same clocked callback
  behind the same blocking calls, so both sides hear the same audio at the same pace and the callback
  reports the timestamps; the video, screen and text-input tasks are left out (the bench streams audio);
- the client points at the emulator (base URL, CA), with no voice, transcription or compression settings;
- the whole run is bounded by `duration_s`, and an ended session is reported instead of raised;
- `on_connected` tells the bench the session is up.
The bench adds no turn signal of its own: how many underruns a client had is decided from what its speaker
played (`bench.silences`), the same way for every client.
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
            payload = {"data": data, "mime_type": f"audio/pcm;rate={SEND_SAMPLE_RATE}"}
            try:  # the original drops the oldest chunk rather than wait, "to keep the audio stream real time"
                self.out_queue.put_nowait(payload)
            except asyncio.QueueFull:
                self.out_queue.get_nowait()
                self.out_queue.put_nowait(payload)

    async def send_realtime(self) -> None:
        from google.genai import types

        while True:
            msg = await self.out_queue.get()
            await self.session.send_realtime_input(audio=types.Blob(data=msg["data"], mime_type=msg["mime_type"]))

    async def receive_audio(self) -> None:
        # The turn's playback ends on `interrupted`, as in Google's own examples: the cookbook's
        # Get_started_LiveAPI.py (fcaac01a) empties `audio_in_queue` when `server_content.interrupted` is set,
        # and the SDK documents that flag as "a good signal to stop and empty the current queue" (google-genai
        # types.LiveServerContent.interrupted; js-genai's LiveServerContent says the same). The script's
        # earlier versions (and Get_started_LiveAPI_NativeAudio.py) emptied it when `receive()` ended instead,
        # trusting that "if you interrupt the model, it sends a turn_complete"; with this handling a
        # `turnComplete` after `interrupted` changes nothing, whether or not the server sends one.
        while True:
            async for response in self.session.receive():
                server_content = response.server_content
                if server_content is None:
                    continue
                if server_content.interrupted:
                    while not self.audio_in_queue.empty():
                        self.audio_in_queue.get_nowait()
                if server_content.model_turn:
                    for part in server_content.model_turn.parts or []:
                        if part.inline_data and part.inline_data.data:
                            self.audio_in_queue.put_nowait(part.inline_data.data)

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
