"""The composer: what the synth plays, read from the style and the notes held.

It follows the style's descriptors (smoothed frame by frame, so crossfades morph), walks the
pulse and, on each step, chooses chords from a Markov chain in the style's key and mode, pads
and comping in the chord's instrument, a bass line (walking, slapped, off-beat or a sub under a
break), a melody, and the drum hits of the style's rhythm families; in free time it leaves the
grid. Held notes sound in the style's leading voice. Every random choice goes through
`RandomChoices`: temperature divides its logits and top-k limits its candidates.
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
from mrtd.engines.synth.patterns import (
    DRUM_GAIN,
    DRUM_LEVELS,
    DRUM_PAN,
    DRUM_TEMPLATES,
    DRUMS,
    FAMILIES,
    FAMILY_NAMES,
    FAMILY_STACK,
    FUNK_BASS,
    METRIC_WEIGHT,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
    Pulse,
    sixteenth_weight,
)
from mrtd.engines.synth.sounds import (
    BELL,
    BOWED,
    LEAD,
    ORGAN,
    PAD_VOICE,
    PIANO,
    PLUCK,
    SYNTH,
    VOICE_NAMES,
    VOICE_SHAPES,
)
from mrtd.engines.synth.voices import BASS, HELD, MAX_VOICES, MELODY, PAD, DrumHits, VoiceBank
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
import mrtd.engines.descriptors as style_descriptors

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


# Softmax gains: a descriptor pushed by a lexicon word (~0.93) beats the fixed bias of the plain
# choice; one at a random embedding's typical 0.3-0.7 mostly does not, so unknown words mix.
CHOICE_GAIN = 16.0
PLAIN_BIAS = 0.22  # the plain voice's and family's logit, as if their descriptor were 0.72

_D = style_descriptors.DESCRIPTOR_INDEX
_VOICE_DESCRIPTORS = np.array([_D[name] for name in VOICE_NAMES[1:]])
_FAMILY_DESCRIPTORS = np.array([_D[name] for name in FAMILY_NAMES[1:]])
_DECAYING = (PIANO, PLUCK, BELL)  # voices that die away by themselves: chords in them are re-struck
# Chords in the voices that carry a style (organ stabs, power chords, strums) sit forward in the mix.
_CHORD_GAIN = {SYNTH: 1.0, PIANO: 1.5, PLUCK: 1.6, BOWED: 1.2, BELL: 1.3, PAD_VOICE: 1.0, ORGAN: 2.4, LEAD: 2.4}


def _lerp(a: float, b: float, x: float) -> float:
    return a + (b - a) * x


def _geometric(a: float, b: float, x: float) -> float:
    """Interpolate times and rates on a log scale, as ears hear them."""
    return a * (b / a) ** x


def _softmax_weights(values: np.ndarray) -> np.ndarray:
    """Weights of the plain choice (first) and of each named one, from their descriptors."""
    logits = np.concatenate([[CHOICE_GAIN * PLAIN_BIAS], CHOICE_GAIN * (values - 0.5)])
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def _free_time(pulse: float) -> float:
    """How far the improviser leaves the grid, 0 .. 1, from the pulse descriptor.

    Read on the descriptor's own z scale (the algebraic sigmoid undone): "ambient" and "drone"
    push z to about -10, and an equal blend of such a prompt with a pulsed one halves that, so
    on z a blend lands half-way, where on the squashed value it would sit at the free end.
    Unknown words (|z| under 1) stay on the grid."""
    x = min(max(2.0 * (pulse - 0.5), -0.999), 0.999)
    z = x / (1.0 - abs(x))
    return min(max((-z - 1.0) / 9.0, 0.0), 1.0)


class RandomChoices:
    """Every random choice the composer makes, from one Generator seeded by (engine seed,
    conditioning seed): the temperature divides each choice's logits (below 0.05 the likeliest
    wins) and top-k limits the candidates."""

    def __init__(self, engine_seed: int) -> None:
        self._engine_seed = engine_seed
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(0)  # never drawn from: the first step reseeds (None != its seed)
        self._conditioning_seed: int | None = None

    def follow_seed(self, conditioning_seed: int) -> None:
        """Reseed when the conditioning's seed changes (and on the first frame)."""
        if conditioning_seed != self._conditioning_seed:
            self._reseed(int(conditioning_seed))

    def _reseed(self, conditioning_seed: int) -> None:
        """A Generator from (engine seed, conditioning seed); deterministic across processes."""
        entropy = [self._engine_seed % (1 << 63), conditioning_seed % (1 << 63), 0x73796E7468]
        self._rng = np.random.default_rng(entropy)
        self._conditioning_seed = conditioning_seed

    def decide(self, probability: float, temperature: float) -> bool:
        """Bernoulli draw whose logit is divided by the temperature (0: deterministic threshold)."""
        p = min(max(probability, 1e-4), 1 - 1e-4)
        if temperature < 0.05:
            self._rng.random()  # keep the random stream aligned across temperatures
            return p >= 0.5
        logit = math.log(p / (1 - p)) / temperature
        return self._rng.random() < 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))

    def choose(self, candidates: np.ndarray, scores: np.ndarray, temperature: float, top_k: int) -> int:
        order = np.argsort(-scores, kind="stable")[:top_k]
        draw = self._rng.random()
        if temperature < 0.05 or len(order) == 1:
            return int(candidates[order[0]])
        logits = scores[order] / temperature
        weights = np.exp(logits - logits.max())
        cumulative = np.cumsum(weights)
        pick = int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))
        return int(candidates[order[min(pick, len(order) - 1)]])

    def jitter(self, offset: int, temperature: float, spread_seconds: float) -> int:
        shift = self._rng.standard_normal() * temperature * spread_seconds * SAMPLE_RATE
        return int(min(max(offset + shift, 0), FRAME_SAMPLES - 1))

    def pick(self, weights: np.ndarray, temperature: float) -> int:
        """An index drawn from `weights` (one draw); the temperature divides their logits."""
        draw = self._rng.random()
        if temperature < 0.05:
            return int(np.argmax(weights))
        weights = weights ** (1.0 / temperature) if temperature != 1.0 else weights
        cumulative = np.cumsum(weights)
        return int(min(np.searchsorted(cumulative, draw * cumulative[-1], side="right"),
                       len(weights) - 1))

    def uniform(self) -> float:
        """One draw in [0, 1)."""
        return self._rng.random()

    def uniforms(self, count: int) -> np.ndarray:
        """`count` draws in [0, 1), as one call draws them."""
        return self._rng.random(count)

    def normal(self) -> float:
        """One draw from the standard normal distribution."""
        return self._rng.standard_normal()


class Composer:
    """Decides, frame by frame, which notes the voice bank plays and which drums the kit strikes."""

    def __init__(self, engine_seed: int, pulse: Pulse, voices: VoiceBank, drums: DrumHits) -> None:
        self._choices = RandomChoices(engine_seed)
        self._pulse = pulse
        self._voices = voices
        self._drums = drums
        self.reset()

    def reset(self) -> None:
        self._choices.reset()
        self._descriptors = np.empty(0)  # smoothed
        self._style_started = False
        self._drum_amount = 0.0
        self._key_root = 0
        self._pending_key = 0
        self._mode = MODES[4][1]
        self._sixteenths = 1.0  # how freely off-beat sixteenths play (the style's feel)
        self._chord_degree = 0
        self._chord_pitch_classes: tuple[int, ...] = ()
        self._chord_open = False
        self._chord_voice = SYNTH
        self._bass_previous = 36
        self._voice_weights = _softmax_weights(style_descriptors.DEFAULT_DESCRIPTORS[_VOICE_DESCRIPTORS])
        self._family_weights = _softmax_weights(style_descriptors.DEFAULT_DESCRIPTORS[_FAMILY_DESCRIPTORS])
        self._free_amount = 0.0
        self._melody_previous = 60
        self._pad_voices: list[int] = []

    def play(self, conditioning: Conditioning) -> None:
        """This frame's notes and hits, handed to the voice bank and the kit."""
        self._choices.follow_seed(conditioning.seed)
        temperature = float(max(conditioning.temperature, 0.0))
        top_k = int(max(conditioning.top_k, 1))

        self._update_style(conditioning)
        d = self._descriptors
        tempo, attack = d[_D["tempo"]], d[_D["attack"]]
        drum_style, swing = d[_D["drums"]], d[_D["swing"]]
        self._voice_weights = _softmax_weights(d[_VOICE_DESCRIPTORS])
        self._family_weights = _softmax_weights(d[_FAMILY_DESCRIPTORS])
        self._free_amount = _free_time(d[_D["pulse"]])
        samples_per_beat = SAMPLE_RATE * 60.0 / min(max(conditioning.bpm, 20.0), 400.0)
        beats_in_frame = FRAME_SAMPLES / samples_per_beat
        start_beat = self._pulse.follow(float(conditioning.beat), beats_in_frame)

        notes = conditioning.notes
        sounding = (notes == NOTE_HELD) | (notes == NOTE_ONSET) | (notes == NOTE_ON_MODEL)
        held_pitches = np.flatnonzero(sounding)
        # How strictly the held notes are followed: 0 at cfg_notes <= 0.5, 1 at >= 3.5.
        strictness = min(max((conditioning.cfg_notes - 0.5) / 3.0, 0.0), 1.0)
        self._voices.improvisation_gain = 1.0 - strictness if len(held_pitches) else 1.0
        self._update_drum_amount(conditioning, drum_style * (1.0 - self._free_amount))

        self._voices.begin_frame()
        self._apply_held_notes(notes, held_pitches, attack)

        # Walk the pulse through this frame: each step on the beat grid is a chance to play.
        self._sixteenths = sixteenth_weight(tempo)
        # Swing needs a clear push (jazz, shuffle, lofi): a random embedding's 0.3-0.7 stays straight.
        swing_amount = min(max((swing - 0.72) / 0.15, 0.0), 1.0)
        for step, offset in self._pulse.steps(start_beat, beats_in_frame, samples_per_beat, swing_amount):
            self._play_step(
                step, offset, notes, held_pitches, strictness,
                temperature, top_k, samples_per_beat / STEPS_PER_BEAT,
            )
        if self._free_amount > 0.0:
            self._play_free(notes, held_pitches, strictness, temperature, top_k)

    @property
    def descriptors(self) -> np.ndarray:
        """The style's descriptors as this frame plays them (smoothed)."""
        return self._descriptors

    def _update_style(self, conditioning: Conditioning) -> None:
        embedding = conditioning.style_embedding
        if style_descriptors.is_unset(embedding):
            target = style_descriptors.DEFAULT_DESCRIPTORS
            key = 0
        else:
            strength = min(max(conditioning.cfg_style / DEFAULT_CFG_STYLE, -1.0), 2.5)
            target = style_descriptors.descriptors(embedding, strength)
            key = style_descriptors.key_root(embedding)
        if not self._style_started:
            self._style_started = True
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

    def _envelope_for(self, attack: float, sustained: bool, timbre: int = SYNTH) -> tuple[float, float, float, float]:
        """(attack samples, sustain level, decay tau, release tau): the voice's own shape, its
        attack stretched or shortened by the attack descriptor; the plain voice's from the descriptor alone."""
        if timbre != SYNTH:
            _, attack_s, decay_s, sustain, release_s = VOICE_SHAPES[VOICE_NAMES[timbre]][:5]
            if sustained:
                sustain = max(sustain, 0.35)  # a held note keeps sounding, even on a piano
            scale = 2.0 ** ((0.5 - attack) * 2.0)
            return attack_s * scale * SAMPLE_RATE, sustain, decay_s * SAMPLE_RATE, release_s * SAMPLE_RATE
        attack_samples = _geometric(0.35, 0.003, attack) * SAMPLE_RATE
        decay_tau = _geometric(2.5, 0.15, attack) * SAMPLE_RATE
        release_tau = _geometric(0.9, 0.07, attack) * SAMPLE_RATE
        sustain = _lerp(0.85, 0.55, attack) if sustained else _lerp(0.75, 0.08, attack)
        return attack_samples, sustain, decay_tau, release_tau

    def _apply_held_notes(self, notes: np.ndarray, held_pitches: np.ndarray, attack: float) -> None:
        voices = self._voices
        voices.release_held(set(int(p) for p in held_pitches))
        timbre = int(np.argmax(self._voice_weights))  # held notes in the style's leading voice (no draw)
        envelope = self._envelope_for(min(attack, 0.8), sustained=True, timbre=timbre)
        count = len(held_pitches)
        gain = 0.34 / math.sqrt(max(count, 2) / 2.0)
        for pitch in held_pitches[:MAX_VOICES]:
            pitch = int(pitch)
            voice = voices.holding(pitch)
            if voice is not None:
                voices.hold_at(voice, gain)
                if notes[pitch] == NOTE_ONSET:  # re-trigger this frame
                    voices.note_on(voice, 0, HELD, pitch, gain, envelope, pan=voices.pan_of(voice), timbre=timbre)
                continue
            voice = voices.allocate(for_held=True)
            if voice is not None:
                pan = ((pitch % 12) / 11.0 - 0.5) * 0.5
                voices.note_on(voice, 0, HELD, pitch, gain, envelope, pan=pan, timbre=timbre)

    def _scale_pitches(self, low: int, high: int) -> np.ndarray:
        pitches = np.arange(max(low, 0), min(high, NOTE_SLOTS - 1) + 1)
        in_scale = np.isin((pitches - self._key_root) % 12, self._mode)
        return pitches[in_scale]

    def _play_step(
        self, step: int, offset: int, notes: np.ndarray, held_pitches: np.ndarray, strictness: float,
        temperature: float, top_k: int, samples_per_step: float,
    ) -> None:
        d = self._descriptors
        brightness, density, harmony, attack = d[_D["brightness"]], d[_D["density"]], d[_D["harmony"]], d[_D["attack"]]
        register = d[_D["register"]]
        bar_step = step % STEPS_PER_BAR
        allowed = notes == MASKED  # the improviser may only play masked slots
        improvising = self._voices.improvisation_gain > 1e-3 and allowed.any()

        if bar_step == 0:
            self._key_root = self._pending_key  # keys and modes change on the bar, not mid-phrase
            self._mode = MODES[min(int(harmony * len(MODES)), len(MODES) - 1)][1]
        # A chord on the bar, and also on the very first step when the engine starts mid-bar
        # (a swap or fallback joins the musical clock wherever it is).
        # A hymn moves its chords every half bar (the half-time beat); other styles on the bar or two.
        hymn = self._chord_voice == ORGAN and self._family_weights[FAMILY_NAMES.index("halftime")] > 0.5
        if bar_step == 0 or not self._chord_pitch_classes or (hymn and bar_step == 8):
            bars_per_chord = 0.5 if hymn else 2 if density < 0.35 else 1
            if bars_per_chord < 1 or (step // STEPS_PER_BAR) % bars_per_chord == 0 or not self._chord_pitch_classes:
                self._next_chord(temperature, held_pitches, top_k)
                if improvising:
                    self._play_pad(offset, allowed, held_pitches, attack, register, bars_per_chord, samples_per_step)
        elif improvising and self._chord_pitch_classes:
            self._comp(bar_step, offset, allowed, held_pitches, attack, register, temperature, samples_per_step)

        self._play_drums(step, offset, temperature, brightness)
        if not improvising:
            return
        self._play_bass(step, bar_step, offset, allowed, held_pitches, temperature, density, attack, register,
                        samples_per_step)
        self._play_melody(bar_step, offset, allowed, held_pitches, strictness, temperature, top_k, density,
                          attack, register, samples_per_step)

    def _next_chord(self, temperature: float, held_pitches: np.ndarray, top_k: int) -> None:
        d = self._descriptors
        self._chord_voice = self._choices.pick(self._voice_weights, temperature)
        if len(held_pitches):
            # Held notes are the harmony: follow them rather than the progression.
            self._chord_pitch_classes = tuple(sorted(set(int(p) % 12 for p in held_pitches)))
            self._chord_open = False
            self._choices.uniform()  # the draw the progression takes: the stream stays aligned
            return
        transitions = CHORD_TRANSITIONS[self._chord_degree]
        degrees = np.array(list(transitions.keys()))
        scores = np.log(np.array(list(transitions.values())))
        self._chord_degree = self._choices.choose(degrees, scores, max(temperature, 0.0), min(top_k, len(degrees)))
        mode = self._mode
        # Open fifths (power chords, drones) drop the third; otherwise a triad, with a seventh and a
        # ninth as likely as the extensions descriptor says (jazz, house), drawn per chord so a
        # blend of two styles alternates between their colours.
        # Always three draws (open fifths, sevenths, ninths), so the stream does not depend on the chord.
        open_fifths = self._choices.decide(min(max((d[_D["open"]] - 0.55) / 0.25, 0.0), 1.0), temperature)
        seventh = self._choices.decide(min(max((d[_D["extensions"]] - 0.45) / 0.3, 0.0), 1.0), temperature)
        ninth = self._choices.decide(min(max((d[_D["extensions"]] - 0.65) / 0.25, 0.0), 1.0), temperature)
        self._chord_open = open_fifths
        degrees_up: tuple[int, ...]
        if open_fifths:
            degrees_up = (0, 4)
        else:
            degrees_up = (0, 2, 4) + ((6,) if seventh else ()) + ((8,) if seventh and ninth else ())
        self._chord_pitch_classes = tuple(
            (self._key_root + mode[(self._chord_degree + i) % 7]) % 12 for i in degrees_up
        )

    def _play_pad(self, offset, allowed, held_pitches, attack, register, bars, samples_per_step) -> None:
        if len(held_pitches):
            return  # the held notes already sound the harmony
        for pad in self._pad_voices:
            self._voices.release(pad, offset, PAD)
        self._pad_voices = []
        timbre = self._chord_voice
        centre = 55 + int(round((register - 0.5) * 12))
        if timbre == SYNTH:
            envelope = self._envelope_for(attack * 0.6, sustained=True)
            envelope = (max(envelope[0], 0.04 * SAMPLE_RATE), envelope[1], envelope[2],
                        max(envelope[3], 0.4 * SAMPLE_RATE))
        else:
            envelope = self._envelope_for(attack, sustained=timbre not in _DECAYING, timbre=timbre)
            centre += int(VOICE_SHAPES[VOICE_NAMES[timbre]][12]) // 2
        gain = _lerp(0.13, 0.06, attack) * _CHORD_GAIN[timbre]
        pitches = [centre - 6 + (pc - (centre - 6)) % 12 for pc in self._chord_pitch_classes]
        if self._chord_open:
            pitches.append(pitches[0] + 12)  # root, fifth, octave
        gain /= math.sqrt(max(len(pitches), 3) / 3.0)
        for i, pitch in enumerate(pitches):
            if not 0 <= pitch < NOTE_SLOTS or not allowed[pitch]:
                continue
            voice = self._voices.allocate()
            if voice is None:
                return
            # An organ lifts its hands between chords, so a held tone speaks again.
            duration = bars * STEPS_PER_BAR * samples_per_step * (0.88 if timbre == ORGAN else 0.98)
            self._voices.note_on(voice, offset, PAD, pitch, gain, envelope, pan=(-0.6, 0.6, 0.0, -0.3, 0.3)[i % 5],
                          duration=duration, brightness_scale=0.75, timbre=timbre)
            self._pad_voices.append(voice)

    def _comp(self, bar_step, offset, allowed, held_pitches, attack, register, temperature, samples_per_step) -> None:
        """Chords struck again in the voice's own rhythm: a guitar strums the beats, a distorted lead
        chugs eighths, a house organ stabs the off-beats, a jazz piano comps on off-beats, and
        decaying voices (piano, bells) ring again half-way through the bar."""
        voice = self._chord_voice
        weights = self._family_weights
        length = 0.5  # bars
        if voice == LEAD:
            probability, length = (0.85 if bar_step % 2 == 0 else 0.0), 1.6 / STEPS_PER_BAR
        elif voice == ORGAN and weights[FAMILY_NAMES.index("four")] > 0.4:
            probability, length = (0.9 if bar_step % 4 == 2 else 0.0), 1.2 / STEPS_PER_BAR
        elif voice == PLUCK:
            probability = 0.9 if bar_step % 4 == 0 else 0.6 if bar_step % 4 == 2 else 0.0  # down, up
            length = 2.0 / STEPS_PER_BAR
        elif voice == PIANO and weights[FAMILY_NAMES.index("ride")] > 0.4:
            probability, length = (0.35 if bar_step in (6, 10, 14) else 0.0), 3.0 / STEPS_PER_BAR
        elif voice in _DECAYING:
            probability = 1.0 if bar_step == 8 else 0.0
        else:
            return
        if probability > 0.0 and self._choices.decide(probability, temperature):
            self._play_pad(offset, allowed, held_pitches, attack, register, length, samples_per_step)

    def _play_bass(self, step, bar_step, offset, allowed, held_pitches, temperature, density, attack, register,
                   samples_per_step) -> None:
        d = self._descriptors
        bassline = d[_D["bassline"]]
        walking = self._family_weights[FAMILY_NAMES.index("ride")] > 0.5 and self._free_amount < 0.5
        funk = bassline > 0.88 and not walking and self._free_amount < 0.5  # a clear push: funk, slap
        groove = self._drum_amount > 0.25 or density > 0.55
        four = self._family_weights[FAMILY_NAMES.index("four")] > 0.5 and not funk
        sub = self._family_weights[FAMILY_NAMES.index("breaks")] > 0.5 and not funk
        halftime = self._family_weights[FAMILY_NAMES.index("halftime")] > 0.5 and not (walking or funk)
        if halftime:
            # Boom-bap: the bass doubles the half-time kick.
            probability = float(FAMILIES["halftime"][DRUMS.index("kick"), step % (2 * STEPS_PER_BAR)])
        elif walking:
            probability = 1.0 if bar_step % 4 == 0 else 0.0  # quarter notes
        elif four:
            probability = 0.95 if bar_step % 4 == 2 else 0.0  # the off-beat bass of house and techno
        elif sub:
            probability = 1.0 if bar_step in (0, 10) else 0.0  # a long sub note under the break
        elif funk:
            probability = float(FUNK_BASS[bar_step]) * (0.6 + 0.6 * density)
            probability *= self._sixteenths if bar_step % 2 == 1 else 1.0
        elif groove and self._free_amount < 0.5:
            probability = (1.0 if bar_step in (0, 8) else 0.0) + (0.35 + 0.4 * density if bar_step % 4 == 2 else 0.0)
            probability += 0.15 * density * self._sixteenths if bar_step % 2 == 1 else 0.0
        else:
            probability = 1.0 if bar_step == 0 and (step // STEPS_PER_BAR) % 2 == 0 else 0.0
        if probability <= 0.0 or not self._choices.decide(min(probability, 1.0), temperature):
            return
        groove = groove or walking or funk or four  # lines with a rhythm of their own: short notes
        root = min(held_pitches) % 12 if len(held_pitches) else self._chord_pitch_classes[0]
        low = 33 + int(round((register - 0.5) * 10))  # bass octave: MIDI 28..38
        pitch = low + (root - low) % 12
        if walking and bar_step != 0:
            # A walking line: chord tones and scale steps near the last note, on every beat.
            candidates = self._scale_pitches(low - 2, low + 14)
            scores = -np.abs(candidates - self._bass_previous) / 2.0 - 3.0 * (candidates == self._bass_previous)
            scores += 1.0 * np.isin(candidates % 12, self._chord_pitch_classes)
            pitch = self._choices.choose(candidates, scores, max(temperature, 0.3), 4)
        elif funk:
            pitch += 12 if bar_step % 4 != 0 and self._choices.uniform() < 0.35 else 0  # the octave pop of a slap line
            pitch += 12  # slapped high on the neck: the line's bite, not its weight
        self._bass_previous = pitch
        if not 0 <= pitch < NOTE_SLOTS or not allowed[pitch]:
            return
        voice = self._voices.allocate()
        if voice is None:
            return
        # A bass line is one string: the last note stops where the next begins (long notes of a
        # slow style would otherwise pile up at the same pitch into a loud, buzzing unison).
        self._voices.end_line(BASS, offset, keep=voice, release_tau=0.06 * SAMPLE_RATE)
        weights = self._voice_weights
        if funk and attack > 0.55:
            timbre = PLUCK  # slap: a bright pluck that dies fast
        elif weights[ORGAN] > 0.5 or weights[BOWED] > 0.5:
            timbre = ORGAN if weights[ORGAN] > weights[BOWED] else BOWED  # organ pedals, a cello's bass
        else:
            timbre = SYNTH
        if walking:
            steps = 3.6
        elif four:
            steps = 1.5
        elif sub:
            steps = 6.0 if bar_step == 10 else 9.5
            timbre = SYNTH
        elif funk:
            steps = 1.2
        else:
            steps = 1.6 if groove and self._free_amount < 0.5 else 2 * STEPS_PER_BAR * 0.97
        if sub:
            envelope = self._envelope_for(0.6, sustained=True)
        elif timbre == SYNTH:
            envelope = self._envelope_for(max(attack, 0.55) if groove else attack * 0.5, sustained=not groove)
        else:
            envelope = self._envelope_for(attack, sustained=timbre != PLUCK, timbre=timbre)
        gain = _lerp(0.06, 0.26, bassline) * (1.2 if sub else 0.6 if four else 1.0)
        gain *= 0.85 + 0.3 * self._choices.uniform() * min(temperature, 1.0)
        self._voices.note_on(voice, self._choices.jitter(offset, temperature, 0.002), BASS, pitch, gain, envelope, pan=0.0,
                      duration=steps * samples_per_step,
                      brightness_scale=0.3 if sub else 0.6 if timbre == SYNTH else 0.8,
                      timbre=timbre)

    def _melody_pitch(self, allowed, held_pitches, strictness, temperature, top_k, register, timbre) -> int | None:
        centre = 62 + int(round((register - 0.5) * 24))
        if timbre != SYNTH:
            centre += int(VOICE_SHAPES[VOICE_NAMES[timbre]][12])
        candidates = self._scale_pitches(centre - 10, centre + 12)
        candidates = candidates[allowed[candidates]]
        if len(candidates) == 0:
            return None
        pitch_classes = candidates % 12
        scores = -np.abs(candidates - self._melody_previous) / 2.5  # stepwise motion is likeliest
        scores += 1.2 * np.isin(pitch_classes, self._chord_pitch_classes)
        if len(held_pitches):
            scores += 2.0 * strictness * np.isin(pitch_classes, held_pitches % 12)
        scores -= 2.5 * (candidates == self._melody_previous)
        scores -= 0.08 * np.abs(candidates - centre)  # drift back toward the style's register
        pitch = self._choices.choose(candidates, scores, temperature, top_k)
        self._melody_previous = pitch
        return pitch

    def _melody_note(self, offset, pitch, timbre, temperature, attack, samples_per_step, spread_s) -> None:
        voice = self._voices.allocate()
        if voice is None:
            return
        length_steps = _lerp(4.0, 1.0, attack) * _lerp(1.3, 0.4, attack)
        if timbre != SYNTH:
            length_steps = max(length_steps, 1.0) * VOICE_SHAPES[VOICE_NAMES[timbre]][11]
        length_steps *= 1.0 + 0.25 * min(temperature, 2.0) * (self._choices.uniform() - 0.5)
        velocity = 0.75 + 0.12 * temperature * self._choices.normal()
        gain = 0.32 * min(max(velocity, 0.3), 1.2)
        envelope = self._envelope_for(attack, sustained=False, timbre=timbre)
        pan = 0.35 * (self._choices.uniform() - 0.5) * 2
        self._voices.note_on(voice, self._choices.jitter(offset, temperature, spread_s), MELODY, pitch, gain, envelope, pan=pan,
                      duration=length_steps * samples_per_step, timbre=timbre)

    def _play_melody(self, bar_step, offset, allowed, held_pitches, strictness, temperature, top_k, density,
                     attack, register, samples_per_step) -> None:
        probability = (0.12 + 0.85 * density) * METRIC_WEIGHT[bar_step] * (1.0 - self._free_amount)
        if bar_step % 2 == 1:
            probability *= density * self._sixteenths  # sparse and slow styles leave the off-sixteenths alone
        # Half time: the melody breathes at the slower pulse too (eighths become the off-beats).
        halftime = self._family_weights[FAMILY_NAMES.index("halftime")]
        if bar_step % 8 != 0:
            probability *= 1.0 - 0.7 * halftime
        if not self._choices.decide(probability, temperature):
            return
        timbre = self._choices.pick(self._voice_weights, temperature)
        pitch = self._melody_pitch(allowed, held_pitches, strictness, temperature, top_k, register, timbre)
        if pitch is not None:
            self._melody_note(offset, pitch, timbre, temperature, attack, samples_per_step, 0.006)

    def _play_free(self, notes, held_pitches, strictness, temperature, top_k) -> None:
        """Free time (ambient, drones): now and then a note at any moment of the frame, off the grid."""
        allowed = notes == MASKED
        if self._voices.improvisation_gain <= 1e-3 or not allowed.any():
            return
        d = self._descriptors
        rate = self._free_amount * (0.15 + 0.6 * d[_D["density"]])  # notes per second
        draw, where = self._choices.uniforms(2)
        if draw >= rate * FRAME_SAMPLES / SAMPLE_RATE:
            return
        timbre = self._choices.pick(self._voice_weights, temperature)
        # An octave above the style's register: over a low drone, notes close to it would beat.
        register = min(d[_D["register"]] + 0.5, 1.0)
        pitch = self._melody_pitch(allowed, held_pitches, strictness, temperature, top_k, register, timbre)
        if pitch is None:
            return
        offset = int(where * (FRAME_SAMPLES - 1))
        # Long, soft notes: lengths in seconds, not steps (there is no grid to count).
        self._melody_note(offset, pitch, timbre, temperature, min(d[_D["attack"]], 0.3),
                          SAMPLE_RATE * 0.25, 0.0)

    def _play_drums(self, step, offset, temperature, brightness) -> None:
        amount = self._drum_amount
        draws = self._choices.uniforms(len(DRUMS) + 2)  # always the same draws, so the stream does not depend on the pattern
        if amount < 0.12:
            return
        bar_step = step % STEPS_PER_BAR
        position = np.interp(amount, DRUM_LEVELS, np.arange(len(DRUM_LEVELS)))
        lower = int(min(position, len(DRUM_LEVELS) - 2))
        mix = position - lower
        velocity = 0.55 + 0.45 * min(amount / 0.8, 1.0)
        # The named families play their patterns in full once the drums are up; the plain one grows.
        weights = self._family_weights
        family_probability = weights[1:] @ FAMILY_STACK[:, :, step % (2 * STEPS_PER_BAR)] * min(amount / 0.4, 1.0)
        kit = self._descriptors[_D["kit"]]
        heavy = draws[-2] < min(max((kit - 0.5) / 0.25, 0.0), 1.0)
        light = draws[-1] < min(max((0.45 - kit) / 0.2, 0.0), 1.0)
        for i, drum in enumerate(DRUMS):
            plain = DRUM_TEMPLATES[drum]
            probability = weights[0] * _lerp(plain[lower, bar_step], plain[lower + 1, bar_step], mix)
            probability += family_probability[i]
            if bar_step % 2 == 1:
                probability *= self._sixteenths
            if probability <= 0.0:
                continue
            if temperature < 0.05:
                hit = probability >= 0.5
            else:
                p = min(max(probability, 1e-4), 1 - 1e-4)
                logit = math.log(p / (1 - p)) / temperature
                hit = draws[i] < 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))
            if not hit:
                continue
            gain = DRUM_GAIN[drum]
            if drum in ("hat", "open_hat"):
                sample = f"{drum}_bright" if brightness > 0.5 else f"{drum}_dark"
            elif drum == "kick" and bar_step % 2 == 1:
                sample = "kick_light"  # a double-kick roll: tight, or it turns to mud
                gain *= 1.2
            elif drum == "kick":
                sample = "kick_heavy" if heavy else "kick_light" if light else "kick"
                gain *= 1.2 if heavy else 0.6 if light else 0.85
            elif drum in ("snare", "ghost"):
                sample = "brush" if light else "snare"
                gain *= 0.8 if light else 1.0
            else:
                sample = drum
            accent = 1.0 if bar_step % 4 == 0 else 0.8
            if drum in ("hat", "open_hat", "clap") and heavy:
                accent *= 1.6  # a heavy kit hits everything hard, cymbals too
            elif drum == "ride" and weights[FAMILY_NAMES.index("double")] > 0.5:
                accent *= 2.0  # a metal drummer bashes the ride
            gain *= velocity * accent
            start = self._choices.jitter(offset, temperature, 0.0015)
            self._drums.strike(sample, start, gain, DRUM_PAN[drum], chokes=drum in ("hat", "kick"),
                               chokable=drum == "open_hat")

