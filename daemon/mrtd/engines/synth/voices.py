"""The voice bank: the twelve pitched voices and the drum one-shots that are sounding.

The composer asks for notes (`VoiceBank.note_on`) and hits (`DrumHits.strike`); each frame
the bank renders every active voice as one [voices, 1920] wavetable lookup with closed-form
envelopes, and the kit mixes its ringing one-shots. The voices keep their own clock (samples
since reset): note starts and ends are times on it.
"""

from __future__ import annotations

import math

import numpy as np

from mrtd.engines.synth.sounds import (
    HIGHEST_PARTIAL_HZ,
    SYNTH,
    TABLE_LEVELS,
    TABLE_SIZE,
    VOICE_NAMES,
    VOICE_SHAPES,
    build_drum_samples,
    build_wavetables,
)
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE

MAX_VOICES = 12
# Voice roles.
FREE, HELD, MELODY, PAD, BASS = range(5)
_NEVER = 1 << 62
CHOKE_SAMPLES = int(0.005 * SAMPLE_RATE)  # a choked open hat fades out over 5 ms

SAMPLE_INDEX = np.arange(FRAME_SAMPLES, dtype=np.float32)
FRAME_RAMP = SAMPLE_INDEX / FRAME_SAMPLES  # 0 .. 1 across a frame: every gain change ramps along it
# The running sum of the ramp, n (n - 1) / 2N: the phase of a vibrato that ramps across a frame.
_RAMP_SUM = (SAMPLE_INDEX * (SAMPLE_INDEX - 1) / (2.0 * FRAME_SAMPLES)).astype(np.float32)
for _array in (SAMPLE_INDEX, FRAME_RAMP, _RAMP_SUM):
    _array.setflags(write=False)


def midi_to_hz(note: float) -> float:
    """Equal temperament, A4 (MIDI 69) = 440 Hz."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _event_order(event: tuple) -> tuple[int, bool]:
    """A voice's gate events by time, a note's end before the next note's start at the same sample."""
    return event[0], event[1] == "on"


def pan_gains(pan: float) -> tuple[float, float]:
    """Equal-power pan, -1 left .. 1 right."""
    angle = (pan + 1.0) * math.pi / 4.0
    return math.cos(angle), math.sin(angle)


class VoiceBank:
    """Twelve voices, each a note on one instrument's wavetables with its own envelope, pan,
    brightness and vibrato; notes start and end at sample offsets within a frame."""

    def __init__(self) -> None:
        self._tables, self._table_partials, self._table_ratio = build_wavetables()
        self._voice_stride = (TABLE_LEVELS + 1) * TABLE_SIZE
        self.reset()

    def reset(self) -> None:
        self._clock = 0  # samples rendered since reset
        # How loud the improvised voices play (held notes at full): the composer steps it back
        # while notes are held.
        self.improvisation_gain = 1.0
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
        self._timbre = np.zeros(v, dtype=np.int64)  # which voice's tables (SYNTH, PIANO, ...)
        self._bright_tau = np.zeros(v)  # samples; 0: the brightness holds
        self._bright_floor = np.ones(v)
        self._vibrato_depth = np.zeros(v)
        self._vibrato_rate = np.zeros(v)  # cycles per sample
        self._started = np.zeros(v, dtype=np.int64)
        self._events: list[list[tuple]] = [[] for _ in range(v)]

    # ------------------------------------------------------------------ the composer's requests

    def begin_frame(self) -> None:
        """Forget the last frame's gate events: this frame's notes start from here."""
        for events in self._events:
            events.clear()

    def release_held(self, still_held: set[int]) -> None:
        """Release held voices whose slot is no longer sounding."""
        for v in np.flatnonzero(self._role == HELD):
            if int(self._note[v]) not in still_held and self._gate[v]:
                self._off_time[v] = self._clock

    def holding(self, pitch: int) -> int | None:
        """The voice that still holds `pitch` (gate open, no end scheduled), if any."""
        found = np.flatnonzero((self._role == HELD) & (self._note == pitch) & self._gate)
        voice = int(found[0]) if len(found) else None
        if voice is not None and self._gate[voice] and self._off_time[voice] == _NEVER:
            return voice
        return None

    def hold_at(self, voice: int, gain: float) -> None:
        """A held voice follows the held chord's level, times its instrument's own gain."""
        timbre_now = int(self._timbre[voice])
        level = VOICE_SHAPES[VOICE_NAMES[timbre_now]][10] if timbre_now != SYNTH else 1.0
        self._velocity[voice] = gain * level

    def pan_of(self, voice: int) -> float:
        """Where `voice` sits, -1 left .. 1 right (a re-struck held note stays there)."""
        return self._pan[voice]

    def release(self, voice: int, offset: int, role: int) -> None:
        """End `voice` at `offset` (or earlier, as planned) if it still sounds a `role` note."""
        if self._role[voice] == role and self._gate[voice]:
            self._off_time[voice] = min(self._off_time[voice], self._clock + offset)

    def end_line(self, role: int, offset: int, keep: int, release_tau: float) -> None:
        """End every sounding `role` voice but `keep` at `offset`, within `release_tau` samples:
        a line on one string (a bass) stops where its next note begins."""
        for other in np.flatnonzero((self._role == role) & self._gate):
            if other != keep:
                self._off_time[other] = min(self._off_time[other], self._clock + offset)
                self._release_tau[other] = min(self._release_tau[other], release_tau)  # used from that off

    def allocate(self, for_held: bool = False) -> int | None:
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

    def note_on(
        self, voice: int, offset: int, role: int, pitch: int, gain: float,
        envelope: tuple[float, float, float, float], pan: float, duration: float | None = None,
        brightness_scale: float = 1.0, timbre: int = SYNTH,
    ) -> None:
        # If the voice's previous note ends before this onset, keep that release.
        if self._gate[voice] and self._clock <= self._off_time[voice] < self._clock + offset:
            self._events[voice].append((int(self._off_time[voice] - self._clock), "off"))
        self._events[voice].append((offset, "on", midi_to_hz(pitch), envelope, timbre))
        if timbre == SYNTH:
            self._bright_tau[voice], self._bright_floor[voice] = 0.0, 1.0
            self._vibrato_depth[voice] = self._vibrato_rate[voice] = 0.0
        else:
            shape = VOICE_SHAPES[VOICE_NAMES[timbre]]
            self._bright_tau[voice], self._bright_floor[voice] = shape[5] * SAMPLE_RATE, shape[6]
            brightness_scale *= shape[7]
            self._vibrato_depth[voice], self._vibrato_rate[voice] = shape[8], shape[9] / SAMPLE_RATE
            gain *= shape[10]
        self._role[voice] = role
        self._note[voice] = pitch
        if self._level[voice] < 1e-4 and not self._events[voice][:-1]:
            # A silent voice starts at its gain: the envelope rises from zero anyway, and a gain
            # ramped across the frame would blunt every attack to 40 ms (a pluck to a swell).
            self._gain[voice] = gain * (self.improvisation_gain if role != HELD else 1.0)
        self._velocity[voice] = gain
        self._pan[voice] = pan
        self._brightness_scale[voice] = brightness_scale
        self._started[voice] = self._clock + offset
        start = self._clock + offset
        self._off_time[voice] = _NEVER if duration is None else start + max(int(duration), 1)

    # ------------------------------------------------------------------ rendering

    def render(self, brightness: float) -> np.ndarray:
        """All sounding voices as one [voices, 1920] wavetable lookup, mixed to [2, 1920]; the
        clock moves on a frame."""
        clock_end = self._clock + FRAME_SAMPLES
        for v in range(MAX_VOICES):
            if self._clock <= self._off_time[v] < clock_end and self._gate[v]:
                offset = int(self._off_time[v] - self._clock)
                if not any(e[1] == "off" and e[0] == offset for e in self._events[v]):
                    self._events[v].append((offset, "off"))
            self._events[v].sort(key=_event_order)
        active = [v for v in range(MAX_VOICES) if self._role[v] != FREE]
        if not active:
            self._clock = clock_end
            return np.zeros((2, FRAME_SAMPLES), dtype=np.float32)
        count = len(active)
        envelopes = np.empty((count, FRAME_SAMPLES), dtype=np.float32)
        old_increment = np.empty(count)
        new_increment = np.empty(count)
        switch_at = np.full(count, FRAME_SAMPLES, dtype=np.float64)
        hold_level = np.empty(count)
        start_level = np.empty(count)
        end_level = np.empty(count)
        old_base = np.empty(count, dtype=np.int64)
        new_base = np.empty(count, dtype=np.int64)
        vibrato = np.ones((count, 2))  # frequency ratio at the frame's start and end
        for row, v in enumerate(active):
            timbre = old_timbre = int(self._timbre[v])
            old_hz = self._frequency[v]
            old_base[row] = timbre
            old_increment[row] = new_increment[row] = self._frequency[v] / (self._table_ratio[timbre] * SAMPLE_RATE)
            for event in self._events[v]:
                if event[1] == "on":
                    timbre = event[4]
                    new_increment[row] = event[2] / (self._table_ratio[timbre] * SAMPLE_RATE)
                    switch_at[row] = event[0]
                    self._frequency[v] = event[2]
            self._timbre[v] = timbre
            new_base[row] = timbre
            self._render_envelope(v, envelopes[row])
            # Gain ramps linearly across the frame toward the voice's target: no zipper clicks.
            target = self._velocity[v] * (self.improvisation_gain if self._role[v] != HELD else 1.0)
            gain_start = self._gain[v]
            if gain_start != target:
                envelopes[row] *= gain_start + (target - gain_start) * FRAME_RAMP
            else:
                envelopes[row] *= target
            self._gain[v] = target
            # Brightness: a table level, capped so the top partial stays below HIGHEST_PARTIAL_HZ;
            # plucked, struck and rung voices darken as they ring.
            age_end = clock_end - self._started[v]
            top_hz = self._table_partials[timbre] * self._frequency[v] / self._table_ratio[timbre]
            cap = max(int(np.searchsorted(top_hz, HIGHEST_PARTIAL_HZ)) - 1, 0)
            if old_timbre != timbre or old_hz != self._frequency[v]:  # the old note's tail shares the levels
                top_hz = self._table_partials[old_timbre] * old_hz / self._table_ratio[old_timbre]
                cap = min(cap, max(int(np.searchsorted(top_hz, HIGHEST_PARTIAL_HZ)) - 1, 0))
            struck = (0.04 + 0.96 * brightness) * self._brightness_scale[v] * (TABLE_LEVELS - 1)
            wanted = struck
            if self._bright_tau[v] > 0.0:
                floor = self._bright_floor[v]
                wanted *= floor + (1.0 - floor) * math.exp(-max(age_end, 0) / self._bright_tau[v])
            # Until a note strikes, the voice keeps its level; a struck note starts at its own attack
            # brightness (a pluck is brightest as it is plucked) and darkens from there.
            hold_level[row] = min(self._table_level[v], cap)
            start_level[row] = min(struck, cap) if switch_at[row] < FRAME_SAMPLES else hold_level[row]
            end_level[row] = min(wanted, cap)
            self._table_level[v] = end_level[row]
            if self._vibrato_depth[v] > 0.0:
                depth, rate = self._vibrato_depth[v], self._vibrato_rate[v]
                onset = min(max(age_end - FRAME_SAMPLES, 0) / (0.3 * SAMPLE_RATE), 1.0)  # vibrato fades in
                vibrato[row, 0] = 1.0 + depth * onset * math.sin(2 * math.pi * rate * (age_end - FRAME_SAMPLES))
                vibrato[row, 1] = 1.0 + depth * min(onset + 0.13, 1.0) * math.sin(2 * math.pi * rate * age_end)
            if self._level[v] < 1e-4 and not self._gate[v]:
                self._free(v)

        # Phase: the old frequency up to the note change, the new one after it (phase-continuous).
        n = SAMPLE_INDEX
        before = np.minimum(n[None, :], switch_at[:, None].astype(np.float32))
        after = n[None, :] - before
        phase = self._phase[active].astype(np.float32)[:, None] + (
            old_increment.astype(np.float32)[:, None] * before + new_increment.astype(np.float32)[:, None] * after
        )
        end_phase = self._phase[active] + old_increment * switch_at + new_increment * (FRAME_SAMPLES - switch_at)
        wobbling = np.any(vibrato != 1.0, axis=1)
        steady = np.flatnonzero(wobbling & (switch_at >= FRAME_SAMPLES))
        if len(steady):
            # Vibrato: the frequency ratio ramps linearly across the frame, so the phase is the
            # increment times the ramp's running sum, r0 n + (r1 - r0) n (n - 1) / 2N, in closed form.
            w = steady
            r0, slope = vibrato[w, 0], vibrato[w, 1] - vibrato[w, 0]
            start = self._phase[active][w]
            ramped = r0.astype(np.float32)[:, None] * n[None, :] + slope.astype(np.float32)[:, None] * _RAMP_SUM
            phase[w] = start.astype(np.float32)[:, None] + old_increment.astype(np.float32)[w, None] * ramped
            end_phase[w] = start + old_increment[w] * (r0 * FRAME_SAMPLES + slope * (FRAME_SAMPLES - 1) / 2.0)
        switching = np.flatnonzero(wobbling & (switch_at < FRAME_SAMPLES))
        if len(switching):
            # A vibrato voice that changes note in this frame: a running sum over both increments.
            w = switching
            ratio = vibrato[w, :1] + (vibrato[w, 1:] - vibrato[w, :1]) * FRAME_RAMP[None, :]
            increment = np.where(n[None, :] < switch_at[w, None], old_increment[w, None], new_increment[w, None])
            increment *= ratio
            running = np.cumsum(increment, axis=1)
            start = self._phase[active][w]
            phase[w] = (start[:, None] + running - increment).astype(np.float32)
            end_phase[w] = start + running[:, -1]
        self._phase[active] = end_phase % 1.0
        index = (phase * TABLE_SIZE).astype(np.int32) & (TABLE_SIZE - 1)

        # Brightness ramps from its start level to its end level, across the frame or from the
        # note struck in it (before that the old note keeps its level); each sample crossfades the
        # two tables around its own level. (One pair of tables for the whole frame extrapolated
        # past them when the level moved more than one table in a frame, as a new organ note's
        # fast darkening does, and the frame's end no longer met the next frame's start: a click.)
        # The voice's table set changes with its note (a stolen voice's old note ends in its old tables).
        ramp_from = np.where(switch_at < FRAME_SAMPLES, switch_at, 0.0)
        ramp = np.clip((n[None, :] - ramp_from[:, None]) / (FRAME_SAMPLES - ramp_from)[:, None], 0.0, 1.0)
        level = (start_level[:, None] + (end_level - start_level)[:, None] * ramp).astype(np.float32)
        level = np.where(n[None, :] < ramp_from[:, None], hold_level.astype(np.float32)[:, None], level)
        level_floor = np.floor(level)
        mix = level - level_floor
        index += level_floor.astype(np.int32) * TABLE_SIZE
        if np.array_equal(old_base, new_base):
            index += (new_base * self._voice_stride)[:, None].astype(np.int32)
        else:
            index += np.where(n[None, :] < switch_at[:, None], (old_base * self._voice_stride)[:, None],
                              (new_base * self._voice_stride)[:, None]).astype(np.int32)
        lower = self._tables.take(index)
        upper = self._tables.take(index + TABLE_SIZE)
        wave = lower + mix * (upper - lower)
        wave *= envelopes

        pans = np.array([pan_gains(self._pan[v]) for v in active], dtype=np.float32).T  # [2, count]
        self._clock = clock_end
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
        ramp = SAMPLE_INDEX[:length]
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


class DrumHits:
    """The drum one-shots ringing: each plays its sample to the end across frames, unless a
    closed hat or a kick chokes an open hat."""

    def __init__(self) -> None:
        self._samples = build_drum_samples()
        self._choke_ramp = np.linspace(1.0, 0.0, CHOKE_SAMPLES, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        # Active one-shots as [sample, read position, start offset, gain L, gain R, chokable].
        self._hits: list[list] = []

    def strike(self, sample: str, start: int, gain: float, pan: float, chokes: bool, chokable: bool) -> None:
        """Play the one-shot `sample` from `start` in this frame; `chokes`: it cuts open hats."""
        left, right = pan_gains(pan)
        if chokes:
            self._choke(start)
        self._hits.append([self._samples[sample], 0, start, gain * left, gain * right, chokable])

    def _choke(self, at: int) -> None:
        """A closed hat (or the kick) cuts a ringing open hat, as the pedal does: 5 ms fade from `at`."""
        for hit in self._hits:
            sample, position, start, chokable = hit[0], hit[1], hit[2], hit[5]
            if not chokable or at < start:
                continue
            cut = position + at - start
            if cut < len(sample) - CHOKE_SAMPLES:
                choked = sample[: cut + CHOKE_SAMPLES].copy()
                choked[cut:] *= self._choke_ramp
                hit[0], hit[5] = choked, False

    def render(self) -> np.ndarray:
        """This frame of every ringing one-shot, mixed to [2, 1920]."""
        out = np.zeros((2, FRAME_SAMPLES), dtype=np.float32)
        still_ringing = []
        for hit in self._hits:
            sample, position, start, left, right, _chokable = hit
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

