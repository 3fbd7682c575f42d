"""mrtd's MusicCoCa path against the official `magenta_rt.musiccoca.MusicCoCa`, on real TFLite files.

The files are stand-ins with the official names and signatures (tests/musiccoca_standin.py),
run by LiteRT in both programs. The official Python class sends text without the mapper
unless asked; the official real-time engine (core/src/mlx_engine.cpp) uses the mapper when
mapper.tflite is there, and so does mrtd: the comparisons ask the official class to use it.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
from magenta_rt import musiccoca as official_musiccoca
from magenta_rt.audio import Waveform

import mrt2_tiny as tiny
import musiccoca_standin as standin
from conftest import wait_for
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.app.style_choice import choose_style
from mrtd.style.cache import CachedEmbedder, EmbeddingCache

TEXTS = ["dark ambient drone with soft pads", "Bright FAST techno", "warm lofi hip hop beat with piano", ""]
MASKED_TAIL = [-1] * 6  # levels 6-11: the official engine sends only levels 0-5


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("musiccoca")
    mapped = standin.build_musiccoca(root / "mapped", with_mapper=True)
    plain = standin.build_musiccoca(root / "plain", with_mapper=False)
    return {"mapped": mapped, "plain": plain}


@pytest.mark.parametrize("variant", ["mapped", "plain"])
def test_text_embeddings_and_tokens_equal_the_official_ones(folders, variant):
    folder = folders[variant]
    choice = choose_style(folder)
    assert choice.name == "musiccoca"
    official = official_musiccoca.MusicCoCa(folder)
    for text in TEXTS:
        ours = choice.embedder.embed_text(text)
        theirs = official.embed(text, use_mapper=variant == "mapped")
        np.testing.assert_array_equal(ours, theirs, err_msg=text)
        tokens = choice.quantizer.quantize(ours)
        assert list(tokens) == list(official.tokenize(theirs)[:6]) + MASKED_TAIL, text
    if variant == "mapped":
        assert np.linalg.norm(choice.embedder.embed_text(TEXTS[0])) == pytest.approx(1.0, abs=1e-6)


def test_a_weighted_blend_is_quantized_as_the_official_engine_does(folders):
    folder = folders["mapped"]
    choice = choose_style(folder)
    official = official_musiccoca.MusicCoCa(folder)
    space = choice.new_space()
    weights = {"a": 3.0, "b": 1.0, "c": 0.5}
    texts = dict(zip(weights, TEXTS))
    for name, weight in weights.items():
        space.set_prompt(name, choice.embedder.embed_text(texts[name]), weight=weight)
    embedding, tokens = space.advance()
    # mlx_engine.cpp: the weight-normalised sum of the prompt embeddings, quantized as is.
    total = sum(weights.values())
    expected = sum((w / total) * official.embed(texts[n], use_mapper=True) for n, w in weights.items())
    np.testing.assert_allclose(embedding, expected, rtol=0, atol=2e-7)
    assert list(tokens) == list(official.tokenize(embedding.copy())[:6]) + MASKED_TAIL
    single = official.tokenize(official.embed(texts["a"], use_mapper=True))[:6]
    assert list(tokens[:6]) != list(single), "the blend should not quantize like its heaviest prompt alone"


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _music(seconds: float, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t)  # louder and softer over time: clips differ
    return (0.6 * envelope * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_an_audio_file_read_average_embeds_as_the_official_class_embeds_it(folders, tmp_path):
    folder = folders["mapped"]
    choice = choose_style(folder, audio_read="average")
    path = _write_wav(tmp_path / "take.wav", _music(23.0), 16_000)  # three 10 s clips, the last padded
    embedder = CachedEmbedder(choice.embedder, EmbeddingCache(tmp_path / "cache"))
    ours = embedder.embed_audio_file(path)  # the daemon's path: cache, file reader, MusicCoCa
    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    theirs = official_musiccoca.MusicCoCa(folder).embed(Waveform(samples, rate))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    assert list(choice.quantizer.quantize(ours)) == list(official_musiccoca.MusicCoCa(folder).tokenize(theirs)[:6]) + MASKED_TAIL


@pytest.mark.parametrize("seconds", [4.0, 23.0])
def test_an_audio_file_read_first_embeds_as_the_official_apps_feed_the_official_class(folders, tmp_path, seconds):
    """The default: the official apps' reading (its first 10 s at 16 kHz mono, sample i = sample i % n
    when the file is shorter; examples/mrt2/auv3/MagentaRT_AudioUnit.mm), embedded by the official class."""
    folder = folders["mapped"]
    choice = choose_style(folder)
    music = _music(seconds)
    path = _write_wav(tmp_path / "take.wav", music, 16_000)
    ours = CachedEmbedder(choice.embedder, EmbeddingCache(tmp_path / "cache")).embed_audio_file(path)
    samples, _rate = soundfile.read(str(path), dtype="float32")
    read = min(len(samples), 160_000)
    looped = samples[np.arange(160_000) % read]
    theirs = official_musiccoca.MusicCoCa(folder).embed(Waveform(looped[:, None], 16_000))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    average = CachedEmbedder(choose_style(folder, audio_read="average").embedder, EmbeddingCache(tmp_path / "cache"))
    assert not np.allclose(average.embed_audio_file(path), ours, atol=1e-4), "the two readings differ (and do not share a cache entry)"


def _musiccoca_home(tmp_path: Path, folders) -> Path:
    target = tmp_path / "magenta-rt-v2" / "resources" / "musiccoca"
    target.mkdir(parents=True)
    for file in folders["mapped"].iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


def test_the_prompt_reaches_the_models_cond_as_musiccoca_tokens(folders, tmp_path, monkeypatch):
    tiny.export_tiny_model(tmp_path, "mrt2_tiny")
    folder = _musiccoca_home(tmp_path, folders)
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    prompt = TEXTS[0]
    daemon = Daemon(DaemonConfig(engine="mrt2", model="mrt2_tiny", output="null", osc=None, midi=False, prompt=prompt,
                                 fallback_engine=None, cache_dir=str(tmp_path / "cache")))
    daemon.start()
    try:
        engine = daemon.generator.engine
        wait_for(lambda: daemon.status()["frames"] > 2, 20, "frames from mrt2")
        status = daemon.status()
        assert status["embedder"] == "musiccoca" and str(folder) in status["embedder_detail"]
        assert status["style_warning"] == ""
        official = official_musiccoca.MusicCoCa(folder)
        expected = list(official.tokenize(official.embed(prompt, use_mapper=True))[:6]) + MASKED_TAIL
        cond = tiny.state_numpy(engine, "echo_cond").reshape(-1)
        assert list(cond[:12]) == [t + 7 for t in expected], "cond carries the tokens +7, masked levels as 6"
    finally:
        daemon.stop()


def test_mrt2_without_musiccoca_says_prompts_will_not_steer_it(tmp_path, monkeypatch, caplog):
    tiny.export_tiny_model(tmp_path, "mrt2_tiny")
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    daemon = Daemon(DaemonConfig(engine="mrt2", model="mrt2_tiny", output="null", osc=None, midi=False,
                                 fallback_engine=None, cache_dir=str(tmp_path / "cache")))
    with caplog.at_level("WARNING", logger="mrtd"):
        daemon.start()
    try:
        status = daemon.status()
        assert status["embedder"] == "builtin"
        warning = status["style_warning"]
        folder = tmp_path / "magenta-rt-v2" / "resources" / "musiccoca"
        assert "will not steer" in warning and str(folder) in warning
        assert "text_encoder.tflite" in warning and "pretrained_vector_quantizer.tflite" in warning
        assert sum("will not steer" in r.getMessage() for r in caplog.records) == 1, "said once at start"
    finally:
        daemon.stop()


def test_the_synth_with_the_builtin_pair_has_no_warning_until_a_swap_to_mrt2_says_it_once(tmp_path, monkeypatch, caplog):
    tiny.export_tiny_model(tmp_path, "mrt2_tiny")
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    daemon = Daemon(DaemonConfig(engine="synth", output="null", osc=None, midi=False, cache_dir=str(tmp_path / "cache"),
                                 allow_slow=True))
    with caplog.at_level("WARNING", logger="mrtd"):
        daemon.start()
        try:
            assert daemon.status()["embedder"] == "builtin" and daemon.status()["style_warning"] == ""
            for name, model in (("mrt2", "mrt2_tiny"), ("synth", None), ("mrt2", "mrt2_tiny")):
                daemon.swap_engine(name, model).result(120)
                assert ("will not steer" in daemon.status()["style_warning"]) == (name == "mrt2")
        finally:
            daemon.stop()
    assert sum("will not steer" in r.getMessage() for r in caplog.records) == 1, "said once, at the first swap to mrt2"


def test_the_command_line_prompt_is_in_the_very_first_frame(folders, tmp_path):
    from engines_for_tests import RecordingEngine

    folder = folders["mapped"]
    engine = RecordingEngine()
    daemon = Daemon(DaemonConfig(output="null", osc=None, midi=False, prompt=TEXTS[2], musiccoca_dir=str(folder),
                                 cache_dir=str(tmp_path / "cache")), engine=engine)
    daemon.start()
    try:
        wait_for(lambda: len(engine.seen) > 0, 10, "a first frame")
        official = official_musiccoca.MusicCoCa(folder)
        expected = list(official.tokenize(official.embed(TEXTS[2], use_mapper=True))[:6]) + MASKED_TAIL
        assert list(engine.seen[0].style_tokens) == expected
    finally:
        daemon.stop()


def test_damaged_musiccoca_files_fall_back_to_the_builtin_pair_and_say_why(folders, tmp_path):
    folder = tmp_path / "mc"
    folder.mkdir()
    for file in folders["plain"].iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    (folder / "pretrained_vector_quantizer.tflite").write_bytes(b"not a model")
    choice = choose_style(folder)
    assert choice.name == "builtin" and "pretrained_vector_quantizer.tflite" in choice.reason
    assert "could not be loaded" in choice.mrt2_warning()
    with pytest.raises(ValueError):
        choose_style(folder, want="musiccoca")
    (folder / "text_encoder.tflite").unlink()
    assert "text_encoder.tflite" in choose_style(folder).reason


def test_a_48k_stereo_file_embeds_close_to_the_official_class(folders, tmp_path):
    """The usual case: a 48 kHz stereo take. The official class resamples to 16 kHz with resampy
    (numba; too heavy for the daemon), mrtd with a band-limited FFT resampler: the two differ
    only near 8 kHz, so the embeddings agree closely and the sent tokens (levels 0-5) exactly."""
    folder = folders["mapped"]
    choice = choose_style(folder, audio_read="average")
    mono = _music(23.0, 48_000)
    stereo = np.stack([mono, 0.5 * mono[::-1]], axis=1)  # two different channels: the down-mix matters
    path = tmp_path / "take48.wav"
    soundfile.write(str(path), stereo, 48_000, subtype="FLOAT")
    ours = CachedEmbedder(choice.embedder, EmbeddingCache(tmp_path / "cache")).embed_audio_file(path)
    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    theirs = official_musiccoca.MusicCoCa(folder).embed(Waveform(samples, rate))
    cosine = float(np.dot(ours, theirs) / (np.linalg.norm(ours) * np.linalg.norm(theirs)))
    assert cosine > 0.999, cosine
    assert list(choice.quantizer.quantize(ours)) == list(official_musiccoca.MusicCoCa(folder).tokenize(theirs)[:6]) + MASKED_TAIL


@pytest.mark.parametrize("reading", ["first", "average"])
def test_the_config_key_chooses_how_musiccoca_reads_an_audio_prompt(folders, tmp_path, reading):
    daemon = Daemon(DaemonConfig(osc=None, midi=False, cache_dir=str(tmp_path / "cache"), musiccoca_dir=str(folders["mapped"]),
                                 audio_prompt_read=reading))
    assert daemon.style.embedder.audio_read == reading
    assert DaemonConfig().audio_prompt_read == "first", "the official apps' reading is the default"
