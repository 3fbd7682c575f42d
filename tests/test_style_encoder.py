"""Encoding off the generation thread: callbacks, errors, superseded requests, no stalls."""

from __future__ import annotations

import threading
import time
import wave

import numpy as np

from mrtd.style.cache import CachedEmbedder, EmbeddingCache
from mrtd.style.encoder import EncoderWorker
from mrtd.style.quantizer import BuiltinQuantizer
from mrtd.style.space import StyleSpace
from style_fakes import CountingEmbedder


class Inbox:
    """Collects callbacks the way the control layer would: as commands for the generation thread."""

    def __init__(self) -> None:
        self.ready: list[tuple[str, np.ndarray]] = []
        self.errors: list[tuple[str, str]] = []
        self.threads: set[int] = set()

    def on_ready(self, name: str, embedding: np.ndarray) -> None:
        self.threads.add(threading.get_ident())
        self.ready.append((name, embedding))

    def on_error(self, name: str, message: str) -> None:
        self.errors.append((name, message))


def test_encoding_runs_on_the_worker_and_reports_ready_and_errors():
    inbox = Inbox()
    embedder = CountingEmbedder()
    with EncoderWorker(embedder, inbox.on_ready, inbox.on_error) as worker:
        worker.submit("a", text="techno")
        worker.submit("b", text="boom")
        assert worker.wait_idle(5)
    assert [name for name, _ in inbox.ready] == ["a"]
    assert inbox.ready[0][1].shape == (768,)
    assert inbox.errors == [("b", "RuntimeError: encoder exploded")]
    assert threading.get_ident() not in embedder.threads, "encoding never runs on the caller's thread"
    assert threading.get_ident() not in inbox.threads


def test_a_newer_request_supersedes_an_older_one_for_the_same_prompt():
    gate = threading.Event()
    inbox = Inbox()
    embedder = CountingEmbedder(delay=gate)
    with EncoderWorker(embedder, inbox.on_ready, inbox.on_error) as worker:
        worker.submit("a", text="first")  # starts, blocks on the gate
        assert embedder.started.wait(5), "the first request is being encoded"
        worker.submit("a", text="second")
        worker.submit("a", text="third")
        worker.submit("gone", text="whatever")
        worker.cancel("gone")
        gate.set()
        assert worker.wait_idle(5)
    expected = CountingEmbedder().embed_text("third")
    assert [name for name, _ in inbox.ready] == ["a"]
    np.testing.assert_array_equal(inbox.ready[0][1], expected)
    assert embedder.text_calls == 2, "the queued 'second' is skipped, not encoded"


def test_a_prompt_still_encoding_does_not_stall_frames_and_lands_when_ready(tmp_path):
    gate = threading.Event()
    commands: list = []  # what the control layer would queue for the generation thread
    space = StyleSpace(BuiltinQuantizer())
    space.set_prompt("now", CountingEmbedder().embed_text("now"), weight=1.0)
    space.set_prompt("slow", None, weight=1.0)
    space.advance()  # first frame: page in the codebooks
    worker = EncoderWorker(
        CachedEmbedder(CountingEmbedder(delay=gate), EmbeddingCache(tmp_path)),
        on_ready=lambda name, embedding: commands.append((name, embedding)),
        on_error=lambda name, message: None,
    ).start()
    worker.submit("slow", text="slow prompt")
    frame_times = []
    for _ in range(25):  # one second of frames while the encoder is blocked
        started = time.perf_counter()
        while commands:
            space.set_embedding(*commands.pop(0))
        space.advance()
        frame_times.append(time.perf_counter() - started)
    # The encoder is blocked for the whole second: any frame that waited for it would take seconds.
    assert max(frame_times) < 0.02, "no frame waits for the encoder"
    assert not gate.is_set() and worker.pending == 1
    assert space.mix() == {"now": 1.0}
    gate.set()
    assert worker.wait_idle(5)
    worker.stop()
    while commands:
        space.set_embedding(*commands.pop(0))
    space.advance()
    assert space.mix() == {"now": 0.5, "slow": 0.5}


def test_audio_prompts_are_encoded_from_files(tmp_path):
    path = tmp_path / "clip.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16_000)
        writer.writeframes((np.ones(1600) * 8000).astype("<i2").tobytes())
    inbox = Inbox()
    embedder = CountingEmbedder()
    with EncoderWorker(CachedEmbedder(embedder, EmbeddingCache(tmp_path / "cache")), inbox.on_ready, inbox.on_error) as worker:
        worker.submit("clip", audio_path=path)
        worker.submit("missing", audio_path=tmp_path / "absent.wav")
        assert worker.wait_idle(5)
    assert inbox.ready[0][0] == "clip"
    assert inbox.ready[0][1][0] == np.float32(np.abs(8000 / 32768))
    assert inbox.errors[0][0] == "missing" and "absent.wav" in inbox.errors[0][1]
