"""Wake-word detectors: 16 kHz int16 audio in, detections with a score out, entirely on the device.

Two backends sit behind one `WakeDetector` protocol: microWakeWord (`pymicro-wakeword`, the default:
~50–80 KB models, one small TFLite call every 30 ms) and openWakeWord (`pyopen-wakeword`: a shared
melspectrogram + embedding front end, then a per-word classifier every 80 ms). Both wheels carry their
models and the TFLite runtime, so nothing is fetched at run time. Threshold and refractory period are
applied here, identically for every backend, in audio time (frames fed), never wall time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runtime.agentfile.spec import WakeWord
from runtime.audio.ports import MIC_RATE_HZ, SAMPLE_BYTES
from runtime.errors import Location, RuntimeConfigError
from runtime.wake.lifecycle import block_dbfs
from runtime.wake.micro import MicroScores
from runtime.wake.pregate import EnergyPreGate

log = logging.getLogger(__name__)

BUNDLED_MODELS = ("okay_nabu", "hey_jarvis", "alexa", "hey_mycroft")
"""Models shipped inside both wheels (openWakeWord also has `hey_rhasspy`)."""

NO_LOCATION = Location("<wake>")
"""Errors about a detector built outside an agent file."""

OPEN_DEFAULT_THRESHOLD = 0.5
"""openWakeWord's documented default cutoff; its models carry no recommended value."""


@dataclass(frozen=True)
class Detection:
    """The wake word was heard."""

    model: str
    """Model name (bundled name or the file stem of a custom model)."""
    score: float
    """The probability that crossed the threshold (0–1)."""
    at_s: float
    """Audio time of the detection: seconds of audio fed to the detector up to the end of that block."""


class WakeDetector(Protocol):
    """Feed microphone blocks of any size; get the detections they complete."""

    model: str
    """The model's name, for logs and `STATUS=`."""

    def process(self, pcm: bytes, level_dbfs: float | None = None) -> list[Detection]:
        """Analyse 16 kHz mono int16 little-endian audio (any length, even an odd split of a block);
        `level_dbfs`: the block's level when the caller has it (`lifecycle.block_dbfs`), to save measuring."""
        ...

    def reset(self) -> None:
        """Forget everything heard so far (called when listening starts again after a conversation)."""
        ...

    def close(self) -> None:
        """Release the TFLite interpreters; safe to call twice."""
        ...


class ScoreSource(Protocol):
    """A backend's raw output: one probability per model step, for the audio given."""

    def scores(self, pcm: bytes) -> Iterable[float]: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


class ThresholdDetector:
    """Turns a stream of scores into detections: threshold, then a refractory period in audio time.

    `pregate` (on by default) keeps the model from running while the room is silent (`pregate.py`).
    """

    def __init__(
        self,
        model: str,
        source: ScoreSource,
        threshold: float,
        refractory_s: float,
        pregate: EnergyPreGate | None = None,
    ) -> None:
        self.model = model
        self.threshold = threshold
        self.refractory_s = refractory_s
        self.pregate = pregate
        self._source = source
        self._frames = 0
        self._quiet_until_s = 0.0
        self._odd_byte = b""

    def process(self, pcm: bytes, level_dbfs: float | None = None) -> list[Detection]:
        pcm = self._odd_byte + pcm
        usable = len(pcm) - len(pcm) % SAMPLE_BYTES
        pcm, self._odd_byte = pcm[:usable], pcm[usable:]
        self._frames += usable // SAMPLE_BYTES
        now_s = self._frames / MIC_RATE_HZ
        if self.pregate is not None and pcm:
            admitted = self.pregate.admit(pcm, block_dbfs(pcm) if level_dbfs is None else level_dbfs)
            if admitted.resumed:
                self._source.reset()
            pcm = admitted.audio
        detections: list[Detection] = []
        if not pcm:  # skipped, or an odd byte kept for the next block (openWakeWord fails on no audio)
            return detections
        for score in self._source.scores(pcm):
            if score > self.threshold and now_s >= self._quiet_until_s:
                detections.append(Detection(self.model, float(score), now_s))
                self._quiet_until_s = now_s + self.refractory_s
                log.info("wake word %s detected (score %.2f, threshold %.2f)", self.model, score, self.threshold)
        return detections

    def reset(self) -> None:
        self._source.reset()
        self._odd_byte = b""
        if self.pregate is not None:
            self.pregate.reset()

    def close(self) -> None:
        self._source.close()


class _OpenScores:
    """openWakeWord: shared melspectrogram and embedding models, then the word's classifier."""

    def __init__(self, model: Any, features: Any) -> None:
        self._model = model
        self._features = features

    def scores(self, pcm: bytes) -> Iterable[float]:
        for embedding in self._features.process_streaming(pcm):
            for score in self._model.process_streaming(embedding):
                yield float(score)

    def reset(self) -> None:
        self._features.reset()
        self._model.reset()

    def close(self) -> None:
        self._model.close()
        self._features.close()


def _missing_backend(package: str, where: Location) -> RuntimeConfigError:
    return RuntimeConfigError(
        where,
        f"the wake-word backend needs the `{package}` package",
        hint="install the extra: pip install 'live-agent-runtime[wake]'",
    )


def _custom_path(model: str, suffixes: tuple[str, ...], where: Location) -> Path:
    path = Path(model).expanduser()
    if path.suffix not in suffixes:
        raise RuntimeConfigError(
            where,
            f"unknown wake-word model {model!r}",
            hint=f"use one of {', '.join(BUNDLED_MODELS)} or the path of a {' or '.join(suffixes)} file",
        )
    if not path.is_file():
        raise RuntimeConfigError(where, f"wake-word model file {str(path)!r} does not exist")
    return path


def MicroWakeDetector(
    model: str = "okay_nabu",
    threshold: float | None = None,
    refractory_s: float = 2.0,
    where: Location = NO_LOCATION,
    features: Any = None,
    pregate: bool = True,
) -> ThresholdDetector:
    """A microWakeWord detector: a bundled name, a `.json` model manifest, or a bare `.tflite` file.

    `threshold=None` uses the model's own `probability_cutoff` (0.85–0.97 for the bundled models).
    `features`: a front end shared with other detectors (`frontend.py`); its own when None.
    """
    try:
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
    except ImportError as exc:
        raise _missing_backend("pymicro-wakeword", where) from exc
    if model in BUNDLED_MODELS:
        engine = MicroWakeWord.from_builtin(Model(model))
    else:
        path = _custom_path(model, (".json", ".tflite"), where)
        is_manifest = path.suffix == ".json"
        engine = MicroWakeWord.from_config(path) if is_manifest else _micro_bare_model(path, threshold)
    cutoff = float(engine.probability_cutoff) if threshold is None else threshold
    source = MicroScores(engine, features or MicroWakeWordFeatures())
    return ThresholdDetector(str(engine.id), source, cutoff, refractory_s, EnergyPreGate() if pregate else None)


def _micro_bare_model(tflite: Path, threshold: float | None) -> Any:
    """A bare microWakeWord `.tflite` (no `.json` manifest): the library's usual window, cutoff 0.9."""
    import pymicro_wakeword
    from pymicro_wakeword import MicroWakeWord

    library = next((Path(pymicro_wakeword.__file__).parent / "lib").glob("*tensorflowlite_c.*"))
    return MicroWakeWord(
        tflite.stem,
        wake_word=tflite.stem,
        tflite_model=tflite,
        probability_cutoff=0.9 if threshold is None else threshold,
        sliding_window_size=5,
        trained_languages=[],
        libtensorflowlite_c_path=library,
    )


def OpenWakeDetector(
    model: str = "okay_nabu",
    threshold: float | None = None,
    refractory_s: float = 2.0,
    where: Location = NO_LOCATION,
    features: Any = None,
    pregate: bool = True,
) -> ThresholdDetector:
    """An openWakeWord detector: a bundled name or a `.tflite` classifier (the feature models are bundled);
    `features`: a front end shared with other detectors (`frontend.py`), its own when None."""
    try:
        from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures
    except ImportError as exc:
        raise _missing_backend("pyopen-wakeword", where) from exc
    if model in (*BUNDLED_MODELS, "hey_rhasspy"):
        engine = OpenWakeWord.from_builtin(Model(model))
    else:
        engine = OpenWakeWord.from_model(_custom_path(model, (".tflite",), where))
    cutoff = OPEN_DEFAULT_THRESHOLD if threshold is None else threshold
    source = _OpenScores(engine, features or OpenWakeWordFeatures.from_builtin())
    return ThresholdDetector(str(engine.id), source, cutoff, refractory_s, EnergyPreGate() if pregate else None)


def load_detector(
    wake: WakeWord,
    where: Location = NO_LOCATION,
    base_dir: Path | None = None,
    features_for: Callable[[str], Any] | None = None,
) -> ThresholdDetector:
    """The detector an agent file asks for; an empty `threshold` means the model's recommended cutoff.

    A relative model path is read from `base_dir` (the agent file's folder). `features_for(backend)` gives
    a front end shared with the other agents on the microphone, or None (`frontend.shared_features_for`).
    """
    model = wake.model
    if base_dir is not None and model not in BUNDLED_MODELS and not Path(model).expanduser().is_absolute():
        model = str(base_dir / model)
    factory = MicroWakeDetector if wake.backend == "micro" else OpenWakeDetector
    features = features_for(wake.backend) if features_for is not None else None
    return factory(model, wake.threshold, wake.refractory_s, where, features)
