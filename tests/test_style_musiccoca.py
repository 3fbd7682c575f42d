"""MusicCoCa up to the interpreter boundary: missing files, wrong shapes, tokenizer handling, audio clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import style_fakes as fakes
from musiccoca_standin import CORPUS  # the stand-in's tokenizer is trained on it too
from mrtd.style.musiccoca import (
    CLIP_SAMPLES,
    MAX_TEXT_TOKENS,
    MissingAssetError,
    ModelShapeError,
    MusicCoCaEmbedder,
    split_clips,
    text_token_ids,
    to_mono_16k,
)
from mrtd.style.musiccoca_assets import InvalidModelError, magenta_home, musiccoca_dir

import sentencepiece  # noqa: E402  (the test extra installs it)


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory) -> Path:
    """A real SentencePiece model trained on a tiny corpus (MusicCoCa's tokenizer is one too)."""
    folder = tmp_path_factory.mktemp("spm")
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(CORPUS))
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "tiny"), vocab_size=60, model_type="unigram",
        bos_id=-1, eos_id=-1, unk_id=0, hard_vocab_limit=False, minloglevel=2,
    )
    return folder / "tiny.model"


def embedder_with(folder: Path, interpreters: dict, **kwargs) -> MusicCoCaEmbedder:
    return MusicCoCaEmbedder(folder, interpreter_factory=fakes.factory_for(interpreters), **kwargs)


# -- missing files ------------------------------------------------------------


@pytest.mark.parametrize("missing", ["spm.model", "text_encoder.tflite", "audio_preprocessor.tflite", "music_encoder.tflite"])
def test_each_missing_file_is_named(tmp_path, missing):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", skip=(missing,))
    with pytest.raises(MissingAssetError) as raised:
        MusicCoCaEmbedder(folder)
    message = str(raised.value)
    assert str(folder / missing) in message
    others = {"spm.model", "text_encoder.tflite", "audio_preprocessor.tflite", "music_encoder.tflite"} - {missing}
    assert not any(other in message for other in others)


def test_several_missing_files_come_in_one_message(tmp_path):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", skip=("spm.model", "music_encoder.tflite"))
    with pytest.raises(MissingAssetError, match=r"assets missing: .*spm\.model, .*music_encoder\.tflite"):
        MusicCoCaEmbedder(folder)


def test_an_empty_folder_names_every_file(tmp_path):
    with pytest.raises(MissingAssetError) as raised:
        MusicCoCaEmbedder(tmp_path)
    for name in ("spm.model", "text_encoder.tflite", "audio_preprocessor.tflite", "music_encoder.tflite"):
        assert name in str(raised.value)


def test_asking_for_the_mapper_when_it_is_absent_names_it(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    with pytest.raises(MissingAssetError, match="mapper.tflite"):
        MusicCoCaEmbedder(folder, use_mapper=True)


def test_default_folder_is_under_magenta_home(monkeypatch, tmp_path):
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    assert musiccoca_dir() == tmp_path / "magenta-rt-v2" / "resources" / "musiccoca"
    monkeypatch.delenv("MAGENTA_HOME")
    assert magenta_home() == Path.home() / "Documents" / "Magenta"


def test_models_load_lazily_off_the_constructor(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    factory = fakes.factory_for({"text_encoder.tflite": fakes.text_encoder()})
    embedder = MusicCoCaEmbedder(folder, interpreter_factory=factory)
    assert factory.loaded == []
    embedder.embed_text("techno")
    assert factory.loaded == ["text_encoder.tflite"]


# -- tokenizer ------------------------------------------------------------------


def test_text_becomes_start_id_then_pieces_then_padding(spm_model):
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))
    ids, paddings = text_token_ids(tokenizer, "Dark Ambient Drone")
    pieces = tokenizer.EncodeAsIds("dark ambient drone")
    assert ids.dtype == np.int32 and paddings.dtype == np.float32
    assert ids.shape == paddings.shape == (MAX_TEXT_TOKENS,)
    assert ids[0] == 1
    assert list(ids[1 : 1 + len(pieces)]) == pieces
    assert (ids[1 + len(pieces) :] == 0).all()
    assert (paddings[: 1 + len(pieces)] == 0).all() and (paddings[1 + len(pieces) :] == 1).all()


def test_text_is_lower_cased_and_long_text_is_cut_to_128_tokens(spm_model):
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))
    upper, _ = text_token_ids(tokenizer, "BRIGHT FAST TECHNO")
    lower, _ = text_token_ids(tokenizer, "bright fast techno")
    np.testing.assert_array_equal(upper, lower)
    long_ids, long_paddings = text_token_ids(tokenizer, " ".join(CORPUS))
    assert long_ids.shape == (MAX_TEXT_TOKENS,) and (long_paddings == 0).all() and long_ids[0] == 1
    empty_ids, empty_paddings = text_token_ids(tokenizer, "")
    assert empty_ids[0] == 1 and (empty_ids[1:] == 0).all() and empty_paddings[0] == 0 and (empty_paddings[1:] == 1).all()


def test_text_reaches_the_encoder_as_ids_and_paddings_whatever_their_order(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    for swap in (False, True):
        encoder = fakes.text_encoder(swap_order=swap)
        embedding = embedder_with(folder, {"text_encoder.tflite": encoder}).embed_text("Warm LoFi piano")
        sent = encoder.history[-1]
        tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))
        expected_ids, expected_paddings = text_token_ids(tokenizer, "warm lofi piano")
        np.testing.assert_array_equal(sent[0].reshape(-1), expected_ids)
        np.testing.assert_array_equal(sent[1].reshape(-1), expected_paddings)
        assert embedding.shape == (768,) and embedding.dtype == np.float32
        np.testing.assert_allclose(embedding, fakes.ids_embedding(expected_ids, expected_paddings))


def test_mapper_refines_text_embeddings_when_present(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model, with_mapper=True)
    mapper = fakes.mapper(scale=3.0)
    embedder = embedder_with(folder, {"text_encoder.tflite": fakes.text_encoder(), "mapper.tflite": mapper})
    assert embedder.use_mapper and embedder.identity.endswith("-mapped")
    embedding = embedder.embed_text("techno")
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-6), "mapper output is L2-normalised"
    noise = mapper.history[-1][1].reshape(-1)
    np.testing.assert_array_equal(noise, np.random.RandomState(0).randn(768).astype(np.float32))
    unmapped = embedder_with(folder, {"text_encoder.tflite": fakes.text_encoder()}, use_mapper=False)
    assert unmapped.identity != embedder.identity, "cache entries of mapped and unmapped text never mix"


def test_dynamic_text_inputs_are_resized_to_128(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    encoder = fakes.text_encoder(ids_shape=(1, 1), paddings_shape=(1, 1), dynamic=True)
    embedder_with(folder, {"text_encoder.tflite": encoder}).embed_text("techno")
    assert sorted(encoder.resizes) == [(0, [1, 128]), (1, [1, 128])]


# -- wrong shapes -----------------------------------------------------------------


def test_a_text_encoder_with_fixed_wrong_input_length_is_refused(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    encoder = fakes.text_encoder(ids_shape=(1, 64), paddings_shape=(1, 64))
    with pytest.raises(ModelShapeError, match=r"text_encoder.tflite: ids input has shape \(1, 64\), expected 128 values"):
        embedder_with(folder, {"text_encoder.tflite": encoder}).embed_text("techno")


def test_a_text_encoder_with_the_wrong_output_size_is_refused(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    encoder = fakes.text_encoder(output_shape=(1, 512))
    with pytest.raises(ModelShapeError, match=r"text_encoder.tflite: output has shape \(1, 512\), expected 768 values"):
        embedder_with(folder, {"text_encoder.tflite": encoder}).embed_text("techno")


def test_a_text_encoder_without_an_int32_input_is_refused(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    wrong = fakes.FakeInterpreter(
        [fakes.tensor(0, (1, 128), np.float32), fakes.tensor(1, (1, 128), np.float32)],
        [fakes.tensor(2, (1, 768), np.float32)],
        lambda values: [np.zeros((1, 768), np.float32)],
    )
    with pytest.raises(ModelShapeError, match="one int32 ids input and one float32 paddings input, found float32"):
        embedder_with(folder, {"text_encoder.tflite": wrong}).embed_text("techno")


def test_audio_models_with_wrong_shapes_are_refused(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    short = {"audio_preprocessor.tflite": fakes.audio_preprocessor(samples=48_000), "music_encoder.tflite": fakes.music_encoder()}
    with pytest.raises(ModelShapeError, match=r"audio_preprocessor.tflite: audio input has shape \(1, 48000\), expected 160000"):
        embedder_with(folder, short).embed_audio(np.zeros(16_000), 16_000)
    mismatched = {"audio_preprocessor.tflite": fakes.audio_preprocessor(), "music_encoder.tflite": fakes.music_encoder(features=(1, 50, 8))}
    with pytest.raises(ModelShapeError, match=r"music_encoder.tflite: features input has shape \(1, 50, 8\), expected 800 values"):
        embedder_with(folder, mismatched).embed_audio(np.zeros(16_000), 16_000)


# -- audio ------------------------------------------------------------------------------


def test_audio_read_average_is_downmixed_resampled_split_into_10s_clips_and_averaged(tmp_path, spm_model):
    """As the official Python library (magenta_rt/musiccoca.py) embeds a file."""
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    preprocessor = fakes.audio_preprocessor()
    embedder = embedder_with(folder, {"audio_preprocessor.tflite": preprocessor, "music_encoder.tflite": fakes.music_encoder()},
                             audio_read="average")
    assert embedder.audio_needs.seconds == 30
    rate = 48_000
    seconds = 25  # two full clips and a half one, zero-padded
    t = np.arange(seconds * rate) / rate
    left = 0.5 * np.sin(2 * np.pi * 220 * t)
    stereo = np.stack([left, left], axis=1).astype(np.float32)
    embedding = embedder.embed_audio(stereo, rate)
    assert preprocessor.invocations == 3
    clips = [values[0].reshape(-1) for values in preprocessor.history]
    assert all(clip.shape == (CLIP_SAMPLES,) for clip in clips)
    assert np.abs(clips[2][5 * 16_000 + 100 :]).max() == 0, "the last clip is zero-padded"
    # A 220 Hz sine at 0.5 survives down-mixing and resampling: RMS ~0.354 in full clips.
    assert np.sqrt(np.mean(clips[0] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    assert embedding.shape == (768,) and embedding[1] == pytest.approx(1.0)
    per_clip_loudness = [float(np.sqrt(np.mean(c.reshape(100, -1) ** 2, axis=1)).mean()) for c in clips]
    assert embedding[0] == pytest.approx(np.mean(per_clip_loudness), rel=1e-4)


@pytest.mark.parametrize("seconds", [3.0, 10.0, 25.0])
def test_audio_read_first_is_the_first_10s_looped_to_fill_them_as_the_official_apps_read(tmp_path, spm_model, seconds):
    """The official apps (examples/mrt2/auv3/MagentaRT_AudioUnit.mm and the standalone, Jam, Collider apps)
    read 160,000 samples at 16 kHz mono and, when the file gave fewer (n), set sample i to sample i % n."""
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    preprocessor = fakes.audio_preprocessor()
    embedder = embedder_with(folder, {"audio_preprocessor.tflite": preprocessor, "music_encoder.tflite": fakes.music_encoder()})
    assert embedder.audio_read == "first" and embedder.audio_needs.seconds == 10, "the default: the apps' way"
    mono = np.random.default_rng(3).uniform(-0.5, 0.5, int(seconds * 16_000)).astype(np.float32)
    embedding = embedder.embed_audio(mono, 16_000)
    assert preprocessor.invocations == 1, "one clip"
    read = min(len(mono), CLIP_SAMPLES)
    expected = np.array([mono[i % read] for i in range(CLIP_SAMPLES)], dtype=np.float32)  # the apps' loop, as written
    np.testing.assert_array_equal(preprocessor.history[0][0].reshape(-1), expected)
    assert embedding[1] == pytest.approx(1.0)


def test_an_unknown_audio_read_is_refused(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    with pytest.raises(ValueError, match="audio_prompt_read is one of first, average"):
        MusicCoCaEmbedder(folder, audio_read="whole")


def test_resampling_keeps_the_pitch_and_does_not_alias():
    rate = 44_100
    t = np.arange(rate) / rate
    mono = to_mono_16k(np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 12_000 * t), rate)
    assert len(mono) == 16_000
    spectrum = np.abs(np.fft.rfft(mono))
    peak_hz = np.argmax(spectrum) * 16_000 / len(mono)
    assert peak_hz == pytest.approx(1000, abs=2)
    # 12 kHz is above the new Nyquist (8 kHz): it must vanish, not fold down to 4 kHz.
    assert spectrum[4000] < 0.01 * spectrum[1000]


def test_split_clips_always_gives_at_least_one_clip():
    assert split_clips(np.zeros(0, np.float32)).shape == (1, CLIP_SAMPLES)
    assert split_clips(np.ones(CLIP_SAMPLES, np.float32)).shape == (1, CLIP_SAMPLES)
    assert split_clips(np.ones(CLIP_SAMPLES + 1, np.float32)).shape == (2, CLIP_SAMPLES)


# -- identity ---------------------------------------------------------------------------


def test_identity_changes_when_the_model_files_change(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    before = MusicCoCaEmbedder(folder).identity
    assert before.startswith("musiccoca-")
    assert MusicCoCaEmbedder(folder).identity == before, "stable across restarts"
    (folder / "text_encoder.tflite").write_bytes(b"a different model")
    assert MusicCoCaEmbedder(folder).identity != before


def test_real_litert_refuses_a_non_model_file_clearly(tmp_path, spm_model):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", spm_model)
    embedder = MusicCoCaEmbedder(folder)  # the real LiteRT factory
    with pytest.raises(InvalidModelError, match=r"text_encoder\.tflite could not be loaded as a TFLite model"):
        embedder.embed_text("techno")
