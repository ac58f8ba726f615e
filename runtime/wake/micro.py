"""microWakeWord's model step without the library's per-step Python costs (same scores, a fifth of the CPU).

`pymicro_wakeword.MicroWakeWord.process_streaming_prob` averages its sliding window with `statistics.mean`,
which converts every float to a `Fraction` to sum it exactly: in a profile of an idle `wake_word` agent
(`python -m bench.idle --profile`), `Fraction.__new__` alone was 29 % of the daemon's Python time, more than
the TFLite call. `MicroScores` runs the same steps on the engine's own interpreter and tensors — quantise
`stride` features, invoke, dequantise, average the last `sliding_window_size` probabilities — with a plain
float mean (equal to `statistics.mean` to 1e-12 for these windows) and an output buffer allocated once.
`tests/wake/test_models.py` checks the scores against the library's on spoken phrases.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np


class MicroScores:
    """A `ScoreSource` over a `MicroWakeWord` engine and a front end (its own or a shared one)."""

    def __init__(self, model: Any, features: Any) -> None:
        self._model = model
        self._features = features
        self._pending: list[Any] = []
        self._window: deque[float] = deque(maxlen=int(model.sliding_window_size))
        size = int(model.lib.TfLiteTensorByteSize(model.output_tensor)) // np.dtype(model.output_dtype).itemsize
        self._output = np.empty(size, model.output_dtype)

    def scores(self, pcm: bytes) -> Iterable[float]:
        for feature in self._features.process_streaming(pcm):
            score = self._step(feature)
            if score is not None:
                yield score

    def _step(self, feature: Any) -> float | None:
        """The library's `process_streaming_prob`, step for step (0.0 until the window is full)."""
        model = self._model
        if not model.interpreter or not model.model:
            return None
        self._pending.append(feature)
        if len(self._pending) < model.stride:
            return 0.0
        stacked = np.concatenate(self._pending, axis=1)
        self._pending.clear()
        quantised = np.round(stacked / model.input_scale + model.input_zero_point).astype(model.input_dtype)
        lib = model.lib
        lib.TfLiteTensorCopyFromBuffer(model.input_tensor, quantised.ctypes.data, quantised.nbytes)
        lib.TfLiteInterpreterInvoke(model.interpreter)
        output = self._output  # the output tensor's size does not change when the model is reloaded
        lib.TfLiteTensorCopyToBuffer(model.output_tensor, output.ctypes.data, output.nbytes)
        probability = (output.astype(np.float32) - model.output_zero_point) * model.output_scale
        self._window.append(probability.item())
        if len(self._window) < (self._window.maxlen or 1):
            return 0.0
        return sum(self._window) / len(self._window)

    def reset(self) -> None:
        self._features.reset()
        self._model.reset()  # reloads the interpreter: the model's streaming state starts afresh
        self._pending.clear()
        self._window.clear()

    def close(self) -> None:
        self._model.close()
