"""Tiny MLX functions with exactly the MRT2 signature, exported into a temporary MAGENTA_HOME.

The step function is a small recurrent thing: a 16-d hidden vector updated
each frame from a mix of every input (style tokens, notes, drums, each CFG
scale, temperature, top_k, forced tokens, the previous-frame tokens and
RNG noise), and audio that is a phase-continuous sine whose frequency and
amplitude follow the hidden vector (the amplitude ramps across the frame, so
the audio never jumps). It also echoes its inputs into state arrays, so tests
can read back exactly what reached the function:

    state_0  hidden          float32 [1,16]
    state_1  RNG key         uint32  [1,2]    (the only uint32 [...,2]: seed rotation)
    state_2  echo forced     int32   [1,1,12] (last forced tokens, -1 if none)
    state_3  phase           float32 [1]
    state_4  amplitude       float32 [1]
    state_5  echo cond       int32   [1,1,141]
    state_6  echo neg_style  int32   [1,1,141]
    state_7  echo neg_notes  int32   [1,1,141]
    state_8  echo scalars    float32 [6]      (temperature, top_k, cfg x3, forced frames)
    state_9  step counter    int32   [1]
    state_10 previous frame  int32   [1,1,12] (the last [1,1,12]: the decoder's slot)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mrtd.engines.mrt2 import (
    ASSETS_DIR,
    COND_LEN,
    ENCODER_INPUT_SAMPLES,
    RVQ_LEVELS,
    RVQ_VOCAB,
    mlx_core,
)
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE

HIDDEN = 16
ENCODER_LEVELS = 16  # like SpectroStream: more levels than the model reads
STATE_NAMES = ("hidden", "rng", "echo_forced", "phase", "amp", "echo_cond", "echo_neg_style", "echo_neg_notes",
               "echo_scalars", "counter", "previous_frame")
STATE = {name: index for index, name in enumerate(STATE_NAMES)}
VARIANTS = ("ok", "wrong_signature", "wrong_state_shape", "wrong_audio_shape", "wrong_output_count")


def initial_state(mx, hidden: int = HIDDEN, seed: int = 0) -> list:
    return [
        mx.zeros((1, hidden)),
        mx.random.key(seed).reshape(1, 2),
        mx.full((1, 1, RVQ_LEVELS), -1, dtype=mx.int32),
        mx.zeros((1,)),
        mx.full((1,), 0.3),
        mx.zeros((1, 1, COND_LEN), dtype=mx.int32),
        mx.zeros((1, 1, COND_LEN), dtype=mx.int32),
        mx.zeros((1, 1, COND_LEN), dtype=mx.int32),
        mx.zeros((6,)),
        mx.zeros((1,), dtype=mx.int32),
        mx.zeros((1, 1, RVQ_LEVELS), dtype=mx.int32),
    ]


def example_args(mx, forced_frames: int = 0) -> list:
    cond = mx.full((1, 1, COND_LEN), 6, dtype=mx.int32)
    return [
        cond,
        mx.array([1.1]),
        mx.array([50], dtype=mx.int32),
        mx.array([1.6]),
        mx.array([2.4]),
        mx.array([4.0]),
        cond,
        cond,
        mx.zeros((1, forced_frames, RVQ_LEVELS), dtype=mx.int32),
    ]


def make_step_function(mx, weights_seed: int = 0, heavy_matmuls: int = 0, heavy_size: int = 256,
                       audio_shape_ok: bool = True, drop_last_state: bool = False):
    """The recurrent step. `heavy_matmuls` adds a matmul chain so a step costs what a real model might."""
    rng = np.random.default_rng(weights_seed)
    features = 3 * COND_LEN + 5 + 2 * RVQ_LEVELS
    w_in = mx.array((rng.standard_normal((features, HIDDEN)) * 0.3).astype(np.float32))
    w_h = mx.array((rng.standard_normal((HIDDEN, HIDDEN)) * 0.5).astype(np.float32))
    w_big = mx.array((rng.standard_normal((heavy_size, heavy_size)) / math.sqrt(heavy_size)).astype(np.float32))
    sample_index = mx.arange(1, FRAME_SAMPLES + 1).astype(mx.float32)
    level_offsets = (mx.arange(RVQ_LEVELS) * RVQ_VOCAB + 6).astype(mx.int32).reshape(1, 1, RVQ_LEVELS)

    def step(cond, temperature, top_k, cfg_style, cfg_notes, cfg_drums, neg_style, neg_notes, forced,
             hidden, rng_key, echo_forced, phase, amp, echo_cond, echo_neg_style, echo_neg_notes, echo_scalars,
             counter, previous_frame):
        forced_frames = forced.shape[1]
        if forced_frames:
            forced_feature = (forced.reshape(RVQ_LEVELS) % 97).astype(mx.float32) / 97.0
        else:
            forced_feature = mx.zeros((RVQ_LEVELS,))
        scalars = mx.concatenate([temperature, top_k.astype(mx.float32) / 100.0, cfg_style, cfg_notes, cfg_drums])
        feature = mx.concatenate([
            cond.reshape(COND_LEN).astype(mx.float32) / 16.0,
            neg_style.reshape(COND_LEN).astype(mx.float32) / 16.0,
            neg_notes.reshape(COND_LEN).astype(mx.float32) / 16.0,
            scalars,
            forced_feature,
            (previous_frame.reshape(RVQ_LEVELS) % 89).astype(mx.float32) / 89.0,
        ])
        key_now, key_next = mx.random.split(rng_key.reshape(2))
        noise = mx.random.normal((HIDDEN,), key=key_now) * 0.3 * temperature
        h = mx.tanh(hidden[0] @ w_h + feature @ w_in + noise)
        if heavy_matmuls:
            x = w_big * (1.0 + 0.01 * h[3])
            for _ in range(heavy_matmuls):
                x = mx.tanh(x @ w_big)
            h = h + 1e-3 * x.mean()
        # Audio: a phase-continuous sine; amplitude ramps from the last frame's value.
        frequency = 110.0 + 330.0 * mx.sigmoid(h[0])
        new_amp = 0.2 + 0.25 * mx.sigmoid(h[1])
        phases = phase + (2.0 * math.pi / SAMPLE_RATE) * frequency * sample_index
        ramp = amp + (new_amp - amp) * sample_index / FRAME_SAMPLES
        left = ramp * mx.sin(phases)
        right = ramp * mx.sin(phases + 0.5)
        audio = mx.round(mx.stack([left, right])[None] * 32767.0).astype(mx.int16)  # [1,2,1920]
        if not audio_shape_ok:
            audio = audio.transpose(0, 2, 1)  # [1,1920,2]: interleaved, not planar
        new_phase = mx.remainder(phases[-1:], 2.0 * math.pi)
        if forced_frames:
            new_previous = forced
        else:
            sampled = (mx.sigmoid(h[:RVQ_LEVELS]) * (RVQ_VOCAB - 1)).astype(mx.int32).reshape(1, 1, RVQ_LEVELS)
            new_previous = sampled + level_offsets
        new_echo_forced = forced if forced_frames else mx.full((1, 1, RVQ_LEVELS), -1, dtype=mx.int32)
        echo = mx.concatenate([scalars, mx.array([float(forced_frames)])])
        outputs = [audio, h[None], key_next.reshape(1, 2), new_echo_forced, new_phase, new_amp.reshape(1),
                   cond, neg_style, neg_notes, echo, counter + 1, new_previous]
        return outputs[:-1] if drop_last_state else outputs

    return step


def export_tiny_model(home: str | Path, name: str = "mrt2_tiny", variant: str = "ok", weights_seed: int = 0,
                      heavy_matmuls: int = 0, heavy_size: int = 256) -> Path:
    """Write `<home>/magenta-rt-v2/models/<name>/<name>.mlxfn` and `_state.safetensors`; return the folder."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    mx = mlx_core()
    folder = Path(home) / ASSETS_DIR / "models" / name
    folder.mkdir(parents=True, exist_ok=True)
    step = make_step_function(mx, weights_seed, heavy_matmuls, heavy_size,
                              audio_shape_ok=variant != "wrong_audio_shape",
                              drop_last_state=variant == "wrong_output_count")
    state = initial_state(mx)
    function_path = str(folder / f"{name}.mlxfn")
    if variant == "wrong_signature":
        # No forced_tokens argument: 8 inputs before the state, not 9.
        def eight_inputs(*args):
            return step(*args[:8], mx.zeros((1, 0, RVQ_LEVELS), dtype=mx.int32), *args[8:])

        mx.export_function(function_path, eight_inputs, *example_args(mx)[:8], *state)
    else:
        # Two traces, as the real model has: forced_tokens [1,0,12] (normal) and [1,1,12] (prefill).
        with mx.exporter(function_path, step) as exporter:
            exporter(*example_args(mx, 0), *state)
            exporter(*example_args(mx, 1), *state)
    saved = initial_state(mx, hidden=2 * HIDDEN if variant == "wrong_state_shape" else HIDDEN)
    mx.save_safetensors(str(folder / f"{name}_state.safetensors"), {f"state_{i}": a for i, a in enumerate(saved)})
    return folder


def export_tiny_encoder(home: str | Path) -> Path:
    """A stand-in SpectroStream encoder: [1, 28 s, 2] float32 -> [1, 700, 16] int32 tokens."""
    mx = mlx_core()
    path = Path(home) / ASSETS_DIR / "resources" / "spectrostream" / "spectrostream_encoder.mlxfn"
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = ENCODER_INPUT_SAMPLES // FRAME_SAMPLES
    levels = mx.arange(ENCODER_LEVELS).astype(mx.float32)

    def encode(waveform):
        energy = mx.abs(waveform.reshape(1, frames, FRAME_SAMPLES * 2)).mean(axis=-1)  # [1, 700]
        codes = mx.floor(energy[..., None] * 4096.0 * (levels + 1.0)) + 3.0 * levels + 1.0
        return [mx.remainder(codes, RVQ_VOCAB).astype(mx.int32)]

    mx.export_function(str(path), encode, mx.zeros((1, ENCODER_INPUT_SAMPLES, 2)))
    return path


def tiny_encoder_tokens(home: str | Path, audio: np.ndarray) -> np.ndarray:
    """What the exported tiny encoder gives for `audio` [n, 2] (n <= 28 s): [1, 700, 16]."""
    from mrtd.engines.mrt2 import encoder_path, mlx_session

    waveform = np.zeros((1, ENCODER_INPUT_SAMPLES, 2), dtype=np.float32)
    waveform[0, : len(audio)] = audio
    with mlx_session() as mx:
        encoder = mx.import_function(str(encoder_path(home)))
        return np.array(encoder(mx.array(waveform))[0])


def state_numpy(engine, name: str) -> np.ndarray:
    """One of the tiny model's state arrays, read back from an engine."""
    return np.array(engine.state[STATE[name]])
