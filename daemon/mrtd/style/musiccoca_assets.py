"""MusicCoCa's asset folder and the LiteRT (TFLite) interpreters that run its models.

Shared by the MusicCoCa embedder and the MusicCoCa quantizer. The folder is
`$MAGENTA_HOME/magenta-rt-v2/resources/musiccoca/` (MAGENTA_HOME defaults to
~/Documents/Magenta). `ai-edge-litert` and `sentencepiece` are an optional
extra, imported only when a model is loaded.

Interpreters come from a factory (a callable taking the model path), so tests
can inject an object with LiteRT's Interpreter API instead of a real model.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM

EXTRA_NAME = "musiccoca"
INSTALL_HINT = f'pip install "mrtd[{EXTRA_NAME}]" (ai-edge-litert and sentencepiece)'

TOKENIZER_FILE = "spm.model"
TEXT_ENCODER_FILE = "text_encoder.tflite"
AUDIO_PREPROCESSOR_FILE = "audio_preprocessor.tflite"
MUSIC_ENCODER_FILE = "music_encoder.tflite"
QUANTIZER_FILE = "pretrained_vector_quantizer.tflite"
MAPPER_FILE = "mapper.tflite"  # optional
EMBEDDER_FILES = (TOKENIZER_FILE, TEXT_ENCODER_FILE, AUDIO_PREPROCESSOR_FILE, MUSIC_ENCODER_FILE)


class Interpreter(Protocol):
    """The part of `ai_edge_litert.interpreter.Interpreter` this package uses."""

    def allocate_tensors(self) -> None: ...
    def get_input_details(self) -> list[dict[str, Any]]: ...
    def get_output_details(self) -> list[dict[str, Any]]: ...
    def resize_tensor_input(self, input_index: int, tensor_size: Sequence[int]) -> None: ...
    def set_tensor(self, tensor_index: int, value: np.ndarray) -> None: ...
    def invoke(self) -> None: ...
    def get_tensor(self, tensor_index: int) -> np.ndarray: ...


InterpreterFactory = Callable[[Path], Interpreter]


class MissingExtraError(ImportError):
    """An optional dependency of MusicCoCa is not installed."""


class MissingAssetError(FileNotFoundError):
    """MusicCoCa model files are missing; the message names each one."""


class InvalidModelError(ValueError):
    """A model file that LiteRT cannot load (damaged, or not a TFLite model)."""


class ModelShapeError(ValueError):
    """A model file's inputs or outputs are not what MusicCoCa code expects."""


def magenta_home() -> Path:
    return Path(os.environ.get("MAGENTA_HOME") or Path.home() / "Documents" / "Magenta").expanduser()


def musiccoca_dir(resource_dir: str | os.PathLike | None = None) -> Path:
    """`resource_dir` when given, else the standard MusicCoCa folder under MAGENTA_HOME."""
    if resource_dir is not None:
        return Path(resource_dir).expanduser()
    return magenta_home() / "magenta-rt-v2" / "resources" / "musiccoca"


def require_files(directory: Path, names: Sequence[str]) -> None:
    """Raise MissingAssetError naming every file of `names` absent from `directory`."""
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        listed = ", ".join(str(directory / name) for name in missing)
        raise MissingAssetError(
            f"MusicCoCa asset{'s' if len(missing) > 1 else ''} missing: {listed}. "
            "Install the MRT2 resources under $MAGENTA_HOME/magenta-rt-v2/resources/musiccoca "
            "(MAGENTA_HOME defaults to ~/Documents/Magenta)."
        )


def litert_interpreter(path: Path) -> Interpreter:
    """The default factory: a LiteRT interpreter for one model file, tensors allocated."""
    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRTInterpreter
    except ImportError as error:
        raise MissingExtraError(f"MusicCoCa needs ai-edge-litert, which is not installed: {INSTALL_HINT}") from error
    try:
        interpreter = LiteRTInterpreter(model_path=str(path))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise InvalidModelError(f"{path} could not be loaded as a TFLite model: {error}") from error
    return interpreter


def load_sentencepiece(path: Path) -> Any:
    try:
        import sentencepiece
    except ImportError as error:
        raise MissingExtraError(f"MusicCoCa needs sentencepiece, which is not installed: {INSTALL_HINT}") from error
    processor = sentencepiece.SentencePieceProcessor()
    if not processor.Load(str(path)):
        raise ModelShapeError(f"{path} is not a SentencePiece model")
    return processor


def files_fingerprint(directory: Path, names: Sequence[str]) -> str:
    """A short hash of the named files' names, sizes and first MiB: changes when the models do."""
    digest = hashlib.sha256()
    for name in names:
        path = directory / name
        if not path.is_file():
            continue
        digest.update(name.encode())
        digest.update(str(path.stat().st_size).encode())
        with open(path, "rb") as file:
            digest.update(file.read(1 << 20))
    return digest.hexdigest()[:16]


def element_count(detail: dict[str, Any]) -> int:
    return int(np.prod(detail["shape"]))


def shape_text(shape: Any) -> str:
    """A shape as people write it: (1, 128), whatever array type holds it."""
    dims = tuple(int(d) for d in np.asarray(shape).reshape(-1))
    return f"({dims[0]},)" if len(dims) == 1 else str(dims)


def fit_input(interpreter: Interpreter, detail: dict[str, Any], elements: int, model: str, what: str) -> dict[str, Any]:
    """Make an input hold `elements` values: resize a dynamic input to [1, elements], else refuse.

    Returns the input's detail as it is now (its shape may have changed).
    """
    if element_count(detail) == elements:
        return detail
    signature = detail.get("shape_signature")
    if signature is not None and any(int(d) < 0 for d in signature):
        interpreter.resize_tensor_input(detail["index"], [1, elements])
        interpreter.allocate_tensors()
        detail = next(d for d in interpreter.get_input_details() if d["index"] == detail["index"])
        if element_count(detail) == elements:
            return detail
    raise ModelShapeError(f"{model}: {what} input has shape {shape_text(detail['shape'])}, expected {elements} values")


def embedding_output(interpreter: Interpreter, model: str) -> np.ndarray:
    """The first output as a float32 [768] vector, or ModelShapeError."""
    outputs = interpreter.get_output_details()
    if not outputs:
        raise ModelShapeError(f"{model} has no outputs")
    value = np.asarray(interpreter.get_tensor(outputs[0]["index"]))
    if value.size != EMBEDDING_DIM:
        raise ModelShapeError(f"{model}: output has shape {shape_text(value.shape)}, expected {EMBEDDING_DIM} values")
    return value.reshape(EMBEDDING_DIM).astype(np.float32)
