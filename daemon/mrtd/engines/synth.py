"""The built-in `synth` engine: an instrument to rehearse on when MRT2 is not installed.

It honours the same conditioning as the real model, in its own simple way:

- Style: the embedding is read as musical descriptors (`mrtd.style.descriptors`):
  brightness picks the harmonic content of band-limited wavetables, density
  how often the improviser plays, tempo the feel of its pulse, harmony the
  mode, attack the envelopes, drums the beat, register the octave. The
  descriptors are smoothed frame by frame, so crossfades morph.
- Notes: held (1), onset (2) and on (3) slots sound their pitch with a
  sustained voice, 2 re-triggers; masked (-1) slots are the improviser's to
  play (melody, pad chords and bass in the style's key and mode); 0 is
  silent. cfg_notes sets how far the improvisation steps back while notes
  are held.
- Drums: 1 a beat, 0 none, -1 the style decides; cfg_drums how strictly.
- Sampling: temperature divides the logits of every random choice (note,
  chord, whether to play a step) and scales timing/velocity humanisation;
  top_k limits the candidate notes. cfg_style scales the descriptor logits.

Everything is vectorised per 40 ms frame (at most 12 voices rendered as one
[voices, 1920] array by wavetable lookup; envelopes in closed form; drums as
precomputed one-shots; a feedback delay whose delay exceeds a frame; a DC
blocker as a scaled cumulative sum), which keeps a frame around a millisecond
on one core. Output passes an AGC, a soft-knee limiter with a -1 dBFS ceiling,
and a DC blocker, and it is bit-for-bit reproducible from the seeds.
"""

from __future__ import annotations

import math

import numpy as np

from mrtd.conditioning import (
    DEFAULT_CFG_STYLE,
    DRUMS_OFF,
    DRUMS_ON,
    MASKED,
    NOTE_HELD,
    NOTE_ON_MODEL,
    NOTE_ONSET,
    NOTE_SLOTS,
    Conditioning,
)
from mrtd.engines.base import Engine
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
from mrtd.style import descriptors as style_descriptors

OUTPUT_CEILING = 0.891  # -1 dBFS, never exceeded
LIMITER_KNEE = 0.6  # below this the limiter is exactly linear
AGC_TARGET_PEAK = 0.7

MAX_VOICES = 12
TABLE_SIZE = 4096  # power of two: phase -> index is a multiply and a mask
TABLE_LEVELS = 32
HIGHEST_PARTIAL_HZ = 19_000.0  # keep every table's top harmonic under this (no aliasing)

DELAY_SAMPLES = (int(0.33 * SAMPLE_RATE), int(0.44 * SAMPLE_RATE))  # L, R: both longer than a frame
DELAY_RING = 1 << 15
DELAY_FEEDBACK = 0.38
DC_BLOCKER_POLE = 1.0 - 2.0 * math.pi * 8.0 / SAMPLE_RATE  # ~8 Hz high-pass

STEPS_PER_BAR = 16  # a pattern is 16 steps: sixteenth notes of a 4/4 bar, or eighths over two bars
STEPS_PER_BEAT = 4


def _sixteenth_weight(tempo: float) -> float:
    """How freely the off-beat sixteenths play, from the style's tempo descriptor.

    The clock sets the BPM; the style only picks the feel: a slow, spacious style
    leaves the off-sixteenths silent (an eighth-note pulse), a driving one plays them.
    """
    return min(max((tempo - 0.15) / 0.45, 0.0), 1.0)

# Swing: how late each sixteenth of a beat plays at full swing, in sixteenths. The off-beat
# eighth moves from 1/2 to 2/3 of the beat (a 2:1 triplet feel); the off-sixteenths follow so
# the order of steps never changes.
_SWING_DELAY = (0.0, 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0)

# Scales as semitone sets, ordered from darkest to brightest so the harmony
# descriptor walks through them.
MODES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("phrygian", (0, 1, 3, 5, 7, 8, 10)),
    ("aeolian", (0, 2, 3, 5, 7, 8, 10)),
    ("dorian", (0, 2, 3, 5, 7, 9, 10)),
    ("mixolydian", (0, 2, 4, 5, 7, 9, 10)),
    ("ionian", (0, 2, 4, 5, 7, 9, 11)),
    ("lydian", (0, 2, 4, 6, 7, 9, 11)),
)

# Chord progressions as a Markov chain over scale degrees (0 = tonic).
CHORD_TRANSITIONS: dict[int, dict[int, float]] = {
    0: {3: 1.0, 4: 0.8, 5: 0.9, 1: 0.4, 0: 0.2},
    1: {4: 1.0, 3: 0.3, 6: 0.2},
    2: {5: 1.0, 3: 0.6},
    3: {4: 1.0, 0: 0.8, 1: 0.5},
    4: {0: 1.0, 5: 0.6, 3: 0.3},
    5: {3: 1.0, 1: 0.7, 4: 0.6},
    6: {0: 1.0, 2: 0.3},
}

# Per-step hit probabilities for three drum intensities (sparse, groove, full).
_DRUM_LEVELS = np.array([0.15, 0.5, 0.9])
_DRUM_TEMPLATES: dict[str, np.ndarray] = {
    "kick": np.array([
        [1, 0, 0, 0, 0, 0, 0, 0, 0.3, 0, 0, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0.4, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0.2],
    ]),
    "snare": np.array([
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.4, 0, 0, 0],
        [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0.15],
        [0, 0, 0, 0, 1, 0, 0, 0.1, 0, 0, 0, 0, 1, 0, 0.2, 0],
    ]),
    "hat": np.array([
        [0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5, 0, 0, 0],
        [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0],
        [1, 0.7, 0, 0.7, 1, 0.7, 0, 0.7, 1, 0.7, 0, 0.7, 1, 0.7, 0, 0.7],
    ]),
    "open_hat": np.array([
        [0] * 16,
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.3, 0],
        [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0],
    ]),
}
_DRUM_GAIN = {"kick": 0.62, "snare": 0.34, "hat": 0.13, "open_hat": 0.11}
_DRUM_PAN = {"kick": 0.0, "snare": -0.1, "hat": 0.3, "open_hat": 0.25}
_METRIC_WEIGHT = np.array([1.0 if s % 4 == 0 else 0.75 if s % 2 == 0 else 0.4 for s in range(STEPS_PER_BAR)])

# Voice roles.
FREE, HELD, MELODY, PAD, BASS = range(5)
_NEVER = 1 << 62


def midi_to_hz(note: float) -> float:
    """Equal temperament, A4 (MIDI 69) = 440 Hz."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _lerp(a: float, b: float, x: float) -> float:
    return a + (b - a) * x


def _geometric(a: float, b: float, x: float) -> float:
    """Interpolate times and rates on a log scale, as ears hear them."""
    return a * (b / a) ** x


def _build_wavetables() -> tuple[np.ndarray, np.ndarray]:
    """Band-limited single-cycle waves from mellow (2 partials, steep tilt) to buzzy (48, saw-like).

    Returns the flat table (one extra copy of the last level so level+1 is
    always valid) and the highest partial of each level, for anti-aliasing.
    """
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE
    tables = np.empty((TABLE_LEVELS + 1, TABLE_SIZE))
    top_partials = np.empty(TABLE_LEVELS)
    for level in range(TABLE_LEVELS):
        x = level / (TABLE_LEVELS - 1)
        partials = int(round(2 + 46 * x**1.5))
        tilt = 2.4 - 1.5 * x
        k = np.arange(1, partials + 1)
        amplitude = k**-tilt * 0.5 * (1 + np.cos(np.pi * k / (partials + 1)))
        wave = amplitude @ np.sin(2 * np.pi * np.outer(k, phase))
        tables[level] = wave / (2.0 * np.sqrt(np.mean(wave**2)))  # equal loudness: RMS 0.5
        top_partials[level] = partials
    tables[TABLE_LEVELS] = tables[TABLE_LEVELS - 1]
    return tables.astype(np.float32).reshape(-1), top_partials


def _build_drum_samples() -> dict[str, np.ndarray]:
    """One-shot drum sounds, synthesised once from a fixed seed (same on every run)."""
    rng = np.random.default_rng(0x6472756D)
    sr = SAMPLE_RATE

    def time_axis(seconds: float) -> np.ndarray:
        return np.arange(int(seconds * sr)) / sr

    def finish(x: np.ndarray) -> np.ndarray:
        x = x / np.max(np.abs(x))
        fade_in = min(24, len(x))  # half a millisecond: a drum hit, not a click
        x[:fade_in] *= np.linspace(0.0, 1.0, fade_in)
        fade_out = int(0.005 * sr)
        x[-fade_out:] *= np.linspace(1.0, 0.0, fade_out)
        return x.astype(np.float32)

    t = time_axis(0.45)
    kick_hz = 48 + 110 * np.exp(-t / 0.035)
    kick = np.sin(2 * np.pi * np.cumsum(kick_hz) / sr) * np.exp(-t / 0.16)
    kick += 0.25 * rng.standard_normal(len(t)) * np.exp(-t / 0.002)

    t = time_axis(0.3)
    snare_noise = np.diff(rng.standard_normal(len(t) + 1))
    snare = 0.6 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05) + 0.5 * snare_noise * np.exp(-t / 0.09)

    def hat(seconds: float, decay: float, edge: int) -> np.ndarray:
        tt = time_axis(seconds)
        noise = rng.standard_normal(len(tt) + edge)
        for _ in range(edge):  # each difference tilts the noise further up the spectrum
            noise = np.diff(noise)
        return noise * np.exp(-tt / decay)

    return {
        "kick": finish(kick),
        "snare": finish(snare),
        "hat_dark": finish(hat(0.12, 0.03, 1)),
        "hat_bright": finish(hat(0.12, 0.025, 3)),
        "open_hat_dark": finish(hat(0.4, 0.15, 1)),
        "open_hat_bright": finish(hat(0.4, 0.13, 3)),
    }


def _pan_gains(pan: float) -> tuple[float, float]:
    """Equal-power pan, -1 left .. 1 right."""
    angle = (pan + 1.0) * math.pi / 4.0
    return math.cos(angle), math.sin(angle)


class SynthEngine(Engine):
    """A small generative synthesiser that follows MRT2 conditioning; see the module docstring."""

    name = "synth"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self._engine_seed = int(seed)
        self._tables, self._table_partials = _build_wavetables()
        self._drum_samples = _build_drum_samples()
        self._sample_index = np.arange(FRAME_SAMPLES, dtype=np.float32)
        self._frame_ramp = self._sample_index / FRAME_SAMPLES  # 0 .. 1 across a frame
        # DC blocker in closed form: y[n] = R^(n+1) y[-1] + R^n * cumsum(R^-k d[k]).
        n = np.arange(FRAME_SAMPLES, dtype=np.float64)
        self._dc_pow = DC_BLOCKER_POLE**n
        self._dc_pow_next = DC_BLOCKER_POLE ** (n + 1)
        self._dc_inv_pow = DC_BLOCKER_POLE**-n
        self.reset()

    def describe(self) -> str:
        return f"synth (built-in generative synthesiser, seed {self._engine_seed})"

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        self._rng: np.random.Generator | None = None
        self._conditioning_seed: int | None = None
        self._clock = 0  # samples rendered since reset
        self._descriptors: np.ndarray | None = None  # smoothed
        self._drum_amount = 0.0
        self._improv_gain = 1.0
        self._key_root = 0
        self._pending_key = 0
        self._mode = MODES[4][1]
        # The pulse follows the musical clock (conditioning.beat): steps subdivide the beat.
        self._beat_end = 0.0  # the beat at the end of the last frame
        self._last_conditioning_beat: float | None = None
        self._next_step: int | None = None  # the next sixteenth to play, counted from beat 0
        self._sixteenths = 1.0  # how freely off-beat sixteenths play (the style's feel)
        self._chord_degree = 0
        self._chord_pitch_classes: tuple[int, ...] = ()
        self._melody_previous = 60
        self._pad_voices: list[int] = []
        # Voices.
        v = MAX_VOICES
        self._role = np.zeros(v, dtype=np.int8)
        self._note = np.full(v, -1, dtype=np.int16)
        self._frequency = np.full(v, 440.0)
        self._phase = np.zeros(v)  # cycles, in [0, 1)
        self._gate = np.zeros(v, dtype=bool)
        self._stage_time = np.zeros(v)  # samples since the last gate change
        self._stage_level = np.zeros(v)  # envelope level when the stage began
        self._level = np.zeros(v)  # envelope level at the end of the last frame
        self._attack = np.ones(v)  # samples
        self._sustain = np.ones(v)
        self._decay_tau = np.ones(v)
        self._release_tau = np.ones(v)
        self._off_time = np.full(v, _NEVER, dtype=np.int64)
        self._gain = np.zeros(v)  # amplitude at the end of the last frame
        self._velocity = np.zeros(v)
        self._pan = np.zeros(v)
        self._brightness_scale = np.ones(v)
        self._table_level = np.zeros(v)
        self._started = np.zeros(v, dtype=np.int64)
        self._events: list[list[tuple]] = [[] for _ in range(v)]
        # Drums: active one-shots as [sample, read position, start offset, gain L, gain R].
        self._hits: list[list] = []
        # Effects and output stages.
        self._delay_ring = np.zeros((2, DELAY_RING), dtype=np.float32)
        self._delay_wet = 0.0
        self._agc_gain = 1.0
        self._dc_last_input = np.zeros(2)
        self._dc_last_output = np.zeros(2)

    def _reseed(self, conditioning_seed: int) -> None:
        """A Generator from (engine seed, conditioning seed); deterministic across processes."""
        entropy = [self._engine_seed % (1 << 63), conditioning_seed % (1 << 63), 0x73796E7468]
        self._rng = np.random.default_rng(entropy)
        self._conditioning_seed = conditioning_seed

    # ------------------------------------------------------------------ frame

    def _step(self, conditioning: Conditioning) -> np.ndarray:
        if self._rng is None or conditioning.seed != self._conditioning_seed:
            self._reseed(int(conditioning.seed))
        temperature = float(max(conditioning.temperature, 0.0))
        top_k = int(max(conditioning.top_k, 1))

        self._update_style(conditioning)
        brightness, density, tempo, harmony, attack, drum_style, register, swing = self._descriptors
        samples_per_beat = SAMPLE_RATE * 60.0 / min(max(conditioning.bpm, 20.0), 400.0)
        beats_in_frame = FRAME_SAMPLES / samples_per_beat
        start_beat = self._follow_beat(conditioning, beats_in_frame)

        notes = conditioning.notes
        sounding = (notes == NOTE_HELD) | (notes == NOTE_ONSET) | (notes == NOTE_ON_MODEL)
        held_pitches = np.flatnonzero(sounding)
        # How strictly the held notes are followed: 0 at cfg_notes <= 0.5, 1 at >= 3.5.
        strictness = min(max((conditioning.cfg_notes - 0.5) / 3.0, 0.0), 1.0)
        self._improv_gain = 1.0 - strictness if len(held_pitches) else 1.0
        self._update_drum_amount(conditioning, drum_style)

        for events in self._events:
            events.clear()
        self._apply_held_notes(notes, held_pitches, attack)

        # Walk the pulse through this frame: each step on the beat grid is a chance to play.
        next_step = self._resync_steps(start_beat)
        end_beat = start_beat + beats_in_frame
        self._sixteenths = _sixteenth_weight(tempo)
        swing_amount = min(max((swing - 0.6) / 0.25, 0.0), 1.0)
        while (step_beat := (next_step + swing_amount * _SWING_DELAY[next_step % STEPS_PER_BEAT]) / STEPS_PER_BEAT) < end_beat:
            offset = min(max(int((step_beat - start_beat) * samples_per_beat), 0), FRAME_SAMPLES - 1)
            self._play_step(
                next_step, offset, notes, held_pitches, strictness,
                temperature, top_k, samples_per_beat / STEPS_PER_BEAT,
            )
            next_step += 1
        self._next_step = next_step

        voices = self._render_voices(brightness)
        wet = self._delay_wet
        self._delay_wet = 0.06 + 0.26 * (1.0 - attack) * (1.0 - 0.5 * density)
        mix = voices + self._delay(voices, wet, self._delay_wet)
        mix += self._render_drums()
        out = self._finish(mix)
        self._clock += FRAME_SAMPLES
        return out

    def _follow_beat(self, conditioning: Conditioning, beats_in_frame: float) -> float:
        """The beat at this frame's start: the musical clock's, or our own when nothing drives it.

        A caller that builds Conditioning by hand leaves `beat` still; then the pulse
        free-runs at `bpm` from where it was, so the engine plays the same either way.
        """
        beat = float(conditioning.beat)
        free_running = beat == self._last_conditioning_beat
        self._last_conditioning_beat = beat
        start = self._beat_end if free_running else beat
        self._beat_end = start + beats_in_frame
        return start

    def _resync_steps(self, start_beat: float) -> int:
        """The next step to play. Small nudges of the clock's phase leave it alone (no step
        plays twice or is lost); after a jump (Tidal's cycle, a transport start, a new Link
        session) it is the first step at the new position, neither replaying nor waiting."""
        step = 1.0 / STEPS_PER_BEAT
        if self._next_step is not None and start_beat - step <= self._next_step * step <= start_beat + 2 * step:
            return self._next_step
        return math.ceil(start_beat * STEPS_PER_BEAT - 1e-9)

    def _update_style(self, conditioning: Conditioning) -> None:
        embedding = conditioning.style_embedding
        if style_descriptors.is_unset(embedding):
            target = style_descriptors.DEFAULT_DESCRIPTORS
            key = 0
        else:
            strength = min(max(conditioning.cfg_style / DEFAULT_CFG_STYLE, -1.0), 2.5)
            target = style_descriptors.descriptors(embedding, strength)
            key = style_descriptors.key_root(embedding)
        if self._descriptors is None:
            self._descriptors = target.copy()
            self._key_root = key
            self._mode = MODES[min(int(target[3] * len(MODES)), len(MODES) - 1)][1]
        else:
            # One-pole smoothing per frame, time constant ~0.2 s: a prompt switch morphs, never jumps.
            self._descriptors += (target - self._descriptors) * 0.18
        self._pending_key = key

    def _update_drum_amount(self, conditioning: Conditioning, drum_style: float) -> None:
        # cfg_drums from 0 (style decides) to 3 or more (the drum slot decides).
        follow = min(max(conditioning.cfg_drums / 3.0, 0.0), 1.0)
        if conditioning.drums == DRUMS_ON:
            target = _lerp(drum_style, max(drum_style, 0.75), follow)
        elif conditioning.drums == DRUMS_OFF:
            target = _lerp(drum_style, 0.0, follow)
        else:
            target = drum_style
        self._drum_amount = target

    # ------------------------------------------------------------------ notes

    def _envelope_for(self, attack: float, sustained: bool) -> tuple[float, float, float, float]:
        """(attack samples, sustain level, decay tau, release tau) for the attack descriptor."""
        attack_samples = _geometric(0.35, 0.003, attack) * SAMPLE_RATE
        decay_tau = _geometric(2.5, 0.15, attack) * SAMPLE_RATE
        release_tau = _geometric(0.9, 0.07, attack) * SAMPLE_RATE
        sustain = _lerp(0.85, 0.55, attack) if sustained else _lerp(0.75, 0.08, attack)
        return attack_samples, sustain, decay_tau, release_tau

    def _apply_held_notes(self, notes: np.ndarray, held_pitches: np.ndarray, attack: float) -> None:
        held_set = set(int(p) for p in held_pitches)
        # Release held voices whose slot is no longer sounding.
        for v in np.flatnonzero(self._role == HELD):
            if int(self._note[v]) not in held_set and self._gate[v]:
                self._off_time[v] = self._clock
        envelope = self._envelope_for(min(attack, 0.8), sustained=True)
        count = len(held_pitches)
        gain = 0.34 / math.sqrt(max(count, 2) / 2.0)
        for pitch in held_pitches[:MAX_VOICES]:
            pitch = int(pitch)
            voice = self._find_voice(HELD, pitch)
            if voice is not None and self._gate[voice] and self._off_time[voice] == _NEVER:
                self._velocity[voice] = gain
                if notes[pitch] == NOTE_ONSET:  # re-trigger this frame
                    self._note_on(voice, 0, HELD, pitch, gain, envelope, pan=self._pan[voice])
                continue
            voice = self._allocate(0, for_held=True)
            if voice is not None:
                pan = ((pitch % 12) / 11.0 - 0.5) * 0.5
                self._note_on(voice, 0, HELD, pitch, gain, envelope, pan=pan)

    def _find_voice(self, role: int, pitch: int) -> int | None:
        found = np.flatnonzero((self._role == role) & (self._note == pitch) & self._gate)
        return int(found[0]) if len(found) else None

    def _allocate(self, offset: int, for_held: bool = False) -> int | None:
        """A voice for a new note: a free one, else the quietest improvising one (held notes win)."""
        untouched = np.array([not events for events in self._events])
        free = np.flatnonzero(untouched & (self._role == FREE))
        if len(free):
            return int(free[0])
        stealable = untouched & (self._role != HELD)
        if not stealable.any():
            if not for_held:
                return None
            stealable = untouched
            if not stealable.any():
                return None
        candidates = np.flatnonzero(stealable)
        # Quietest first; a gate-off voice is already on its way out.
        loudness = self._level[candidates] * self._gain[candidates] + self._gate[candidates] * 0.01
        return int(candidates[np.argmin(loudness)])

    def _note_on(
        self, voice: int, offset: int, role: int, pitch: int, gain: float,
        envelope: tuple[float, float, float, float], pan: float, duration: float | None = None,
        brightness_scale: float = 1.0,
    ) -> None:
        # If the voice's previous note ends before this onset, keep that release.
        if self._gate[voice] and self._clock <= self._off_time[voice] < self._clock + offset:
            self._events[voice].append((int(self._off_time[voice] - self._clock), "off"))
        self._events[voice].append((offset, "on", midi_to_hz(pitch), envelope))
        self._role[voice] = role
        self._note[voice] = pitch
        self._velocity[voice] = gain
        self._pan[voice] = pan
        self._brightness_scale[voice] = brightness_scale
        self._started[voice] = self._clock + offset
        start = self._clock + offset
        self._off_time[voice] = _NEVER if duration is None else start + max(int(duration), 1)

    # ------------------------------------------------------------------ improviser

    def _decide(self, probability: float, temperature: float) -> bool:
        """Bernoulli draw whose logit is divided by the temperature (0: deterministic threshold)."""
        p = min(max(probability, 1e-4), 1 - 1e-4)
        if temperature < 0.05:
            self._rng.random()  # keep the random stream aligned across temperatures
            return p >= 0.5
        logit = math.log(p / (1 - p)) / temperature
        return self._rng.random() < 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))

    def _choose(self, candidates: np.ndarray, scores: np.ndarray, temperature: float, top_k: int) -> int:
        order = np.argsort(-scores, kind="stable")[:top_k]
        draw = self._rng.random()
        if temperature < 0.05 or len(order) == 1:
            return int(candidates[order[0]])
        logits = scores[order] / temperature
        weights = np.exp(logits - logits.max())
        cumulative = np.cumsum(weights)
        pick = int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))
        return int(candidates[order[min(pick, len(order) - 1)]])

    def _jitter(self, offset: int, temperature: float, spread_seconds: float) -> int:
        shift = self._rng.standard_normal() * temperature * spread_seconds * SAMPLE_RATE
        return int(min(max(offset + shift, 0), FRAME_SAMPLES - 1))

    def _scale_pitches(self, low: int, high: int) -> np.ndarray:
        pitches = np.arange(max(low, 0), min(high, NOTE_SLOTS - 1) + 1)
        in_scale = np.isin((pitches - self._key_root) % 12, self._mode)
        return pitches[in_scale]

    def _play_step(
        self, step: int, offset: int, notes: np.ndarray, held_pitches: np.ndarray, strictness: float,
        temperature: float, top_k: int, samples_per_step: float,
    ) -> None:
        brightness, density, tempo, harmony, attack, drum_style, register, _swing = self._descriptors
        bar_step = step % STEPS_PER_BAR
        allowed = notes == MASKED  # the improviser may only play masked slots
        improvising = self._improv_gain > 1e-3 and allowed.any()

        if bar_step == 0:
            self._key_root = self._pending_key  # keys and modes change on the bar, not mid-phrase
            self._mode = MODES[min(int(harmony * len(MODES)), len(MODES) - 1)][1]
        # A chord on the bar, and also on the very first step when the engine starts mid-bar
        # (a swap or fallback joins the musical clock wherever it is).
        if bar_step == 0 or not self._chord_pitch_classes:
            bars_per_chord = 2 if density < 0.35 else 1
            if (step // STEPS_PER_BAR) % bars_per_chord == 0 or not self._chord_pitch_classes:
                self._next_chord(temperature, held_pitches)
                if improvising:
                    self._play_pad(offset, allowed, held_pitches, attack, register, bars_per_chord, samples_per_step)

        self._play_drums(bar_step, offset, temperature, brightness)
        if not improvising:
            return
        self._play_bass(step, bar_step, offset, allowed, held_pitches, temperature, density, attack, register,
                        samples_per_step)
        self._play_melody(bar_step, offset, allowed, held_pitches, strictness, temperature, top_k, density,
                          attack, register, samples_per_step)

    def _next_chord(self, temperature: float, held_pitches: np.ndarray) -> None:
        if len(held_pitches):
            # Held notes are the harmony: follow them rather than the progression.
            self._chord_pitch_classes = tuple(sorted(set(int(p) % 12 for p in held_pitches)))
            self._rng.random()
            return
        transitions = CHORD_TRANSITIONS[self._chord_degree]
        degrees = np.array(list(transitions.keys()))
        scores = np.log(np.array(list(transitions.values())))
        self._chord_degree = self._choose(degrees, scores, max(temperature, 0.0), len(degrees))
        mode = self._mode
        self._chord_pitch_classes = tuple(
            (self._key_root + mode[(self._chord_degree + i) % 7]) % 12 for i in (0, 2, 4)
        )

    def _play_pad(self, offset, allowed, held_pitches, attack, register, bars, samples_per_step) -> None:
        if len(held_pitches):
            return  # the held notes already sound the harmony
        for voice in self._pad_voices:
            if self._role[voice] == PAD and self._gate[voice]:
                self._off_time[voice] = min(self._off_time[voice], self._clock + offset)
        self._pad_voices = []
        centre = 55 + int(round((register - 0.5) * 12))
        envelope = self._envelope_for(attack * 0.6, sustained=True)
        envelope = (max(envelope[0], 0.04 * SAMPLE_RATE), envelope[1], envelope[2], max(envelope[3], 0.4 * SAMPLE_RATE))
        gain = _lerp(0.13, 0.06, attack)
        for i, pitch_class in enumerate(self._chord_pitch_classes):
            pitch = centre - 6 + (pitch_class - (centre - 6)) % 12
            if not allowed[pitch]:
                continue
            voice = self._allocate(offset)
            if voice is None:
                return
            duration = bars * STEPS_PER_BAR * samples_per_step * 0.98
            self._note_on(voice, offset, PAD, pitch, gain, envelope, pan=(-0.6, 0.6, 0.0)[i % 3],
                          duration=duration, brightness_scale=0.75)
            self._pad_voices.append(voice)

    def _play_bass(self, step, bar_step, offset, allowed, held_pitches, temperature, density, attack, register,
                   samples_per_step) -> None:
        groove = self._drum_amount > 0.25 or density > 0.55
        if groove:
            probability = (1.0 if bar_step in (0, 8) else 0.0) + (0.35 + 0.4 * density if bar_step % 4 == 2 else 0.0)
            probability += 0.15 * density * self._sixteenths if bar_step % 2 == 1 else 0.0
        else:
            probability = 1.0 if bar_step == 0 and (step // STEPS_PER_BAR) % 2 == 0 else 0.0
        if probability <= 0.0 or not self._decide(min(probability, 1.0), temperature):
            return
        root = min(held_pitches) % 12 if len(held_pitches) else self._chord_pitch_classes[0]
        low = 33 + int(round((register - 0.5) * 10))  # bass octave: MIDI 28..38
        pitch = low + (root - low) % 12
        if not allowed[pitch]:
            return
        voice = self._allocate(offset)
        if voice is None:
            return
        steps = 1.6 if groove else 2 * STEPS_PER_BAR * 0.97
        envelope = self._envelope_for(max(attack, 0.55) if groove else attack * 0.5, sustained=not groove)
        gain = 0.2 * (0.85 + 0.3 * self._rng.random() * min(temperature, 1.0))
        self._note_on(voice, self._jitter(offset, temperature, 0.002), BASS, pitch, gain, envelope, pan=0.0,
                      duration=steps * samples_per_step, brightness_scale=0.6)

    def _play_melody(self, bar_step, offset, allowed, held_pitches, strictness, temperature, top_k, density,
                     attack, register, samples_per_step) -> None:
        probability = (0.12 + 0.85 * density) * _METRIC_WEIGHT[bar_step]
        if bar_step % 2 == 1:
            probability *= density * self._sixteenths  # sparse and slow styles leave the off-sixteenths alone
        if not self._decide(probability, temperature):
            return
        centre = 62 + int(round((register - 0.5) * 24))
        candidates = self._scale_pitches(centre - 10, centre + 12)
        candidates = candidates[allowed[candidates]]
        if len(candidates) == 0:
            return
        pitch_classes = candidates % 12
        scores = -np.abs(candidates - self._melody_previous) / 2.5  # stepwise motion is likeliest
        scores += 1.2 * np.isin(pitch_classes, self._chord_pitch_classes)
        if len(held_pitches):
            scores += 2.0 * strictness * np.isin(pitch_classes, held_pitches % 12)
        scores -= 2.5 * (candidates == self._melody_previous)
        scores -= 0.08 * np.abs(candidates - centre)  # drift back toward the style's register
        pitch = self._choose(candidates, scores, temperature, top_k)
        self._melody_previous = pitch

        voice = self._allocate(offset)
        if voice is None:
            return
        length_steps = _lerp(4.0, 1.0, attack) * _lerp(1.3, 0.4, attack)
        length_steps *= 1.0 + 0.25 * min(temperature, 2.0) * (self._rng.random() - 0.5)
        velocity = 0.75 + 0.12 * temperature * self._rng.standard_normal()
        gain = 0.32 * min(max(velocity, 0.3), 1.2)
        envelope = self._envelope_for(attack, sustained=False)
        pan = 0.35 * (self._rng.random() - 0.5) * 2
        self._note_on(voice, self._jitter(offset, temperature, 0.006), MELODY, pitch, gain, envelope, pan=pan,
                      duration=length_steps * samples_per_step)

    def _play_drums(self, bar_step, offset, temperature, brightness) -> None:
        amount = self._drum_amount
        draws = self._rng.random(4)  # always four draws, so the stream does not depend on the pattern
        if amount < 0.12:
            return
        position = np.interp(amount, _DRUM_LEVELS, np.arange(len(_DRUM_LEVELS)))
        lower = int(min(position, len(_DRUM_LEVELS) - 2))
        mix = position - lower
        velocity = 0.55 + 0.45 * min(amount / 0.8, 1.0)
        for draw, (drum, template) in zip(draws, _DRUM_TEMPLATES.items()):
            probability = _lerp(template[lower, bar_step], template[lower + 1, bar_step], mix)
            if bar_step % 2 == 1:
                probability *= self._sixteenths
            if probability <= 0.0:
                continue
            if temperature < 0.05:
                hit = probability >= 0.5
            else:
                p = min(max(probability, 1e-4), 1 - 1e-4)
                logit = math.log(p / (1 - p)) / temperature
                hit = draw < 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))
            if not hit:
                continue
            if drum in ("hat", "open_hat"):
                sample = self._drum_samples[f"{drum}_bright" if brightness > 0.5 else f"{drum}_dark"]
            else:
                sample = self._drum_samples[drum]
            accent = 1.0 if bar_step % 4 == 0 else 0.8
            gain = _DRUM_GAIN[drum] * velocity * accent
            left, right = _pan_gains(_DRUM_PAN[drum])
            start = self._jitter(offset, temperature, 0.0015)
            self._hits.append([sample, 0, start, gain * left, gain * right])

    # ------------------------------------------------------------------ rendering

    def _render_voices(self, brightness: float) -> np.ndarray:
        """All sounding voices as one [voices, 1920] wavetable lookup, mixed to [2, 1920]."""
        clock_end = self._clock + FRAME_SAMPLES
        for v in range(MAX_VOICES):
            if self._clock <= self._off_time[v] < clock_end and self._gate[v]:
                offset = int(self._off_time[v] - self._clock)
                if not any(e[1] == "off" and e[0] == offset for e in self._events[v]):
                    self._events[v].append((offset, "off"))
            self._events[v].sort(key=lambda e: (e[0], e[1] == "on"))
        active = [v for v in range(MAX_VOICES) if self._role[v] != FREE]
        if not active:
            return np.zeros((2, FRAME_SAMPLES), dtype=np.float32)
        count = len(active)
        envelopes = np.empty((count, FRAME_SAMPLES), dtype=np.float32)
        old_increment = np.empty(count)
        new_increment = np.empty(count)
        switch_at = np.full(count, FRAME_SAMPLES, dtype=np.float64)
        start_level = np.empty(count)
        end_level = np.empty(count)
        for row, v in enumerate(active):
            old_increment[row] = new_increment[row] = self._frequency[v] / SAMPLE_RATE
            for event in self._events[v]:
                if event[1] == "on":
                    new_increment[row] = event[2] / SAMPLE_RATE
                    switch_at[row] = event[0]
                    self._frequency[v] = event[2]
            self._render_envelope(v, envelopes[row])
            # Gain ramps linearly across the frame toward the voice's target: no zipper clicks.
            target = self._velocity[v] * (self._improv_gain if self._role[v] != HELD else 1.0)
            gain_start = self._gain[v]
            if gain_start != target:
                envelopes[row] *= gain_start + (target - gain_start) * self._frame_ramp
            else:
                envelopes[row] *= target
            self._gain[v] = target
            # Brightness: a table level, capped so the top partial stays below HIGHEST_PARTIAL_HZ.
            top_hz = self._table_partials * max(self._frequency[v], new_increment[row] * SAMPLE_RATE)
            cap = max(int(np.searchsorted(top_hz, HIGHEST_PARTIAL_HZ)) - 1, 0)
            wanted = (0.04 + 0.96 * brightness) * self._brightness_scale[v] * (TABLE_LEVELS - 1)
            start_level[row] = self._table_level[v]
            end_level[row] = min(wanted, cap)
            self._table_level[v] = end_level[row]
            if self._level[v] < 1e-4 and not self._gate[v]:
                self._free(v)

        # Phase: the old frequency up to the note change, the new one after it (phase-continuous).
        n = self._sample_index
        before = np.minimum(n[None, :], switch_at[:, None].astype(np.float32))
        after = n[None, :] - before
        phase = self._phase[active].astype(np.float32)[:, None] + (
            old_increment.astype(np.float32)[:, None] * before + new_increment.astype(np.float32)[:, None] * after
        )
        end_phase = self._phase[active] + old_increment * switch_at + new_increment * (FRAME_SAMPLES - switch_at)
        self._phase[active] = end_phase % 1.0
        index = (phase * TABLE_SIZE).astype(np.int32) & (TABLE_SIZE - 1)

        # Crossfade between two adjacent brightness tables, the mix ramping across the frame.
        base_level = np.floor(np.minimum(start_level, end_level)).astype(np.int32)
        index += (base_level * TABLE_SIZE)[:, None]
        lower = self._tables.take(index)
        upper = self._tables.take(index + TABLE_SIZE)
        mix_start = (start_level - base_level).astype(np.float32)
        mix_end = (end_level - base_level).astype(np.float32)
        mix = mix_start[:, None] + (mix_end - mix_start)[:, None] * self._frame_ramp[None, :]
        wave = lower + mix * (upper - lower)
        wave *= envelopes

        pans = np.array([_pan_gains(self._pan[v]) for v in active], dtype=np.float32).T  # [2, count]
        return pans @ wave

    def _render_envelope(self, v: int, out: np.ndarray) -> None:
        """Closed-form attack/decay/release segments, split at this frame's gate events."""
        position = 0
        for event in self._events[v]:
            offset = event[0]
            if offset > position:
                self._fill_stage(v, out[position:offset])
                self._stage_time[v] += offset - position
                position = offset
            level = self._level_at(v, self._stage_time[v])
            if event[1] == "on":
                attack, sustain, decay_tau, release_tau = event[3]
                self._attack[v], self._sustain[v] = attack, sustain
                self._decay_tau[v], self._release_tau[v] = decay_tau, release_tau
                self._gate[v] = True
            else:
                self._gate[v] = False
                self._off_time[v] = _NEVER
            self._stage_level[v] = level
            self._stage_time[v] = 0.0
        if position < FRAME_SAMPLES:
            self._fill_stage(v, out[position:])
            self._stage_time[v] += FRAME_SAMPLES - position
        self._level[v] = float(out[-1])

    def _level_at(self, v: int, t: float) -> float:
        start = self._stage_level[v]
        if not self._gate[v]:
            return start * math.exp(-t / self._release_tau[v])
        attack = self._attack[v]
        if t < attack:
            return start + (1.0 - start) * t / attack
        sustain = self._sustain[v]
        return sustain + (1.0 - sustain) * math.exp(-(t - attack) / self._decay_tau[v])

    def _fill_stage(self, v: int, out: np.ndarray) -> None:
        length = len(out)
        t0 = self._stage_time[v]
        start = self._stage_level[v]
        ramp = self._sample_index[:length]
        if not self._gate[v]:
            out[:] = start * np.exp(-(t0 + ramp) / self._release_tau[v])
            return
        attack = self._attack[v]
        rising = int(min(max(math.ceil(attack - t0), 0), length))
        if rising:
            out[:rising] = start + (1.0 - start) * (t0 + ramp[:rising]) / attack
        if rising < length:
            sustain = self._sustain[v]
            since_peak = (t0 + rising - attack) + ramp[: length - rising]
            out[rising:] = sustain + (1.0 - sustain) * np.exp(-since_peak / self._decay_tau[v])

    def _free(self, v: int) -> None:
        self._role[v] = FREE
        self._note[v] = -1
        self._gain[v] = 0.0
        self._level[v] = 0.0
        self._stage_level[v] = 0.0
        self._off_time[v] = _NEVER

    def _render_drums(self) -> np.ndarray:
        out = np.zeros((2, FRAME_SAMPLES), dtype=np.float32)
        still_ringing = []
        for hit in self._hits:
            sample, position, start, left, right = hit
            length = min(FRAME_SAMPLES - start, len(sample) - position)
            segment = sample[position : position + length]
            out[0, start : start + length] += left * segment
            out[1, start : start + length] += right * segment
            hit[1] = position + length
            hit[2] = 0
            if hit[1] < len(sample):
                still_ringing.append(hit)
        self._hits = still_ringing
        return out

    def _delay(self, dry: np.ndarray, wet_start: float, wet_end: float) -> np.ndarray:
        """A damped stereo feedback echo. Each delay exceeds a frame, so a frame reads only the past."""
        write = (self._clock + np.arange(FRAME_SAMPLES)) & (DELAY_RING - 1)
        wet = np.empty_like(dry)
        for channel, delay in enumerate(DELAY_SAMPLES):
            read = (write - delay) & (DELAY_RING - 1)
            ring = self._delay_ring[channel]
            echoed = 0.5 * (ring[read] + ring[(read - 1) & (DELAY_RING - 1)])  # two-tap low-pass on every pass
            ring[write] = dry[channel] + DELAY_FEEDBACK * echoed
            wet[channel] = echoed
        return wet * (wet_start + (wet_end - wet_start) * self._frame_ramp)

    def _finish(self, mix: np.ndarray) -> np.ndarray:
        """DC blocker, automatic gain, soft-knee limiter: float32 [1920, 2], |x| <= OUTPUT_CEILING."""
        x = mix.astype(np.float64)
        if not np.all(np.isfinite(x)):
            x = np.zeros_like(x)  # never pass NaN on; the voices recover on the next notes
        # DC blocker y[n] = x[n] - x[n-1] + R y[n-1], as a scaled cumulative sum (no per-sample loop).
        previous = np.concatenate([self._dc_last_input[:, None], x[:, :-1]], axis=1)
        difference = x - previous
        y = self._dc_pow_next * self._dc_last_output[:, None] + self._dc_pow * np.cumsum(
            difference * self._dc_inv_pow, axis=1
        )
        self._dc_last_input = x[:, -1].copy()
        self._dc_last_output = y[:, -1].copy()
        # AGC: duck at once when the frame would be too hot, recover slowly (~1.5 s); ramped.
        peak = float(np.max(np.abs(y)))
        wanted = min(1.0, AGC_TARGET_PEAK / peak) if peak > 0 else 1.0
        gain_start = self._agc_gain
        gain_end = wanted if wanted < gain_start else gain_start + (wanted - gain_start) * 0.03
        self._agc_gain = gain_end
        y *= gain_start + (gain_end - gain_start) * self._frame_ramp
        # Soft knee: linear below the knee, tanh into the ceiling above it.
        magnitude = np.abs(y)
        over = magnitude > LIMITER_KNEE
        if over.any():
            room = OUTPUT_CEILING - LIMITER_KNEE
            limited = LIMITER_KNEE + room * np.tanh((magnitude[over] - LIMITER_KNEE) / room)
            y[over] = np.sign(y[over]) * limited
        out = np.clip(y.T, -OUTPUT_CEILING, OUTPUT_CEILING).astype(np.float32)
        return np.ascontiguousarray(out)
