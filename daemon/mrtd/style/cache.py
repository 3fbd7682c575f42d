"""On-disk embedding cache: a restart never re-encodes a prompt it has seen.

An entry is keyed by the embedder's identity (so embeddings from different
models never mix) plus the prompt: its text, or, for an audio prompt, the
SHA-256 of the file's bytes and how the embedder reads a file (its
`audio_read`: the first 10 s or the average of clips make two embeddings). Each entry is one small `.npy` file named by the
key's hash, written to a temporary file in the same folder and renamed into
place, so a crash or a second daemon never leaves a half-written entry.

Default folder: `$XDG_CACHE_HOME/mrtd/embeddings` (XDG_CACHE_HOME defaults to
~/.cache; under systemd the daemon passes CacheDirectory='s folder, see app/folders.py).
A folder that cannot be written (a service user whose HOME does not exist, a
read-only one) is no reason to stop the music: the cache says so in one log line
and keeps its entries in memory for the rest of the run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.style.audio_prompt import AudioEmbedder, audio_needs, audio_reading, file_digest
from mrtd.style.audio_reader import read_audio_isolated
from mrtd.style.embedder import Embedder

log = logging.getLogger(__name__)

MEMORY_ENTRIES = 4096  # 4096 x 768 float32 = 12 MiB at most, when the folder cannot be written


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mrtd" / "embeddings"


class EmbeddingCache:
    """Embeddings on disk, one file per (embedder identity, prompt)."""

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0
        self.memory: dict[str, np.ndarray] | None = None  # set once the folder turned out unwritable

    @staticmethod
    def text_key(identity: str, text: str) -> str:
        return _key(identity, "text", text)

    @staticmethod
    def audio_key(identity: str, content_digest: str, reading: str = "") -> str:
        """`reading` "" (an embedder with one way to read a file) keeps the key entries had before readings."""
        return _key(identity, "audio", content_digest) if not reading else _key(identity, f"audio:{reading}", content_digest)

    def get(self, key: str) -> np.ndarray | None:
        if self.memory is not None and key in self.memory:
            self.hits += 1
            return self.memory[key]
        path = self._path(key)
        try:
            embedding = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError) as error:
            # A damaged entry is a miss: the prompt is encoded again and the entry rewritten.
            log.warning("ignoring unreadable cache entry %s: %s", path, error)
            self.misses += 1
            return None
        if embedding.shape != (EMBEDDING_DIM,) or not np.all(np.isfinite(embedding)):
            log.warning("ignoring cache entry %s with shape %s", path, embedding.shape)
            self.misses += 1
            return None
        self.hits += 1
        return embedding.astype(np.float32, copy=False)

    def put(self, key: str, embedding: np.ndarray) -> None:
        embedding = np.asarray(embedding, dtype=np.float32)
        if embedding.shape != (EMBEDDING_DIM,):
            raise ValueError(f"embedding must have shape ({EMBEDDING_DIM},), got {embedding.shape}")
        if self.memory is not None:
            self._remember(key, embedding)
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".npy")
        except OSError as error:
            log.warning("embedding cache: cannot write %s (%s): keeping embeddings in memory for this run",
                        self.directory, error.strerror or type(error).__name__)
            self.memory = {}
            self._remember(key, embedding)
            return
        try:
            with os.fdopen(descriptor, "wb") as file:
                np.save(file, embedding, allow_pickle=False)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self._path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _remember(self, key: str, embedding: np.ndarray) -> None:
        assert self.memory is not None
        if len(self.memory) >= MEMORY_ENTRIES:  # bounded: a client sending endless new prompts cannot grow it
            del self.memory[next(iter(self.memory))]
        self.memory[key] = embedding

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.npy"


def _key(identity: str, kind: str, value: str) -> str:
    digest = hashlib.sha256()
    for part in (identity, kind, value):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))  # length-prefixed: no two tuples collide
        digest.update(data)
    return digest.hexdigest()


class CachedEmbedder(Embedder):
    """An embedder behind the on-disk cache; same identity as the one it wraps.

    Safe to call from one encoding thread; two processes sharing the folder
    at worst encode the same prompt twice (the rename keeps entries whole).
    """

    def __init__(self, inner: Embedder, cache: EmbeddingCache | None = None) -> None:
        self.inner = inner
        self.cache = cache if cache is not None else EmbeddingCache()

    @property
    def identity(self) -> str:
        return self.inner.identity

    @property
    def supports_audio(self) -> bool:
        return isinstance(self.inner, AudioEmbedder)

    def embed_text(self, text: str) -> np.ndarray:
        key = EmbeddingCache.text_key(self.identity, text)
        embedding = self.cache.get(key)
        if embedding is None:
            embedding = np.asarray(self.inner.embed_text(text), dtype=np.float32)
            self.cache.put(key, embedding)
        return embedding

    def embed_audio_file(self, path: str | os.PathLike) -> np.ndarray:
        """Embedding of an audio file; the file is decoded only on a cache miss, in the reader's
        helper process and only as far as the embedder uses it (style/audio_reader.py)."""
        if not isinstance(self.inner, AudioEmbedder):
            raise TypeError(f"the {self.identity} embedder cannot embed audio")
        key = EmbeddingCache.audio_key(self.identity, file_digest(path), audio_reading(self.inner))
        embedding = self.cache.get(key)
        if embedding is None:
            samples, sample_rate = read_audio_isolated(path, audio_needs(self.inner))
            embedding = np.asarray(self.inner.embed_audio(samples, sample_rate), dtype=np.float32)
            self.cache.put(key, embedding)
        return embedding
