"""Test doubles for the style layer: a LiteRT-like interpreter, counting embedders, MusicCoCa folders."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.style.embedder import Embedder

if TYPE_CHECKING:
    from mrtd.control.state import ControlState

MUSICCOCA_FILES = (
    "spm.model",
    "text_encoder.tflite",
    "audio_preprocessor.tflite",
    "music_encoder.tflite",
    "pretrained_vector_quantizer.tflite",
)


def tensor(index: int, shape: tuple[int, ...], dtype: type, name: str = "", dynamic: bool = False) -> dict[str, Any]:
    """A tensor detail as LiteRT's get_input_details / get_output_details report it."""
    signature = np.array([-1 if dynamic and i == 0 else d for i, d in enumerate(shape)], dtype=np.int32)
    return {
        "name": name or f"tensor_{index}",
        "index": index,
        "shape": np.array(shape, dtype=np.int32),
        "shape_signature": signature,
        "dtype": dtype,
    }


class FakeInterpreter:
    """The small API of `ai_edge_litert.interpreter.Interpreter`, computing outputs with a Python function.

    `compute(inputs)` takes {input index: array} and returns a list of output arrays.
    Shapes are enforced as LiteRT does: set_tensor refuses a value of the wrong shape.
    """

    def __init__(self, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], compute: Callable[[dict[int, np.ndarray]], list[np.ndarray]]) -> None:
        self._inputs = inputs
        self._outputs = outputs
        self._compute = compute
        self._values: dict[int, np.ndarray] = {}
        self.invocations = 0
        self.allocations = 0
        self.resizes: list[tuple[int, list[int]]] = []
        self.history: list[dict[int, np.ndarray]] = []

    def allocate_tensors(self) -> None:
        self.allocations += 1

    def get_input_details(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self._inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self._outputs]

    def resize_tensor_input(self, input_index: int, tensor_size) -> None:
        self.resizes.append((input_index, list(tensor_size)))
        for detail in self._inputs:
            if detail["index"] == input_index:
                detail["shape"] = np.array(tensor_size, dtype=np.int32)

    def set_tensor(self, tensor_index: int, value: np.ndarray) -> None:
        detail = next(d for d in self._inputs if d["index"] == tensor_index)
        value = np.asarray(value)
        if tuple(value.shape) != tuple(int(s) for s in detail["shape"]):
            raise ValueError(f"Cannot set tensor: Dimension mismatch. Got {value.shape} but expected {tuple(detail['shape'])}")
        if value.dtype != np.dtype(detail["dtype"]):
            raise ValueError(f"Cannot set tensor: Got value of type {value.dtype} but expected {np.dtype(detail['dtype'])}")
        self._values[tensor_index] = value.copy()

    def invoke(self) -> None:
        self.invocations += 1
        self.history.append(dict(self._values))
        results = self._compute(self._values)
        for detail, result in zip(self._outputs, results):
            self._values[detail["index"]] = np.asarray(result)

    def get_tensor(self, tensor_index: int) -> np.ndarray:
        return self._values[tensor_index]


def ids_embedding(ids: np.ndarray, paddings: np.ndarray) -> np.ndarray:
    """A stand-in text encoder: a unit vector built from the unpadded ids."""
    vector = np.zeros(EMBEDDING_DIM, dtype=np.float32)
    for position, token in enumerate(ids.reshape(-1)[paddings.reshape(-1) == 0]):
        vector[(int(token) * 7 + position) % EMBEDDING_DIM] += 1.0
    return vector / np.linalg.norm(vector)


def text_encoder(ids_shape=(1, 128), paddings_shape=(1, 128), output_shape=(1, EMBEDDING_DIM), swap_order=False, dynamic=False) -> FakeInterpreter:
    ids = tensor(0, ids_shape, np.int32, "ids", dynamic)
    paddings = tensor(1, paddings_shape, np.float32, "paddings", dynamic)
    inputs = [paddings, ids] if swap_order else [ids, paddings]

    def compute(values: dict[int, np.ndarray]) -> list[np.ndarray]:
        embedding = ids_embedding(values[0], values[1])
        result = np.zeros(int(np.prod(output_shape)), dtype=np.float32)
        result[: min(EMBEDDING_DIM, result.size)] = embedding[: result.size]
        return [result.reshape(output_shape)]

    return FakeInterpreter(inputs, [tensor(5, output_shape, np.float32, "embedding")], compute)


def mapper(scale: float = 3.0) -> FakeInterpreter:
    """Maps (embedding, noise) to a non-unit vector, so the embedder must normalise it."""

    def compute(values: dict[int, np.ndarray]) -> list[np.ndarray]:
        return [scale * values[0] + 0.01 * values[1]]

    inputs = [tensor(0, (1, EMBEDDING_DIM), np.float32, "embedding"), tensor(1, (1, EMBEDDING_DIM), np.float32, "noise")]
    return FakeInterpreter(inputs, [tensor(2, (1, EMBEDDING_DIM), np.float32)], compute)


def audio_preprocessor(samples: int = 160_000, features: tuple[int, ...] = (1, 100, 8)) -> FakeInterpreter:
    def compute(values: dict[int, np.ndarray]) -> list[np.ndarray]:
        clip = values[0].reshape(-1)
        frames = clip[: (len(clip) // features[1]) * features[1]].reshape(features[1], -1)
        energy = np.sqrt(np.mean(frames**2, axis=1))
        return [np.repeat(energy[:, None], features[2], axis=1).reshape(features).astype(np.float32)]

    return FakeInterpreter([tensor(0, (1, samples), np.float32, "audio")], [tensor(3, features, np.float32)], compute)


def music_encoder(features: tuple[int, ...] = (1, 100, 8)) -> FakeInterpreter:
    def compute(values: dict[int, np.ndarray]) -> list[np.ndarray]:
        loudness = float(values[0].mean())
        vector = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        vector[0] = loudness
        vector[1] = 1.0
        return [vector.reshape(1, EMBEDDING_DIM)]

    return FakeInterpreter([tensor(0, features, np.float32, "features")], [tensor(4, (1, EMBEDDING_DIM), np.float32)], compute)


def quantizer(output_shape=(1, 12), input_shape=(1, EMBEDDING_DIM)) -> FakeInterpreter:
    def compute(values: dict[int, np.ndarray]) -> list[np.ndarray]:
        embedding = values[0].reshape(-1)
        tokens = (np.abs(embedding[: int(np.prod(output_shape))]) * 1000).astype(np.int32) % 1024
        result = np.zeros(int(np.prod(output_shape)), dtype=np.int32)
        result[: len(tokens)] = tokens
        return [result.reshape(output_shape)]

    return FakeInterpreter([tensor(0, input_shape, np.float32, "embedding")], [tensor(1, output_shape, np.int32, "tokens")], compute)


def factory_for(interpreters: dict[str, FakeInterpreter]) -> Callable[[Path], FakeInterpreter]:
    """An interpreter factory serving fakes by model file name, recording what was loaded."""

    def make(path: Path) -> FakeInterpreter:
        make.loaded.append(Path(path).name)
        return interpreters[Path(path).name]

    make.loaded = []
    return make


def make_musiccoca_dir(directory: Path, spm_model: Path | None = None, with_mapper: bool = False, skip: tuple[str, ...] = ()) -> Path:
    """A MusicCoCa folder with placeholder model files (a real spm.model when given)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in MUSICCOCA_FILES + (("mapper.tflite",) if with_mapper else ()):
        if name in skip:
            continue
        if name == "spm.model" and spm_model is not None:
            (directory / name).write_bytes(spm_model.read_bytes())
        else:
            (directory / name).write_bytes(f"placeholder {name}".encode())
    return directory


class CountingEmbedder(Embedder):
    """Counts encoder calls; embeds text (and audio) deterministically."""

    def __init__(self, identity: str = "counting-v1", delay: threading.Event | None = None) -> None:
        self._identity = identity
        self.text_calls = 0
        self.audio_calls = 0
        self.threads: list[int] = []
        self._gate = delay
        self.started = threading.Event()  # set when an encode begins (before any gate)

    @property
    def identity(self) -> str:
        return self._identity

    def embed_text(self, text: str) -> np.ndarray:
        self.threads.append(threading.get_ident())
        self.started.set()
        if self._gate is not None:
            self._gate.wait(10)
        self.text_calls += 1
        if text == "boom":
            raise RuntimeError("encoder exploded")
        rng = np.random.default_rng(int.from_bytes(hashlib.blake2b(text.encode()).digest()[:8], 'little'))
        vector = rng.standard_normal(EMBEDDING_DIM).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        self.audio_calls += 1
        vector = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        vector[0] = float(np.abs(samples).mean())
        vector[1] = sample_rate / 48_000
        return vector


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(EMBEDDING_DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def builtin_control() -> "ControlState":
    """A control state on the built-in style pair, as the daemon builds one without MusicCoCa."""
    from mrtd.control.state import ControlState
    from mrtd.style.quantizer import BuiltinQuantizer
    from mrtd.style.space import StyleSpace

    return ControlState(StyleSpace(BuiltinQuantizer()))
