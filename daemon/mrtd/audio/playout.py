"""The audio callback's whole job, written down in one place.

Real-time contract (what runs inside `Playout.fill`):
- copies samples from the ring into the output buffer (volume, mute and
  bypass are applied per frame by the generator, so they land on time);
- no array is allocated (every scratch buffer is made in `__init__`), no lock
  is taken, nothing is logged, no file or socket is touched;
- other threads talk to it only through plain attribute assignments
  (`draining`, `duck`'s position, `reachable_fill`), which CPython publishes
  atomically; it publishes back the same way (`clock`, `block`, `underruns`,
  and one float per callback into a preallocated window: when the ring is heard);
- a gap in the ring (underrun: fewer samples than the block asks for) is
  concealed without holding any audio back: the callback plays what is left,
  then what it played before, mirrored around the last sample (the ring keeps
  `FADE_SAMPLES` behind its reader: `Ring.mirror_into`), fading out over
  `FADE_SAMPLES` from the block where the ring ran short; then silence, and a
  fade back in once a cushion has built up again. The mirror is continuous in
  value where it turns, so the fade has music to fade, not a cliff. Each gap
  counts as one underrun. (It used to leave `FADE_SAMPLES` unplayed in the
  ring to fade over: 5 ms of latency on every command, for the rare gap.)
- a reset asked for now ducks what is buffered: from the next block the
  output fades to silence over `FADE_SAMPLES` and stays silent up to the
  reset frame, which the generator made to fade in (not an underrun). The
  official runner cuts the output to 0 at once instead (its reset envelope
  jumps to 0: core/include/magentart/realtime_runner.h, `trigger_reset`);
  the short fade is mrtd's click guard for a live output, kept on purpose.
  The fade-in after it is the official one (runtime/generator.py).

The ring runs at the device's rate (`sample_rate`); when that is not 48 kHz
the generation side resamples before writing, so the callback still only
copies. Frame k then starts at ring sample round(k * 1920 * rate / 48000)
(`frame_start`), which is what the frame clock maps wall time through.

The same clock tells the generation side how much audio is still ahead of
the listener (`ahead_s`) and how little the callback may ever find
(`least_ahead_s`): the runner starts each frame just in time from the two.

Python objects (views, floats) are still created by the interpreter here;
what matters for glitches is that nothing waits on the generator or the OS.
"""

from __future__ import annotations

import numpy as np

from mrtd.frame import CHANNELS, FRAME_SAMPLES, SAMPLE_RATE
from mrtd.audio.ring import Ring

FADE_SAMPLES = 240  # 5 ms: long enough to avoid a click, short enough to hide
MAX_BLOCK = 16384
CLOCK_WINDOW = 16  # callbacks whose earliest say on when the ring is heard is believed
CLOCK_JUMP_S = 0.1  # a say this far from the one before is another clock (another output, a restart)


def playout_ring(capacity_samples: int) -> Ring:
    """A ring the playout can read: it keeps `FADE_SAMPLES` behind its reader for the concealment."""
    return Ring(capacity_samples, keep=FADE_SAMPLES)


class Playout:
    """Fills output blocks from the ring. Called by a device callback or a paced sink thread."""

    def __init__(self, ring: Ring, sample_rate: int = SAMPLE_RATE, max_block: int = MAX_BLOCK) -> None:
        if ring.keep < FADE_SAMPLES:
            raise ValueError(f"the playout's ring must keep {FADE_SAMPLES} samples behind its reader "
                             "(Ring(..., keep=FADE_SAMPLES)): a gap is faded out over them, mirrored")
        self._ring = ring
        self.sample_rate = sample_rate
        self.samples_per_frame = FRAME_SAMPLES * sample_rate / SAMPLE_RATE  # ring samples per model frame
        self._cushion = round(self.samples_per_frame)  # refill before fading back in after a gap
        # Set by the runner: the fill it is sure to reach while nothing drains the ring. Just in
        # time, with a large device block, that may be less than block + cushion.
        self.reachable_fill = 1 << 62
        self.max_block = max_block
        self._steps = (np.arange(1, max_block + 1, dtype=np.float32)) / FADE_SAMPLES
        self._envelope = np.zeros(max_block, dtype=np.float32)
        self._playing = False  # envelope heading up (True) or down to silence (False)
        self.started = False  # the music has begun (before, the output is the first cushion's silence)
        self._level = 0.0  # concealment envelope, 0..1
        self._duck_envelope = np.zeros(max_block, dtype=np.float32)
        self._duck_level = 1.0  # reset duck envelope, 0..1
        self._duck_until = 0  # ring position: what comes before it is not heard
        self._mirrored = 0  # samples of the past played back mirrored in the present gap
        # Written by the control side:
        self.draining = False  # set when the producer has stopped for good: play out what is left
        # Read by everyone:
        self.underruns = 0
        self.samples_out = 0  # samples handed to the output, silence included
        self.clock: tuple[int, float] = (0, 0.0)  # (ring read position, output time it is heard)
        # When ring sample 0 is heard, as each of the last CLOCK_WINDOW callbacks said (output time
        # minus read position): `heard_origin` believes the earliest. A callback that runs late (its
        # thread woken late: JACK's server on a busy machine) says its block is heard late by as
        # much, but the device plays on its own grid, and the next callback comes on time: believed,
        # that say put the audio ahead up to the lateness too far, and a frame started that late
        # (measured on the JACK dummy: a callback 5.4 ms late said 5.5 ms late).
        self._origins = np.zeros(CLOCK_WINDOW, dtype=np.float64)
        self._origin_slot = 0
        self._last_origin = float("-inf")
        self._next_start = -1
        self.block = 0  # samples the output asked for last time (0 before it first did)
        self._blocks_vary = False  # the output has asked for blocks of more than one size

    def fill(self, out: np.ndarray, output_time: float = 0.0) -> None:
        """Fill `out` [n, >=2] (float32). `output_time` is when out[0] reaches the listener."""
        n = len(out)
        ring = self._ring
        start = ring.read_position
        origin = output_time - start / self.sample_rate
        if start != self._next_start or abs(origin - self._last_origin) > CLOCK_JUMP_S:
            # The ring was not read on the grid (silence before the music, a gap), or this is
            # another clock: what the callbacks before said no longer holds.
            self._origins.fill(origin)
        else:
            self._origins[self._origin_slot] = origin
        self._origin_slot = (self._origin_slot + 1) % CLOCK_WINDOW
        self._last_origin = origin
        self._next_start = start + n  # where the next callback starts if this one reads its whole block
        self.clock = (start, output_time)
        if n != self.block and self.block:
            self._blocks_vary = True  # the next callback's grid is not known from this one
        self.block = n
        available = ring.fill()
        stereo = out[:, :CHANNELS]

        if self._playing:
            if available < n:  # the producer fell behind: what is left, then its mirror, faded out
                self._playing = False
                self.underruns += 1
                got = ring.read_into(stereo, available)
                self._mirrored = 0
                got += self._mirror(stereo[got:n])
            else:
                got = ring.read_into(stereo, n)
        elif available >= min(n + (0 if self.draining else self._cushion), max(self.reachable_fill, n)):
            self._playing = True  # a cushion has built up again: fade in
            self.started = True
            got = ring.read_into(stereo, n)
        elif self._level > 0.0:  # still fading out a gap: the mirror goes on (the ring waits for the fade-in)
            got = self._mirror(stereo[:n])
        else:
            got = 0
        if got < n:
            stereo[got:] = 0.0

        # Concealment envelope: ramps 1/FADE_SAMPLES per sample toward 0 or 1.
        envelope = self._envelope[:n]
        if self._playing and self._level >= 1.0:
            envelope.fill(1.0)
        elif not self._playing and self._level <= 0.0:
            envelope.fill(0.0)
        else:
            np.multiply(self._steps[:n], 1.0 if self._playing else -1.0, out=envelope)
            envelope += self._level
            np.clip(envelope, 0.0, 1.0, out=envelope)
        self._level = float(envelope[n - 1])

        np.multiply(stereo, envelope[:, None], out=stereo)
        if self._duck_until > start:  # a reset asked for now: what is buffered goes quiet
            self._duck(stereo, n, self._duck_until - start)
        else:
            self._duck_level = 1.0  # past the reset frame (which may start on a block edge)
        np.clip(stereo, -1.0, 1.0, out=stereo)
        if out.shape[1] > CHANNELS:
            out[:, CHANNELS:] = 0.0
        self.samples_out += n

    def _mirror(self, into: np.ndarray) -> int:
        """Fill `into` with the next samples of the gap's mirror (as many as the ring kept)."""
        got = self._ring.mirror_into(into, self._mirrored, len(into))
        self._mirrored += got
        return got

    def _duck(self, stereo: np.ndarray, n: int, until: int) -> None:
        """Fade down to silence from the duck level, silent up to `until` samples into this block
        and full from there (the reset frame fades itself in)."""
        envelope = self._duck_envelope[:n]
        quiet = min(n, until)
        np.multiply(self._steps[:quiet], -1.0, out=envelope[:quiet])
        envelope[:quiet] += self._duck_level
        np.clip(envelope[:quiet], 0.0, 1.0, out=envelope[:quiet])
        envelope[quiet:] = 1.0
        self._duck_level = float(envelope[n - 1])
        np.multiply(stereo, envelope[:, None], out=stereo)

    @property
    def ring(self) -> Ring:
        return self._ring

    @property
    def playing(self) -> bool:
        """Reading the ring (not before the first cushion, nor in a gap after an underrun)."""
        return self._playing

    def ahead_s(self, output_now: float, device_latency_s: float) -> float:
        """Seconds of audio written but not yet heard at output time `output_now`: what the ring
        holds plus what the device holds, from the latest callback's clock.

        Bounded by what the ring alone proves (a device that stopped calling back, or a clock
        that is not the output's any more after a switch, reads as no more than the ring) and by
        the ring plus the latest block and the device latency (a clock that jumped ahead)."""
        ring_s = self._ring.fill() / self.sample_rate
        if not self._playing:  # nothing drains the ring (no cushion yet, or a gap): the ring is all there is
            return ring_s
        clocked = self.heard_at(self._ring.written) - output_now
        return min(max(clocked, ring_s), ring_s + max(device_latency_s, 0.0) + self.block / self.sample_rate)

    def least_ahead_s(self, device_latency_s: float) -> float:
        """The least audio that must be ahead of the listener while the next write to the ring is
        not there yet: the device's latency, plus what the ring still holds at the first callback
        that could not fill its block without that write. With blocks of one size (the callbacks
        read on a grid from the latest read position) that is (written - read) mod block samples:
        0 when the ring's end falls on a block's start, up to a block less one when it falls just
        past one (a frame of 1,920 samples over 256-sample blocks: 0 and 128, alternately). When
        the blocks vary in size, a whole block (`most_least_ahead_s`)."""
        if self._blocks_vary or self.block <= 0:
            return self.most_least_ahead_s(device_latency_s)
        read_position, _ = self.clock
        left = (self._ring.written - read_position) % self.block
        return max(device_latency_s, 0.0) + left / self.sample_rate

    def most_least_ahead_s(self, device_latency_s: float) -> float:
        """The most `least_ahead_s` can be, wherever the ring's end falls: the device's latency and
        a block (what a promise of control latency is planned with)."""
        return max(device_latency_s, 0.0) + self.block / self.sample_rate

    def duck(self, until: int) -> None:
        """Silence what the ring holds before ring position `until` (from the control side)."""
        self._duck_until = until

    def frame_start(self, frame: int) -> int:
        """The ring sample where model frame `frame` starts: round(frame * 1920 * rate / 48000), exactly."""
        return (frame * FRAME_SAMPLES * self.sample_rate + SAMPLE_RATE // 2) // SAMPLE_RATE

    def heard_origin(self) -> float:
        """The output time ring sample 0 is heard at: the earliest of what the last CLOCK_WINDOW
        callbacks said (a late callback's say is later than the device's grid, never earlier).
        Read off the callback's thread; a slot written meanwhile holds the old say or the new."""
        return float(self._origins.min())

    def heard_at(self, ring_position: int) -> float:
        """Estimated output time at which ring sample `ring_position` will be heard."""
        return self.heard_origin() + ring_position / self.sample_rate

    def position_heard_at(self, output_time: float) -> float:
        """The (fractional) ring position heard at `output_time`."""
        return (output_time - self.heard_origin()) * self.sample_rate
