"""The real architecture: an official export (magenta-rt's `mrt mlx export`, random weights, 1 layer)
loaded by mrtd from a $MAGENTA_HOME layout, stepped frame by frame beside the official
`MagentaRT2SystemStdMlxfn` on the same conditioning. Random weights make silent audio, so every
state array (sampled tokens, caches, RNG key) is compared too, bit for bit.

The export takes about a minute on a 2-core CPU; it is cached per magenta-rt version under
$MRTD_TEST_CACHE (default ~/.cache/mrtd-tests), so later sessions reuse it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import magenta_rt  # noqa: E402,F401  (the test extra; a failed install fails here instead of skipping)

from mrtd.conditioning import NOTE_HELD, NOTE_OFF, NOTE_ONSET, Conditioning  # noqa: E402
from mrtd.engines.mrt2 import Mrt2Engine, mlx_session  # noqa: E402

MODEL = "mrt2_small"


@pytest.fixture(scope="session")
def official_home() -> Path:
    return official_export_home()


def official_export_home() -> Path:
    """A MAGENTA_HOME holding an official 1-layer mrt2_small export (made once per magenta-rt version)."""
    version = metadata.version("magenta-rt")
    root = Path(os.environ.get("MRTD_TEST_CACHE", Path.home() / ".cache" / "mrtd-tests")) / f"magenta-rt-{version}"
    models = root / "magenta-rt-v2" / "models"
    if not (models / MODEL / f"{MODEL}_state.safetensors").is_file():
        exporter = Path(sys.executable).with_name("mrt")
        subprocess.run([str(exporter), "mlx", "export", "--output-name", MODEL, "--model", MODEL, "--skip-restore",
                        "--num-layers", "1", "--depth-num-layers", "1", "--output-dir", str(models)],
                       check=True, capture_output=True, timeout=900)
    return root


def _official(home: Path):
    from magenta_rt import paths
    from magenta_rt.mlx.system import MagentaRT2SystemStdMlxfn

    paths.set_magenta_home(home / "magenta-rt-v2")
    # style_model: we pass tokens, never text, so MusicCoCa's (absent) files are not needed.
    return MagentaRT2SystemStdMlxfn(size=MODEL, style_model=object(), warmup_steps=0)


def _notes(**pitches: int) -> np.ndarray:
    notes = np.full(128, -1, dtype=np.int8)
    for pitch, value in pitches.items():
        notes[int(pitch[1:])] = value
    return notes


STYLE = np.array([5, 77, 300, 1023, 0, 42, -1, -1, -1, -1, -1, -1], dtype=np.int32)
# One conditioning per frame: each one changes something the official wrapper passes.
FRAMES = [
    ("masked", Conditioning()),
    ("style tokens", Conditioning(style_tokens=STYLE)),
    ("notes held", Conditioning(style_tokens=STYLE, notes=_notes(p60=NOTE_ONSET, p64=NOTE_HELD, p67=NOTE_HELD))),
    ("notes released", Conditioning(style_tokens=STYLE, notes=_notes(p60=NOTE_OFF, p64=NOTE_OFF, p67=NOTE_OFF))),
    ("drums", Conditioning(style_tokens=STYLE, drums=1)),
    ("cfg, temperature, top-k", Conditioning(style_tokens=STYLE, drums=0, cfg_style=5.5, cfg_notes=-0.5,
                                             cfg_drums=2.0, temperature=0.4, top_k=7)),
]


def _bits(mx, array) -> np.ndarray:
    """The array's bit pattern (bf16 has no numpy type; bits also compare NaNs exactly)."""
    if mx.issubdtype(array.dtype, mx.floating):
        array = array.view({2: mx.uint16, 4: mx.uint32, 8: mx.uint64}[array.dtype.size])
    return np.array(array)


def _official_step(system, state, conditioning: Conditioning):
    from magenta_rt.config import DRUM_PIANOROLL, MUSICCOCA, PIANOROLL_WITH_ONSETS

    tokens = {MUSICCOCA.key: [int(t) for t in conditioning.style_tokens],
              PIANOROLL_WITH_ONSETS.key: [int(n) for n in conditioning.notes],
              DRUM_PIANOROLL.key: [int(conditioning.drums)]}
    scales = {"musiccoca": conditioning.cfg_style, "notes": conditioning.cfg_notes, "drums": conditioning.cfg_drums}
    waveform, state = system.generate(tokens, scales, conditioning.temperature, conditioning.top_k, frames=1,
                                      state=state)
    return waveform.samples, state


def test_mrtd_steps_an_official_export_bit_identically(official_home, monkeypatch):
    monkeypatch.setenv("MAGENTA_HOME", str(official_home))
    engine = Mrt2Engine(MODEL)  # through $MAGENTA_HOME, as a real model is found
    assert engine.function_path == official_home / "magenta-rt-v2" / "models" / MODEL / f"{MODEL}.mlxfn"
    with mlx_session():
        system = _official(official_home)
    state = None
    for label, conditioning in FRAMES:
        frame = np.array(engine.step(conditioning))
        with mlx_session() as mx:
            audio, state = _official_step(system, state, conditioning)
            expected_state = [_bits(mx, a) for a in state]
            ours = [_bits(mx, a) for a in engine.state]
        np.testing.assert_array_equal(frame, audio, err_msg=label)
        assert len(ours) == len(expected_state)
        for index, (mine, theirs) in enumerate(zip(ours, expected_state)):
            assert mine.dtype == theirs.dtype, f"{label}: state_{index} dtype"
            np.testing.assert_array_equal(mine, theirs, err_msg=f"{label}: state_{index}")
    engine.close()
