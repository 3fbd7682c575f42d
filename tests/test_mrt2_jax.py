"""The jax backend against the official JAX system: a random-weights checkpoint of the official
architecture (mrt2_small with one temporal and one depth layer, the smallest the official model
classes build), loaded by mrtd's `Mrt2JaxEngine` from a $MAGENTA_HOME layout and stepped frame
by frame beside `magenta_rt.jax.system.MagentaRT2System.generate` on the same conditioning, the
state threaded on both sides. Random weights make near-silent audio, so every state array (the
sampled tokens, the caches, the RNG key) is compared too, bit for bit.

The checkpoint takes about 40 s to make on a 2-core CPU; it is cached per magenta-rt version under
$MRTD_TEST_CACHE (default ~/.cache/mrtd-tests), with JAX's compilation cache beside it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import magenta_rt  # noqa: F401  (the test extra; a failed install fails here instead of skipping)

from mrtd.conditioning import Conditioning
from mrtd.engines.jax_checkpoint import (INSTALL_JAX, SOURCE_KEY, architecture, checkpoint_path, checkpoint_source,
                                         installed_checkpoints, layer_counts, write_random_checkpoint)
from mrtd.engines.mrt2 import ModelError
from mrtd.engines.mrt2_jax import Mrt2JaxEngine, enable_compile_cache
from test_mrt2_official import FRAMES, STYLE, _notes, _official_step

MODEL = "mrt2_small"
REPO = Path(__file__).resolve().parent.parent
TEST_CACHE = Path(os.environ.get("MRTD_TEST_CACHE", Path.home() / ".cache" / "mrtd-tests"))
COMPILE_CACHE = TEST_CACHE / "jax-compile"


def _give_style_a_voice(path: Path) -> None:
    """The official initialisation of the MusicCoCa token embedding is zeros (`embedding_init=zeros`),
    so with random weights the style tokens would change nothing and a style lost on the way would
    go unseen. The test checkpoint gives that one table small random values."""
    import safetensors.numpy

    tensors = safetensors.numpy.load_file(str(path))
    for key in tensors:
        if key.endswith("mulan_dequantizer/embedding"):
            tensors[key] = np.random.default_rng(0).normal(0.0, 0.05, tensors[key].shape).astype(np.float32)
    safetensors.numpy.save_file(tensors, str(path), metadata={SOURCE_KEY: "random-weights"})


@pytest.fixture(scope="session")
def jax_home() -> Path:
    """A MAGENTA_HOME holding a random-weights 1-layer mrt2_small JAX checkpoint (made once per magenta-rt version)."""
    enable_compile_cache(COMPILE_CACHE)  # before anything compiles: the engine and the official system share it
    root = TEST_CACHE / f"magenta-rt-{metadata.version('magenta-rt')}-jax"
    path = checkpoint_path(MODEL, root)
    if not path.is_file():
        staged = path.with_name(f".{path.name}.{os.getpid()}")
        write_random_checkpoint(staged, MODEL, num_layers=1, depth_num_layers=1)
        _give_style_a_voice(staged)
        os.replace(staged, path)  # another session making it too finds a whole file or none
    return root


@pytest.fixture(scope="session")
def official_jax(jax_home: Path):
    """The official system on the same checkpoint (the 1-layer variant of the official class)."""
    from magenta_rt.jax.system import MagentaRT2System

    path = checkpoint_path(MODEL, jax_home)
    return MagentaRT2System(size=architecture(MODEL, path), style_model=object(), checkpoint=str(path))


@pytest.fixture(scope="module")
def jax_engine(jax_home: Path):
    engine = Mrt2JaxEngine(MODEL, jax_home)  # through the asset layout, as a real checkpoint is found
    yield engine
    engine.close()


def _bits(array) -> np.ndarray:
    """The array's bit pattern (bf16 compares as its bits; bits also compare NaNs exactly)."""
    array = np.asarray(array)
    return array if array.dtype.kind in "iub" else array.view(np.dtype(f"u{array.dtype.itemsize}"))


def _leaves(state) -> list[np.ndarray]:
    import jax

    return [_bits(leaf) for leaf in jax.tree.leaves(state)]


def _tokens(leaves: list[np.ndarray]) -> np.ndarray:
    """The frame's sampled SpectroStream tokens: the first [1, 1, 12] int32 state array."""
    return next(leaf for leaf in leaves if leaf.shape == (1, 1, 12) and leaf.dtype == np.int32)


def test_the_jax_backend_samples_the_official_tokens_frame_by_frame(jax_engine, official_jax):
    jax_engine.rotate_seed(0)
    jax_engine.reset()
    state = None
    for label, conditioning in FRAMES:
        frame = np.array(jax_engine.step(conditioning))
        audio, state = _official_step(official_jax, state, conditioning)
        np.testing.assert_array_equal(frame, audio, err_msg=label)
        theirs = _leaves(state)  # read now: the next call donates this state
        ours = [_bits(leaf) for leaf in jax_engine.state]
        assert len(ours) == len(theirs), label
        for index, (mine, official) in enumerate(zip(ours, theirs)):
            assert mine.dtype == official.dtype and mine.shape == official.shape, f"{label}: state leaf {index}"
            np.testing.assert_array_equal(mine, official, err_msg=f"{label}: state leaf {index}")


def test_every_conditioning_field_moves_the_official_state(official_jax):
    # Without this, the comparison above could pass with a field lost on the way to the model: each
    # field changes the state after one frame (the caches hold what the encoder made of it, the
    # sampled tokens what temperature and top-k did), so the state-for-state comparison sees each.
    base = Conditioning(style_tokens=STYLE)
    variants = {
        "style tokens": Conditioning(),
        "notes": Conditioning(style_tokens=STYLE, notes=_notes(p60=2, p64=1)),
        "drums": Conditioning(style_tokens=STYLE, drums=1),
        "style guidance": Conditioning(style_tokens=STYLE, cfg_style=5.5),
        "notes guidance": Conditioning(style_tokens=STYLE, cfg_notes=-0.5),
        "drums guidance": Conditioning(style_tokens=STYLE, cfg_drums=0.0),
        "temperature": Conditioning(style_tokens=STYLE, temperature=0.4),
        "top-k": Conditioning(style_tokens=STYLE, top_k=7),
    }
    expected = _leaves(_official_step(official_jax, None, base)[1])
    for label, conditioning in variants.items():
        moved = _leaves(_official_step(official_jax, None, conditioning)[1])
        assert any(not np.array_equal(a, b) for a, b in zip(moved, expected)), f"{label} does not reach the state"


def test_seed_rotation_changes_the_music_and_zero_gives_the_official_key_back(jax_engine, official_jax):
    import jax

    masked = Conditioning()
    official = _tokens(_leaves(_official_step(official_jax, None, masked)[1]))
    jax_engine.step(Conditioning(seed=5))  # noticed now, applied at the next reset, as in the MLX engine
    jax_engine.reset()
    key = next(leaf for leaf in jax_engine.state if leaf.dtype == np.uint32 and leaf.shape[-1] == 2)
    np.testing.assert_array_equal(np.asarray(key).ravel(), np.asarray(jax.random.PRNGKey(42 + 5)))
    jax_engine.step(Conditioning(seed=5))
    assert not np.array_equal(_tokens([_bits(a) for a in jax_engine.state]), official)
    jax_engine.step(Conditioning(seed=0, reset=True))
    np.testing.assert_array_equal(_tokens([_bits(a) for a in jax_engine.state]), official)


def test_a_random_weights_checkpoint_is_the_official_file_with_its_layers_read_back(jax_home):
    path = checkpoint_path(MODEL, jax_home)
    assert path == jax_home / "magenta-rt-v2" / "checkpoints" / "mrt2_small.safetensors"  # `mrt checkpoints download`'s
    assert installed_checkpoints(jax_home) == [MODEL]
    assert checkpoint_source(path) == "random-weights"
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as file:
        keys = list(file.keys())
    assert all(key.startswith("params/") for key in keys)  # the Flax variables, joined by "/", as the official loader reads them
    assert layer_counts(keys) == {"temporal": 1, "depth": 1}
    assert architecture(MODEL, path) == "mrt2_small-L1-D1"


def test_a_missing_checkpoint_names_the_file_and_how_to_get_it(tmp_path):
    with pytest.raises(ModelError) as refused:
        Mrt2JaxEngine(MODEL, tmp_path)
    message = str(refused.value)
    assert str(checkpoint_path(MODEL, tmp_path)) in message
    assert "mrt checkpoints download" in message and "--random-weights --backend jax" in message


def test_without_jax_the_backend_names_the_extra_and_the_daemon_plays_the_synth(tmp_path, jax_home, monkeypatch):
    from mrtd.engines import create_engine

    for module in ("jax", "magenta_rt.jax.system"):
        monkeypatch.setitem(sys.modules, module, None)  # `import jax` now raises ImportError
    with pytest.raises(ModelError) as refused:
        create_engine("mrt2", backend="jax", magenta_home=jax_home)
    assert INSTALL_JAX in str(refused.value) and "pip install -e '.[jax]'" in str(refused.value)
    monkeypatch.setenv("MAGENTA_HOME", str(jax_home))
    with _daemon(tmp_path) as daemon:
        status = daemon.status()
        assert status["engine"].startswith("synth") and status["backend"] == ""
        assert "pip install -e '.[jax]'" in status["engine_error"]


def _daemon(folder: Path):
    """A daemon asked for mrt2 on jax (the null output, no OSC), falling back to the synth."""
    import contextlib

    from mrtd.app.daemon import Daemon, DaemonConfig

    @contextlib.contextmanager
    def running():
        daemon = Daemon(DaemonConfig(engine="mrt2", backend="jax", output="null", osc=None, midi=False,
                                     cache_dir=str(folder / "cache"), scene_dir=str(folder / "scenes"),
                                     record_dir=str(folder / "recordings")))
        daemon.start()
        try:
            yield daemon
        finally:
            daemon.stop()

    return running()


def test_render_on_a_missing_jax_says_which_extra(tmp_path, jax_home):
    # A `jax` that fails to import, first on the path: what a venv without the extra's JAX gives.
    broken = tmp_path / "site" / "jax"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('No module named jax (test)')\n")
    scene = REPO / "scenes" / "live-coding.yaml"
    env = dict(os.environ, MAGENTA_HOME=str(jax_home), PYTHONPATH=f"{tmp_path / 'site'}{os.pathsep}{REPO / 'daemon'}")
    done = subprocess.run([sys.executable, "-m", "mrtd", "render", str(scene), "-o", str(tmp_path / "out.wav"),
                           "--engine", "mrt2", "--backend", "jax", "--seconds", "0.1"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert done.returncode == 2, done.stderr
    assert "pip install -e '.[jax]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.wav").exists()


def test_a_swap_between_the_mlx_and_jax_backends_keeps_playing_and_status_names_each(tmp_path, jax_home, monkeypatch):
    # On this CPU the JAX step takes ~250 ms (the official 1-layer MLX export ~3 s): neither keeps
    # up with the JACK dummy device, so the swap plays to the null output (allow_slow) and what is
    # checked is the swap itself, both ways, and what status says of each backend.
    from conftest import running_daemon, wait_for
    from mrt2_tiny import export_tiny_model
    from mrtd.engines.mrt2 import Mrt2Engine

    export_tiny_model(tmp_path, "mrt2_tiny")  # MLX: the tiny signature model, stepped through the real MLX engine
    checkpoints = tmp_path / "magenta-rt-v2" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / f"{MODEL}.safetensors").symlink_to(checkpoint_path(MODEL, jax_home))
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    mlx = Mrt2Engine("mrt2_tiny", tmp_path, warmup_steps=2)
    with running_daemon(tmp_path, engine=mlx, allow_slow=True, midi=False) as (daemon, _):
        assert daemon.status()["backend"] == "mlx" and daemon.status()["hardware"].startswith("MLX cpu")
        swapped = daemon.swap_engine("mrt2", MODEL, crossfade_frames=1, backend="jax").result(timeout=240)
        assert swapped.backend == "jax" and daemon.generator.engine is swapped
        frames = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames >= frames + 2, 30, "frames from the jax engine")
        status = daemon.status()
        assert status["backend"] == "jax" and status["hardware"].startswith("JAX cpu")
        assert "asked for (backend jax)" in status["backend_note"] and " on jax " in status["engine"]
        assert status["engine_faults"] == 0
        back = daemon.swap_engine("mrt2", "mrt2_tiny", crossfade_frames=1, backend="mlx").result(timeout=60)
        assert back.backend == "mlx" and daemon.status()["backend"] == "mlx"
        assert swapped._closed  # the jax engine let go of its device memory once swapped out
        assert daemon.status()["engine_faults"] == 0
