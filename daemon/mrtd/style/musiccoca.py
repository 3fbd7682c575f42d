"""MusicCoCa: the style embedder MRT2 was trained with, run through LiteRT (TFLite).

Assets live in `$MAGENTA_HOME/magenta-rt-v2/resources/musiccoca/` (MAGENTA_HOME
defaults to ~/Documents/Magenta). This is an optional extra: `ai-edge-litert`
and `sentencepiece` are imported only when a MusicCoCa object is built.

What the model expects, as the official MRT2 code feeds it:

- text: lower-cased, SentencePiece ids, a start id (1) in front, cut to 128
  tokens and padded with id 0; int32 ids plus float32 "paddings" (0 for a real
  token, 1 for padding). The encoder's int32 input is the ids and its float32
  input the paddings, whatever their order. Then, when `mapper.tflite` is
  present, the mapper moves the text embedding toward audio space: inputs are
  (embedding, Gaussian noise from numpy's RandomState(0)), output L2-normalised.
- audio: 16 kHz mono in 10 s clips, each clip through `audio_preprocessor.tflite`
  then `music_encoder.tflite`. Which clips (`audio_read`, style/audio_prompt.py):
  "first", as the official apps, one clip of the file's first 10 s, a shorter file
  looped to fill it; "average", as the official Python class, every clip (the last
  zero-padded) averaged. For "average" mrtd reads the first `AUDIO_CLIPS` clips
  (30 s) and no more: the Python class takes the whole file, which for a long file
  means decoding all of it (a 250 MB WAV took 2-5 GB). Up to 30 s the two agree
  exactly; past it mrtd's prompt is the file's opening 30 s, as the built-in
  embedder's is.

Interpreters are made by an injectable factory (anything with LiteRT's
Interpreter API), so tests can drive this code up to the interpreter boundary.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.style.audio_prompt import DEFAULT_AUDIO_PROMPT_READ, AudioNeeds, check_audio_prompt_read
from mrtd.style.embedder import Embedder
from mrtd.style.musiccoca_assets import (
    AUDIO_PREPROCESSOR_FILE,
    EMBEDDER_FILES,
    MAPPER_FILE,
    MUSIC_ENCODER_FILE,
    TEXT_ENCODER_FILE,
    TOKENIZER_FILE,
    Interpreter,
    InterpreterFactory,
    MissingAssetError,
    MissingExtraError,
    ModelShapeError,
    embedding_output,
    files_fingerprint,
    fit_input,
    litert_interpreter,
    load_sentencepiece,
    musiccoca_dir,
    require_files,
    shape_text,
)

__all__ = [
    "MusicCoCaEmbedder",
    "MissingAssetError",
    "MissingExtraError",
    "ModelShapeError",
    "musiccoca_available",
    "text_token_ids",
    "to_mono_16k",
    "split_clips",
    "first_clip_looped",
]

SAMPLE_RATE = 16_000
CLIP_SECONDS = 10
CLIP_SAMPLES = SAMPLE_RATE * CLIP_SECONDS
AUDIO_CLIPS = 3  # clips of a file embedded and averaged when reading "average": its first 30 s (see above)
MAX_TEXT_TOKENS = 128
START_ID = 1
PAD_ID = 0
MAPPER_NOISE_SEED = 0


def text_token_ids(tokenizer: Any, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids int32 [128], paddings float32 [128]) for one prompt, as the text encoder expects."""
    pieces = list(tokenizer.EncodeAsIds(text.lower()))[: MAX_TEXT_TOKENS - 1]
    count = len(pieces) + 1
    ids = np.full(MAX_TEXT_TOKENS, PAD_ID, dtype=np.int32)
    ids[0] = START_ID
    ids[1:count] = pieces
    paddings = np.ones(MAX_TEXT_TOKENS, dtype=np.float32)
    paddings[:count] = 0.0
    return ids, paddings


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Down-mix to mono (mean of channels) and resample to 16 kHz, float32.

    `samples` is [n] or [n, channels]. Resampling is band-limited (FFT: the
    spectrum is cut or zero-extended), so a 48 kHz file does not alias.
    """
    audio = np.asarray(samples, dtype=np.float64)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    elif audio.ndim != 1:
        raise ValueError(f"audio must be [samples] or [samples, channels], got shape {audio.shape}")
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    if sample_rate == SAMPLE_RATE or len(audio) == 0:
        return audio.astype(np.float32)
    out_length = max(1, round(len(audio) * SAMPLE_RATE / sample_rate))
    spectrum = np.fft.rfft(audio)
    kept = out_length // 2 + 1
    if kept <= len(spectrum):
        spectrum = spectrum[:kept]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(kept - len(spectrum), dtype=spectrum.dtype)])
    return (np.fft.irfft(spectrum, out_length) * (out_length / len(audio))).astype(np.float32)


def first_clip_looped(mono_16k: np.ndarray) -> np.ndarray:
    """[1, 160000]: the first 10 s, a shorter signal repeated from its start to fill them (sample
    i is sample i mod length), as the official apps read a prompt file; silence if it is empty."""
    clip = np.zeros((1, CLIP_SAMPLES), dtype=np.float32)
    if len(mono_16k):
        clip[0] = np.resize(np.asarray(mono_16k, dtype=np.float32), CLIP_SAMPLES)
    return clip


def split_clips(mono_16k: np.ndarray) -> np.ndarray:
    """[clips, 160000]: consecutive 10 s clips, the last zero-padded (at least one clip)."""
    clip_count = max(1, -(-len(mono_16k) // CLIP_SAMPLES))
    clips = np.zeros((clip_count, CLIP_SAMPLES), dtype=np.float32)
    clips.reshape(-1)[: len(mono_16k)] = mono_16k
    return clips


class MusicCoCaEmbedder(Embedder):
    """Text and audio to MusicCoCa's 768-d style embedding.

    Every required file is checked when the object is built (one error names
    all that are missing); the models load on first use, on the encoding
    thread, never on the generation thread. Calls are serialised by a lock
    because a LiteRT interpreter is not safe to share between threads.
    """

    def __init__(
        self,
        resource_dir: str | os.PathLike | None = None,
        *,
        interpreter_factory: InterpreterFactory | None = None,
        tokenizer_factory: Callable[[Path], Any] | None = None,
        use_mapper: bool | None = None,
        audio_read: str = DEFAULT_AUDIO_PROMPT_READ,
    ) -> None:
        self.resource_dir = musiccoca_dir(resource_dir)
        self.audio_read = check_audio_prompt_read(audio_read)
        # What the audio path reads of a file: 16 kHz mono, the clips `audio_read` takes, resampled
        # as it is read (style/audio_prompt.py), so `to_mono_16k` below has nothing left to do.
        clips = 1 if audio_read == "first" else AUDIO_CLIPS
        self.audio_needs = AudioNeeds(clips * CLIP_SECONDS, channels=1, rate=SAMPLE_RATE)
        require_files(self.resource_dir, EMBEDDER_FILES)
        self._make_interpreter = interpreter_factory or litert_interpreter
        self._make_tokenizer = tokenizer_factory or load_sentencepiece
        has_mapper = (self.resource_dir / MAPPER_FILE).is_file()
        if use_mapper and not has_mapper:
            require_files(self.resource_dir, [MAPPER_FILE])
        # Like the official apps: refine text embeddings with the mapper when it is there.
        self.use_mapper = has_mapper if use_mapper is None else use_mapper
        names = list(EMBEDDER_FILES) + ([MAPPER_FILE] if self.use_mapper else [])
        self._identity = f"musiccoca-{files_fingerprint(self.resource_dir, names)}{'-mapped' if self.use_mapper else ''}"
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._text_encoder: Interpreter | None = None
        self._mapper: Interpreter | None = None
        self._preprocessor: Interpreter | None = None
        self._music_encoder: Interpreter | None = None

    @property
    def identity(self) -> str:
        return self._identity

    # -- text ---------------------------------------------------------------

    def embed_text(self, text: str) -> np.ndarray:
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = self._make_tokenizer(self.resource_dir / TOKENIZER_FILE)
            ids, paddings = text_token_ids(self._tokenizer, text)
            embedding = self._run_text_encoder(ids, paddings)
            if self.use_mapper:
                embedding = self._run_mapper(embedding)
            return embedding

    def _run_text_encoder(self, ids: np.ndarray, paddings: np.ndarray) -> np.ndarray:
        if self._text_encoder is None:
            self._text_encoder = self._make_interpreter(self.resource_dir / TEXT_ENCODER_FILE)
        encoder, model = self._text_encoder, TEXT_ENCODER_FILE
        inputs = encoder.get_input_details()
        id_inputs = [d for d in inputs if np.dtype(d["dtype"]) == np.int32]
        padding_inputs = [d for d in inputs if np.dtype(d["dtype"]) == np.float32]
        if len(inputs) != 2 or len(id_inputs) != 1 or len(padding_inputs) != 1:
            found = ", ".join(f"{np.dtype(d['dtype']).name}{shape_text(d['shape'])}" for d in inputs)
            raise ModelShapeError(f"{model}: expected one int32 ids input and one float32 paddings input, found {found or 'none'}")
        id_input = fit_input(encoder, id_inputs[0], MAX_TEXT_TOKENS, model, "ids")
        padding_input = fit_input(encoder, padding_inputs[0], MAX_TEXT_TOKENS, model, "paddings")
        encoder.set_tensor(id_input["index"], ids.reshape(id_input["shape"]))
        encoder.set_tensor(padding_input["index"], paddings.reshape(padding_input["shape"]))
        encoder.invoke()
        return embedding_output(encoder, model)

    def _run_mapper(self, embedding: np.ndarray) -> np.ndarray:
        if self._mapper is None:
            self._mapper = self._make_interpreter(self.resource_dir / MAPPER_FILE)
        mapper, model = self._mapper, MAPPER_FILE
        inputs = mapper.get_input_details()
        if len(inputs) != 2:
            raise ModelShapeError(f"{model}: expected 2 inputs (embedding, noise), found {len(inputs)}")
        embedding_input = fit_input(mapper, inputs[0], EMBEDDING_DIM, model, "embedding")
        noise_input = fit_input(mapper, mapper.get_input_details()[1], EMBEDDING_DIM, model, "noise")
        # Fixed noise (seed 0) makes a text's embedding reproducible, as in the official apps.
        noise = np.random.RandomState(MAPPER_NOISE_SEED).randn(EMBEDDING_DIM).astype(np.float32)
        mapper.set_tensor(embedding_input["index"], embedding.reshape(embedding_input["shape"]))
        mapper.set_tensor(noise_input["index"], noise.reshape(noise_input["shape"]))
        mapper.invoke()
        mapped = embedding_output(mapper, model)
        norm = float(np.linalg.norm(mapped))
        return mapped / norm if norm > 0 else mapped

    # -- audio --------------------------------------------------------------

    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """MusicCoCa embedding of `samples` ([n] or [n, channels]), read as `audio_read` says:
        its first 10 s looped to fill them, or the average of its 10 s clips."""
        mono = to_mono_16k(samples, sample_rate)
        clips = first_clip_looped(mono) if self.audio_read == "first" else split_clips(mono)
        with self._lock:
            clip_embeddings = [self._embed_clip(clip) for clip in clips]
        return np.mean(clip_embeddings, axis=0).astype(np.float32)

    def _embed_clip(self, clip: np.ndarray) -> np.ndarray:
        if self._preprocessor is None:
            self._preprocessor = self._make_interpreter(self.resource_dir / AUDIO_PREPROCESSOR_FILE)
            self._music_encoder = self._make_interpreter(self.resource_dir / MUSIC_ENCODER_FILE)
        preprocessor, encoder = self._preprocessor, self._music_encoder
        assert encoder is not None

        inputs = preprocessor.get_input_details()
        if len(inputs) != 1:
            raise ModelShapeError(f"{AUDIO_PREPROCESSOR_FILE}: expected 1 audio input, found {len(inputs)}")
        audio_input = fit_input(preprocessor, inputs[0], CLIP_SAMPLES, AUDIO_PREPROCESSOR_FILE, "audio")
        preprocessor.set_tensor(audio_input["index"], clip.reshape(audio_input["shape"]))
        preprocessor.invoke()
        features = np.asarray(preprocessor.get_tensor(preprocessor.get_output_details()[0]["index"]))

        encoder_inputs = encoder.get_input_details()
        if len(encoder_inputs) != 1:
            raise ModelShapeError(f"{MUSIC_ENCODER_FILE}: expected 1 features input, found {len(encoder_inputs)}")
        features_input = fit_input(encoder, encoder_inputs[0], features.size, MUSIC_ENCODER_FILE, "features")
        encoder.set_tensor(features_input["index"], features.reshape(features_input["shape"]).astype(np.float32))
        encoder.invoke()
        return embedding_output(encoder, MUSIC_ENCODER_FILE)


def musiccoca_available(resource_dir: str | os.PathLike | None = None) -> bool:
    """True when the MusicCoCa files are present and its extra is installed."""
    directory = musiccoca_dir(resource_dir)
    if not all((directory / name).is_file() for name in EMBEDDER_FILES):
        return False
    try:
        import ai_edge_litert.interpreter  # noqa: F401
        import sentencepiece  # noqa: F401
    except ImportError:
        return False
    return True
