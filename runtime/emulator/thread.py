"""Run an emulator on its own event loop in a background thread, for synchronous code and benchmarks."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from runtime.emulator.options import EmulatorOptions
from runtime.emulator.server import Emulator, serve


class EmulatorThread:
    """`with EmulatorThread(options) as emulator:` serves until the block ends."""

    def __init__(self, options: EmulatorOptions) -> None:
        self._options = options
        self._ready = threading.Event()
        self._emulator: Emulator | None = None
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="live-emulator", daemon=True)

    def __enter__(self) -> Emulator:
        self._thread.start()
        self._ready.wait()
        if self._emulator is None:
            raise RuntimeError(f"the emulator did not start: {self._error}") from self._error
        return self._emulator

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to the thread that waits in __enter__
            self._error = error
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._options) as emulator:
            self._emulator = emulator
            self._ready.set()
            await self._stop.wait()
