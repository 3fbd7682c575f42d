"""Stand-in MusicCoCa files: real TFLite models with the official names and input/output signatures.

MusicCoCa's weights cannot be downloaded on our machines, so the tests build
small models of the same shape, by hand, as TFLite flatbuffers (the schema
classes ship with ai-edge-litert; no TensorFlow needed, nothing to download):

- text_encoder.tflite: int32 ids [1,128] and float32 paddings [1,128] -> float32 [1,768]
- mapper.tflite: float32 embedding [1,768] and noise [1,768] -> float32 [1,768] (not unit length)
- audio_preprocessor.tflite: float32 audio [1,160000] (10 s at 16 kHz) -> features [1,100,8]
- music_encoder.tflite: features [1,100,8] -> float32 [1,768]
- pretrained_vector_quantizer.tflite: float32 [1,768] -> int32 [1,12], a real 12-level
  residual vector quantizer (nearest codeword, subtract, next level) built from
  FULLY_CONNECTED, ARG_MAX, GATHER and SUB, the way an RVQ graph is
- spm.model: a SentencePiece model trained here on a small corpus

Weights come from a fixed seed. Codebooks have 64 entries per level, not 1024,
to keep the files small; token ids are still what an RVQ gives.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

EMBEDDING_DIM = 768
TEXT_TOKENS = 128
CLIP_SAMPLES = 160_000
FEATURE_SHAPE = (1, 100, 8)
RVQ_LEVELS = 12
STANDIN_CODEBOOK = 64

CORPUS = [
    "dark ambient drone with soft pads",
    "bright fast techno with hard drums",
    "warm lofi hip hop beat with piano",
    "cinematic orchestral strings and bells",
    "funky bass groove with jazzy guitar",
    "minimal house with deep bass and sparse percussion",
    "melancholic piano ballad in a minor key",
    "aggressive distorted synthwave with fast arpeggios",
] * 4

F32, I32 = schema.TensorType.FLOAT32, schema.TensorType.INT32
OP = schema.BuiltinOperator
OPTIONS = schema.BuiltinOptions


class GraphBuilder:
    """Builds a one-subgraph TFLite model from builtin ops."""

    def __init__(self) -> None:
        self.tensors: list = []
        self.buffers = [schema.BufferT()]  # buffer 0: the empty buffer every non-constant tensor uses
        self.operators: list = []
        self.opcodes: dict[int, int] = {}
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    def tensor(self, shape, dtype=F32, name: str = "", data: np.ndarray | None = None) -> int:
        buffer = 0
        if data is not None:
            raw = np.ascontiguousarray(data, dtype=np.float32 if dtype == F32 else np.int32)
            self.buffers.append(schema.BufferT())
            self.buffers[-1].data = np.frombuffer(raw.tobytes(), dtype=np.uint8)
            buffer = len(self.buffers) - 1
        tensor = schema.TensorT()
        tensor.shape = list(shape)
        tensor.type = dtype
        tensor.buffer = buffer
        tensor.name = name or f"t{len(self.tensors)}"
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def constant(self, array: np.ndarray, dtype=F32) -> int:
        return self.tensor(array.shape, dtype, data=array)

    def input(self, shape, dtype=F32, name: str = "") -> int:
        index = self.tensor(shape, dtype, name)
        self.inputs.append(index)
        return index

    def op(self, code: int, inputs: list[int], out_shape, out_dtype=F32, options_type: int = 0, options=None) -> int:
        if code not in self.opcodes:
            self.opcodes[code] = len(self.opcodes)
        output = self.tensor(out_shape, out_dtype)
        operator = schema.OperatorT()
        operator.opcodeIndex = self.opcodes[code]
        operator.inputs = list(inputs)
        operator.outputs = [output]
        operator.builtinOptionsType = options_type
        operator.builtinOptions = options
        self.operators.append(operator)
        return output

    # -- ops ----------------------------------------------------------------------
    def fully_connected(self, x: int, weights: np.ndarray, bias: np.ndarray, out_shape) -> int:
        return self.op(OP.FULLY_CONNECTED, [x, self.constant(weights), self.constant(bias)], out_shape,
                       options_type=OPTIONS.FullyConnectedOptions, options=schema.FullyConnectedOptionsT())

    def reshape(self, x: int, shape, dtype=F32) -> int:
        options = schema.ReshapeOptionsT()
        options.newShape = list(shape)
        return self.op(OP.RESHAPE, [x, self.constant(np.array(shape), I32)], shape, dtype, OPTIONS.ReshapeOptions, options)

    def concatenate(self, xs: list[int], axis: int, out_shape, dtype=F32) -> int:
        options = schema.ConcatenationOptionsT()
        options.axis = axis
        return self.op(OP.CONCATENATION, xs, out_shape, dtype, OPTIONS.ConcatenationOptions, options)

    def cast(self, x: int, shape) -> int:
        options = schema.CastOptionsT()
        options.inDataType, options.outDataType = I32, F32
        return self.op(OP.CAST, [x], shape, F32, OPTIONS.CastOptions, options)

    def mul(self, a: int, b: int, shape) -> int:
        return self.op(OP.MUL, [a, b], shape, F32, OPTIONS.MulOptions, schema.MulOptionsT())

    def sub(self, a: int, b: int, shape) -> int:
        return self.op(OP.SUB, [a, b], shape, F32, OPTIONS.SubOptions, schema.SubOptionsT())

    def arg_max(self, x: int, axis: int, out_shape) -> int:
        options = schema.ArgMaxOptionsT()
        options.outputType = I32
        return self.op(OP.ARG_MAX, [x, self.constant(np.array([axis]), I32)], out_shape, I32, OPTIONS.ArgMaxOptions, options)

    def gather(self, params: int, indices: int, out_shape) -> int:
        options = schema.GatherOptionsT()
        options.axis = 0
        return self.op(OP.GATHER, [params, indices], out_shape, F32, OPTIONS.GatherOptions, options)

    def save(self, path: Path) -> Path:
        subgraph = schema.SubGraphT()
        subgraph.tensors, subgraph.operators = self.tensors, self.operators
        subgraph.inputs, subgraph.outputs = self.inputs, self.outputs
        subgraph.name = "main"
        model = schema.ModelT()
        model.version = 3
        model.description = "mrtd test stand-in"
        model.subgraphs = [subgraph]
        model.buffers = self.buffers
        codes = []
        for code, _ in sorted(self.opcodes.items(), key=lambda item: item[1]):
            opcode = schema.OperatorCodeT()
            opcode.builtinCode = code
            opcode.deprecatedBuiltinCode = min(code, 127)
            opcode.version = 1
            codes.append(opcode)
        model.operatorCodes = codes
        builder = flatbuffers.Builder(1 << 20)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        path.write_bytes(bytes(builder.Output()))
        return path


def _weights(rng: np.random.Generator, rows: int, cols: int, gain: float = 1.0) -> np.ndarray:
    return (rng.standard_normal((rows, cols)) * gain / np.sqrt(cols)).astype(np.float32)


def build_text_encoder(path: Path, rng: np.random.Generator) -> Path:
    g = GraphBuilder()
    ids = g.input((1, TEXT_TOKENS), I32, "ids")
    paddings = g.input((1, TEXT_TOKENS), F32, "paddings")
    ids_f = g.mul(g.cast(ids, (1, TEXT_TOKENS)), g.constant(np.full((1, TEXT_TOKENS), 0.2, np.float32)), (1, TEXT_TOKENS))
    # Mostly padding in every text: weigh the paddings lightly so texts differ.
    paddings_f = g.mul(paddings, g.constant(np.full((1, TEXT_TOKENS), 0.01, np.float32)), (1, TEXT_TOKENS))
    both = g.concatenate([ids_f, paddings_f], 1, (1, 2 * TEXT_TOKENS))
    g.outputs = [g.fully_connected(both, _weights(rng, EMBEDDING_DIM, 2 * TEXT_TOKENS, gain=0.1), np.zeros(EMBEDDING_DIM, np.float32),
                                   (1, EMBEDDING_DIM))]
    return g.save(path)


def build_mapper(path: Path, rng: np.random.Generator) -> Path:
    g = GraphBuilder()
    embedding = g.input((1, EMBEDDING_DIM), F32, "embedding")
    noise = g.input((1, EMBEDDING_DIM), F32, "noise")
    both = g.concatenate([embedding, noise], 1, (1, 2 * EMBEDDING_DIM))
    weights = _weights(rng, EMBEDDING_DIM, 2 * EMBEDDING_DIM, gain=3.0)  # output far from unit length
    weights[:, EMBEDDING_DIM:] *= 0.02  # the same noise for every text: keep it from drowning the text
    g.outputs = [g.fully_connected(both, weights, np.full(EMBEDDING_DIM, 0.01, np.float32), (1, EMBEDDING_DIM))]
    return g.save(path)


def build_audio_preprocessor(path: Path, rng: np.random.Generator) -> Path:
    g = GraphBuilder()
    audio = g.input((1, CLIP_SAMPLES), F32, "audio")
    energy = g.mul(audio, audio, (1, CLIP_SAMPLES))  # squared samples: features follow loudness over time
    frames = g.reshape(energy, (FEATURE_SHAPE[1], CLIP_SAMPLES // FEATURE_SHAPE[1]))
    features = g.fully_connected(frames, np.abs(_weights(rng, FEATURE_SHAPE[2], CLIP_SAMPLES // FEATURE_SHAPE[1], 40.0)),
                                 np.zeros(FEATURE_SHAPE[2], np.float32), (FEATURE_SHAPE[1], FEATURE_SHAPE[2]))
    g.outputs = [g.reshape(features, FEATURE_SHAPE)]
    return g.save(path)


def build_music_encoder(path: Path, rng: np.random.Generator) -> Path:
    g = GraphBuilder()
    features = g.input(FEATURE_SHAPE, F32, "features")
    size = int(np.prod(FEATURE_SHAPE))
    flat = g.reshape(features, (1, size))
    g.outputs = [g.fully_connected(flat, _weights(rng, EMBEDDING_DIM, size, gain=0.01), np.zeros(EMBEDDING_DIM, np.float32), (1, EMBEDDING_DIM))]
    return g.save(path)


def build_quantizer(path: Path, rng: np.random.Generator) -> Path:
    g = GraphBuilder()
    residual = g.input((1, EMBEDDING_DIM), F32, "embedding")
    gain = np.sqrt(2.0 * np.log(STANDIN_CODEBOOK) / EMBEDDING_DIM)
    tokens = []
    for level in range(RVQ_LEVELS):
        directions = rng.standard_normal((STANDIN_CODEBOOK, EMBEDDING_DIM))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        codebook = (directions * gain * (1.0 - gain**2) ** (level / 2)).astype(np.float32)
        # nearest codeword = argmax of r.c - |c|^2/2
        scores = g.fully_connected(residual, codebook, (-0.5 * (codebook**2).sum(axis=1)).astype(np.float32), (1, STANDIN_CODEBOOK))
        index = g.arg_max(scores, 1, (1,))
        chosen = g.gather(g.constant(codebook), index, (1, EMBEDDING_DIM))
        residual = g.sub(residual, chosen, (1, EMBEDDING_DIM))
        tokens.append(index)
    g.outputs = [g.reshape(g.concatenate(tokens, 0, (RVQ_LEVELS,), I32), (1, RVQ_LEVELS), I32)]
    return g.save(path)


def train_spm(folder: Path) -> Path:
    import sentencepiece

    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(CORPUS))
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "spm"), vocab_size=60, model_type="unigram",
        bos_id=-1, eos_id=-1, unk_id=0, hard_vocab_limit=False, minloglevel=2,
    )
    corpus.unlink()
    (folder / "spm.vocab").unlink()
    return folder / "spm.model"


def build_musiccoca(folder: Path, *, with_mapper: bool = True, seed: int = 0) -> Path:
    """Every MusicCoCa file, with the official names, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_spm(folder)
    build_text_encoder(folder / "text_encoder.tflite", rng)
    build_audio_preprocessor(folder / "audio_preprocessor.tflite", rng)
    build_music_encoder(folder / "music_encoder.tflite", rng)
    build_quantizer(folder / "pretrained_vector_quantizer.tflite", rng)
    if with_mapper:
        build_mapper(folder / "mapper.tflite", rng)
    return folder
