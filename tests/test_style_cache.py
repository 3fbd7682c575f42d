"""The embedding cache: a restart never re-encodes."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from mrtd.style.cache import CachedEmbedder, EmbeddingCache, default_cache_dir
from style_fakes import CountingEmbedder

TESTS = Path(__file__).parent


def write_wav(path: Path, seconds: float = 0.5, rate: int = 48_000, amplitude: float = 0.5) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (amplitude * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    stereo = np.repeat(samples[:, None], 2, axis=1)
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(stereo.tobytes())
    return path


def test_a_restart_hits_the_cache_without_calling_the_encoder(tmp_path):
    first_run = CountingEmbedder()
    cached = CachedEmbedder(first_run, EmbeddingCache(tmp_path))
    embedding = cached.embed_text("dark ambient drone")
    assert first_run.text_calls == 1
    cached.embed_text("dark ambient drone")
    assert first_run.text_calls == 1

    # "Restart": new embedder and cache objects over the same folder.
    second_run = CountingEmbedder()
    restarted = CachedEmbedder(second_run, EmbeddingCache(tmp_path))
    np.testing.assert_array_equal(restarted.embed_text("dark ambient drone"), embedding)
    assert second_run.text_calls == 0
    assert restarted.cache.hits == 1


def test_a_restart_in_a_new_process_hits_the_cache(tmp_path):
    script = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from style_fakes import CountingEmbedder
from mrtd.style.cache import CachedEmbedder, EmbeddingCache
inner = CountingEmbedder()
CachedEmbedder(inner, EmbeddingCache({str(tmp_path)!r})).embed_text("bright fast techno")
print(inner.text_calls)
"""
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip() for _ in range(2)]
    assert runs == ["1", "0"]


def test_keys_separate_embedders_and_texts(tmp_path):
    cache = EmbeddingCache(tmp_path)
    one, other = CountingEmbedder("model-a"), CountingEmbedder("model-b")
    CachedEmbedder(one, cache).embed_text("techno")
    CachedEmbedder(other, cache).embed_text("techno")
    CachedEmbedder(one, cache).embed_text("Techno")
    assert (one.text_calls, other.text_calls) == (2, 1)


def test_audio_prompts_are_keyed_by_file_content(tmp_path):
    audio = write_wav(tmp_path / "loop.wav")
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(tmp_path / "cache"))
    embedding = cached.embed_audio_file(audio)
    renamed = audio.rename(tmp_path / "renamed.wav")
    np.testing.assert_array_equal(CachedEmbedder(CountingEmbedder(), EmbeddingCache(tmp_path / "cache")).embed_audio_file(renamed), embedding)
    write_wav(renamed, amplitude=0.1)  # new content under the same name: encoded again
    cached.embed_audio_file(renamed)
    assert inner.audio_calls == 2


def test_writes_are_atomic_and_damaged_entries_are_re_encoded(tmp_path):
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(tmp_path))
    cached.embed_text("pad")
    entries = list(tmp_path.iterdir())
    assert len(entries) == 1 and entries[0].suffix == ".npy", "only the finished entry, no temporary file"
    entries[0].write_bytes(b"truncated")
    cached.embed_text("pad")
    assert inner.text_calls == 2
    cached.embed_text("pad")
    assert inner.text_calls == 2


def test_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "mrtd" / "embeddings"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "mrtd" / "embeddings"


def test_an_embedder_without_audio_support_says_so(tmp_path):
    from mrtd.style.embedder import BuiltinEmbedder

    cached = CachedEmbedder(BuiltinEmbedder(), EmbeddingCache(tmp_path))
    with pytest.raises(TypeError, match="cannot embed audio"):
        cached.embed_audio_file(write_wav(tmp_path / "a.wav"))
