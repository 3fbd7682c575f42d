"""Encoding prompts off the generation thread.

MusicCoCa takes tens to hundreds of milliseconds per prompt, several frames'
worth, so encoding runs on its own worker thread. The control layer submits
requests and receives `on_ready(name, embedding)` or `on_error(name, message)`
on the worker thread; it turns them into commands that the generation thread
applies (e.g. `StyleSpace.set_embedding`). Nothing here touches the
generation thread.

A newer request for the same name supersedes an older one: a queued older
request is skipped, and the result of one already running is dropped, so
the last text sent for a prompt is the one that lands. `cancel(name)` drops
a prompt's pending work (when it is removed).

Solo (the Jam app's mode, `set_solo`) changes what a text is encoded as: "SOLO " and the text
(style/prompt_text.py `encoder_text`). Switching Solo encodes the text prompts again, as the
Jam app sends its prompt again when the mode changes: those the caller names (the daemon: every
prompt defined whose text is words, a scene's and a restored one's too), else the last text
asked for each prompt here (bounded); until the new embedding arrives, a prompt keeps the one
it has.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from mrtd.style.audio_prompt import AudioEmbedder, audio_needs
from mrtd.style.audio_reader import read_audio_isolated
from mrtd.style.embedder import Embedder
from mrtd.style.prompt_text import encoder_text
from mrtd.lifecycle import STOP_TIMEOUT_S, Worker

log = logging.getLogger(__name__)

OnReady = Callable[[str, np.ndarray], None]
OnError = Callable[[str, str], None]


@dataclass(frozen=True)
class EncodeRequest:
    name: str
    text: str | None = None
    audio_path: str | None = None
    sequence: int = 0
    samples: np.ndarray | None = field(default=None, compare=False)  # audio already in memory (listening)
    sample_rate: int = 0


_STOP = object()
MAX_REMEMBERED = 256  # text prompts kept for a Solo switch to encode again; past it the oldest go


class EncoderWorker:
    """One background thread that encodes prompts in order of submission."""

    def __init__(self, embedder: Embedder, on_ready: OnReady, on_error: OnError, *, thread_name: str = "mrtd-style-encoder") -> None:
        self.embedder = embedder
        self._on_ready = on_ready
        self._on_error = on_error
        self._queue: queue.Queue[EncodeRequest | object] = queue.Queue()
        self._latest: dict[str, int] = {}  # name -> sequence of its newest request
        self._lock = threading.Lock()  # guards _latest and _sequence (submitters vs the worker)
        self._sequence = 0
        self._idle = threading.Condition(self._lock)
        self._outstanding = 0
        # Ends on _STOP, which stop's wake puts behind what is queued.
        self._worker = Worker(thread_name, self._run, wake=lambda: self._queue.put(_STOP))
        self._started = False
        self.solo = False  # the Jam app's Solo: texts are encoded as "SOLO " + text
        self._texts: dict[str, str] = {}  # name -> the last text asked for it (under _lock)

    def start(self) -> "EncoderWorker":
        if not self._started:
            self._started = True
            self._worker.start()
        return self

    def submit(self, name: str, *, text: str | None = None, audio_path: str | os.PathLike | None = None) -> None:
        """Queue one prompt (exactly one of text or audio_path); returns at once."""
        if (text is None) == (audio_path is None):
            raise ValueError("give exactly one of text or audio_path")
        with self._lock:
            self._sequence += 1
            self._latest[name] = self._sequence
            self._outstanding += 1
            request = EncodeRequest(name, text, None if audio_path is None else os.fspath(audio_path), self._sequence)
            self._texts.pop(name, None)
            if text is not None:
                self._texts[name] = text
                if len(self._texts) > MAX_REMEMBERED:
                    del self._texts[next(iter(self._texts))]
        self._queue.put(request)

    def submit_audio(self, name: str, samples: np.ndarray, sample_rate: int) -> None:
        """Queue audio in memory ([n] or [n, channels] float32) to embed as prompt `name`, never
        cached (live input is never heard twice); returns at once. A newer one supersedes it."""
        with self._lock:
            self._sequence += 1
            self._latest[name] = self._sequence
            self._outstanding += 1
            request = EncodeRequest(name, sequence=self._sequence, samples=samples, sample_rate=sample_rate)
        self._queue.put(request)

    def set_solo(self, on: bool, texts: "Mapping[str, str] | None" = None) -> None:
        """Switch Solo; on a change, encode again `texts` (name -> text: every prompt defined now
        whose text is words, a scene's and a restored one's too), or, without them, the text
        prompts asked for here before. Any thread: it only queues requests."""
        if bool(on) == self.solo:
            return
        self.solo = bool(on)
        if texts is None:
            with self._lock:
                texts = dict(self._texts)
        for name, text in list(texts.items()):
            self.submit(name, text=text)

    def cancel(self, name: str) -> None:
        """Forget a prompt's pending work: nothing more is reported for requests made so far."""
        with self._lock:
            self._sequence += 1
            self._latest[name] = self._sequence

    @property
    def pending(self) -> int:
        """Requests submitted and not yet finished (including skipped ones not yet dequeued)."""
        with self._lock:
            return self._outstanding

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted request is done (for tests and orderly shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._outstanding == 0, timeout)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Finish the request in progress, drop the rest, and end the thread."""
        self._worker.stop(timeout)

    def __enter__(self) -> "EncoderWorker":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _is_current(self, request: EncodeRequest) -> bool:
        with self._lock:
            return self._latest.get(request.name) == request.sequence

    def _run(self) -> None:
        while True:
            request = self._queue.get()
            if request is _STOP:
                return
            assert isinstance(request, EncodeRequest)
            try:
                # Once stopping, what is still queued is dropped (counted done, never reported).
                if self._is_current(request) and not self._worker.stopping.is_set():
                    self._encode(request)
            finally:
                with self._idle:
                    self._outstanding -= 1
                    if self._outstanding == 0:
                        self._idle.notify_all()

    def _encode(self, request: EncodeRequest) -> None:
        try:
            embedding = self._embed(request)
        except Exception as error:  # any embedder failure is reported, never kills the worker
            if self._is_current(request):
                self._report(self._on_error, request.name, f"{type(error).__name__}: {error}")
            return
        if self._is_current(request):
            self._report(self._on_ready, request.name, embedding)

    def _embed(self, request: EncodeRequest) -> np.ndarray:
        if request.text is not None:
            return np.asarray(self.embedder.embed_text(encoder_text(request.text, self.solo)), dtype=np.float32)
        if request.samples is not None:
            embedder = getattr(self.embedder, "inner", self.embedder)  # past the cache: CachedEmbedder's
            if not isinstance(embedder, AudioEmbedder):
                raise TypeError(f"the {self.embedder.identity} embedder cannot embed audio")
            return np.asarray(embedder.embed_audio(request.samples, request.sample_rate), dtype=np.float32)
        assert request.audio_path is not None
        embed_audio_file = getattr(self.embedder, "embed_audio_file", None)
        if embed_audio_file is not None:  # the cached path: decodes only on a miss
            return np.asarray(embed_audio_file(request.audio_path), dtype=np.float32)
        if isinstance(self.embedder, AudioEmbedder):
            samples, sample_rate = read_audio_isolated(request.audio_path, audio_needs(self.embedder))
            return np.asarray(self.embedder.embed_audio(samples, sample_rate), dtype=np.float32)
        raise TypeError(f"the {self.embedder.identity} embedder cannot embed audio prompts")

    @staticmethod
    def _report(callback: Callable, name: str, payload: object) -> None:
        try:
            callback(name, payload)
        except Exception:
            log.exception("style encoder callback failed for prompt %r", name)
