"""The generation thread: makes each frame just in time for the audio callback.

Frame k starts when the audio still ahead of the listener (what the ring holds plus what the
device holds, read from the playout's clock: `Playout.ahead_s`) falls to the least the playout
needs until the frame is written (`Playout.least_ahead_s`: the device's latency and what the ring
still holds at the first callback that would need the frame, which the callbacks' grid tells)
plus what making a frame takes and a margin (`Pacing.lead_s`). A command waits at most one frame
for the next frame to start, then that much: not whole frames made ahead whatever a step costs.

The thread sleeps on timed waits computed from the audio clock (the audio ahead shrinks by a
second per second), on the worker's stop event as before: it shares no lock with the callback,
which only publishes its clock and block by plain assignments, and it never spins.

When the device runs at another rate than the model, each frame goes through a `RateConverter`
before it is written, so the ring (and the callback) work at the device's rate and the callback
still only copies; what the converter holds back is ahead of the listener too, but not yet in
the ring, so the audio clock sees it late, on the safe side.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Callable

from mrtd.audio.playout import Playout, playout_ring
from mrtd.audio.ring import Ring
from mrtd.engine import Engine
from mrtd.frame import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE
from mrtd.lifecycle import Worker
from mrtd.runtime.generator import Generator
from mrtd.runtime.pacing import MAX_WIDENING_S, Pacing
from mrtd.runtime.resample import RateConverter

log = logging.getLogger(__name__)

MIN_WAIT_S = 0.0005  # never a shorter sleep (a frame due sooner starts now): no spinning on a clock that has not moved
IDLE_WAIT_S = 0.005  # nothing drains the ring and no callback has come yet: look again this often
AHEAD_ROOM_S = 2.0  # the ring holds the margin and this much more: the widest step, widening and device block


def frame_samples_at(sample_rate: int) -> int:
    """Ring samples per model frame at `sample_rate` (rounded up)."""
    return math.ceil(FRAME_SAMPLES * sample_rate / SAMPLE_RATE)


def ring_for(margin_s: float, sample_rate: int = SAMPLE_RATE) -> Ring:
    """A ring with room for the margin, however wide it grows, the slowest step and a device block,
    and the largest write on top (the resampler's output comes in uneven bursts)."""
    return playout_ring(math.ceil((margin_s + MAX_WIDENING_S + AHEAD_ROOM_S) * sample_rate) + 3 * frame_samples_at(sample_rate))


def control_latency_s(margin_s: float, step_s: float, device_latency_s: float, block_s: float,
                      look_ahead_s: float = 0.0) -> float:
    """The longest a command waits before it is heard, planned ahead of a run (the doctor): up to a
    frame for the next frame to start, then the audio ahead when it starts (at most the device's
    latency and a block, the step and the margin), then what a resampler holds back. A running
    runner says the same from what it measures (`Runner.control_latency_s`)."""
    least = max(device_latency_s, 0.0) + block_s
    return FRAME_SECONDS + least + step_s + margin_s + look_ahead_s


def _no_hint(engine: Engine) -> float:
    return 0.0


class Runner:
    def __init__(
        self,
        generator: Generator,
        playout: Playout,
        margin_s: float,
        converter: RateConverter | None = None,
        duck: Callable[[int], None] | None = None,
        output_time: Callable[[], float] | None = None,
        device_latency: Callable[[], float] | None = None,
        step_hint: Callable[[Engine], float] = _no_hint,
        wait: Callable[[float], object] | None = None,
        first_step_s: float = FRAME_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`playout`: the one the output drives (its ring is written here). `margin_s`: audio kept
        ahead beyond what making a frame takes. `converter`: resamples each frame to the ring's
        (device) rate; None when that is 48 kHz. `duck`: silences what the ring holds before a ring
        position (`Playout.duck`), for a reset asked for now; None leaves the generator to fade a
        reset in over its own frame. `output_time`/`device_latency`: the output's clock now and its
        latency (seconds), read on every decision (the output may change); None: no clock, the ring
        alone says what is ahead. `step_hint`: what an engine's frame is expected to cost before it
        is measured (its warm-up p99). `wait`: sleeps up to the seconds given (tests drive a clock).
        `first_step_s`: what a step is assumed to take until the pacing has watched this machine
        for its window (20 s), unless the hint says more: a frame, as when whole frames were kept
        ahead, so a start on a busy machine is as safe as it was. `clock`: what a wait's
        oversleep is timed by (tests drive one with `wait`)."""
        self.sample_rate = converter.out_rate if converter is not None else SAMPLE_RATE
        if playout.sample_rate != self.sample_rate:
            raise ValueError(f"the playout runs at {playout.sample_rate} Hz, the frames come at {self.sample_rate} Hz")
        self.frame_samples = frame_samples_at(self.sample_rate)
        self.largest_write = converter.max_block if converter is not None else FRAME_SAMPLES
        ring = playout.ring
        if ring.capacity < math.ceil(margin_s * self.sample_rate) + 2 * self.largest_write:
            raise ValueError("ring is too small for the margin")
        self.generator = generator
        self.playout = playout
        self.ring = ring
        self.converter = converter
        self.pacing = Pacing(margin_s, max(step_hint(generator.engine), first_step_s))
        self._step_hint = step_hint
        self._output_time = output_time
        self._device_latency = device_latency or (lambda: 0.0)
        self.errors = 0
        self.duck = duck
        generator.ducks_ahead = duck is not None
        self._worker = Worker("mrtd-generator", self._run)
        self._stop = self._worker.stopping
        self._wait = wait or self._stop.wait
        self._clock = clock
        self._woke_late_s = 0.0  # how much longer than asked the wait before this frame slept
        self.target_s = 0.0  # the audio ahead at which the latest frame was due to start (status)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    @property
    def running(self) -> bool:
        return self._worker.running

    # -- the audio clock ------------------------------------------------------
    def ahead_s(self) -> float:
        """Seconds of audio made but not yet heard: ring plus device, from the playout's clock."""
        if self._output_time is None:
            return self.ring.fill() / self.sample_rate
        return self.playout.ahead_s(self._output_time(), self._device_latency())

    def least_s(self) -> float:
        """The least audio the playout must have ahead at any callback."""
        return self.playout.least_ahead_s(self._device_latency())

    def extra_step_s(self) -> float:
        """A model swap steps two engines for a few frames: the incoming one's expected cost on top."""
        incoming = self.generator.incoming
        return self._step_hint(incoming) if incoming is not None else 0.0

    def due_s(self) -> float:
        """The audio ahead at which the next frame is due: the playout's least plus what making a
        frame takes plus the margin, kept within what the ring can hold."""
        return min(self.least_s() + self.pacing.lead_s(self.extra_step_s()), self._most_due_s())

    def _most_due_s(self) -> float:
        return (self.ring.space() + self.ring.fill() - self.largest_write) / self.sample_rate

    def wait_s(self) -> float:
        """Seconds until the next frame is due (0 or less: now). Also tells the playout the fill
        this pacing is sure to reach while nothing drains the ring, so it never waits for more."""
        due = self.target_s = self.due_s()
        self.playout.reachable_fill = int(due * self.sample_rate)
        room = self.ring.space() - self.largest_write
        if room < 0:  # a stalled output (or one that has not started): wait for the callback to read
            return max(-room / self.sample_rate, IDLE_WAIT_S)
        ahead = self.ahead_s()
        if ahead > due and not self.playout.playing:
            # Nothing drains yet: the clock will not bring it nearer, but the next callback may
            # start the music (a cushion is there), and from then on the frame is due on time.
            return self.playout.block / self.sample_rate if self.playout.block else IDLE_WAIT_S
        return ahead - due

    def control_latency_s(self) -> float:
        """The longest a command waits before it is heard, at the present pacing: the wait for the
        next frame to start (up to a frame), the most audio ahead when one starts (where its first
        sample falls in a block moves it by up to a block: `Playout.most_least_ahead_s`), and what
        the resampler holds back of it."""
        held = self.converter.look_ahead / self.sample_rate if self.converter is not None else 0.0
        most_due = self.playout.most_least_ahead_s(self._device_latency()) + self.pacing.lead_s(self.extra_step_s())
        return FRAME_SECONDS + min(most_due, self._most_due_s()) + held

    # -- the loop -------------------------------------------------------------
    def _run(self) -> None:
        waited = False
        while not self._stop.is_set():
            wait = self.wait_s()
            if wait >= MIN_WAIT_S:
                asked_at = self._clock()
                self._wait(wait)
                self._woke_late_s = max(0.0, self._clock() - asked_at - wait)
                waited = True
                continue
            # Due now, or in less than the shortest sleep: a frame started that little early costs a
            # command as much latency; one started that late may cost an underrun.
            if not waited:
                self._woke_late_s = 0.0
            self.make_frame(self.target_s if waited else self.ahead_s())
            waited = False

    def make_frame(self, planned_ahead_s: float) -> None:
        """Make one frame and write it. `planned_ahead_s`: the audio ahead when it should have
        started (what it takes is measured from there, a late wake-up included)."""
        generator, ring, converter, playout = self.generator, self.ring, self.converter, self.playout
        steps, faults = generator.lateness.steps, generator.faults
        playing = playout.playing
        try:
            frame = generator.next_frame()
        except Exception:  # a bug outside the engine: the playout conceals the gap, we go on
            self.errors += 1
            log.exception("frame %d failed; skipped", generator.frames)
            self._wait(FRAME_SECONDS)  # never spin on a frame that keeps failing
            return
        # Measured only when it says something of the engine: it stepped, and the audio clock ran
        # (nothing drains the ring before the first cushion or in a gap).
        if playing and playout.playing and (generator.lateness.steps > steps):
            ahead = self.ahead_s()
            self.pacing.frame_made(planned_ahead_s - ahead, ahead - self.least_s())
        else:
            self.pacing.frame_made(None, 0.0)
        if generator.faults > faults:
            self.pacing.trouble("the engine failed a step")
        if generator.ducked and self.duck is not None:  # before the write: the callback ducks up to it
            self.duck(ring.written + (converter.look_ahead if converter is not None else 0))
        ring.write(converter.convert(frame) if converter is not None else frame)
        if playout.underruns > self.pacing.underruns:
            # What a reader of the log needs to tell a machine that stopped the thread (it started
            # late) from an engine that stepped too slowly; the line is built only when one is new.
            self.pacing.underruns_seen(playout.underruns, f"its thread woke {self._woke_late_s * 1000:.1f} ms late, "
                                       f"its step took {generator.lateness.last_step_ms:.1f} ms")
