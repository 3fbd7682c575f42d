"""One frame at a time: apply commands, build conditioning, step the engine, shape the gain.

Volume, mute and bypass are applied here, per frame, as a ramp across the
frame, so they land in the frame their command was meant for and never click.
The official runner (core/src/realtime_runner.cpp, `read_audio_stereo`) smooths
volume and mute with a 10 ms one-pole per sample instead; a one-frame ramp is
what mrtd's frame-timed commands need (a timetagged change lands on its frame),
and it reaches the same level 40 ms later at most. Bypass there is silence at
once (and a paused model); here it fades over the frame, then the engine rests.

The MIDI gate and the fade-in after a reset follow the official runner's
per-sample envelopes (runtime/envelope.py): the gate opens over about 1,920
samples and closes over one second (48,000), keyed on the notes held now,
never on a latched onset; a reset cuts the new context's gain to 0 and lets it
rise over about 1,920 samples.

The Jam app's Solo mode (runtime/solo.py) comes on top when the `solo` parameter is on: a gate
that opens at once with a held note and falls in a straight line over two seconds, and the notes
guidance climbing after a release.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable, Generic, Mapping, Protocol, TypeVar, runtime_checkable

import numpy as np

from mrtd.conditioning import Conditioning
from mrtd.engine import Engine
from mrtd.frame import CHANNELS, FRAME_SAMPLES
from mrtd.lifecycle import spawn
from mrtd.runtime.envelope import OnePoleEnvelope, is_unity
from mrtd.runtime.lateness import LatenessMonitor
from mrtd.runtime.solo import SoloMode

log = logging.getLogger(__name__)


# The official runner's envelopes (core/src/realtime_runner.cpp, the RealtimeRunner constructor):
# samples to cover 99% of a step.
GATE_ATTACK_SAMPLES = 1920.0  # the MIDI gate opens over one frame...
GATE_RELEASE_SAMPLES = 48000.0  # ...and closes over one second, so a released chord rings out
RESET_ATTACK_SAMPLES = 1920.0  # after a reset the new context rises from 0 over one frame


def db_to_gain(db: float) -> float:
    """10^(dB/20) over the whole range, as the official runner: -60 dB is 10^-3, not silence (mute is)."""
    return float(10.0 ** (db / 20.0))


@runtime_checkable
class Notes(Protocol):
    @property
    def any_held(self) -> bool:
        """Whether a note is held now (the MIDI gate's key)."""
        ...


@runtime_checkable
class FrameControl(Protocol):
    """What the generator needs of the control state, once per frame.

    The control state (`control/state.py`'s `ControlState`) has all of it; it is named
    here, in the runtime, so the runtime does not import control: commands flow from
    control to the runtime, and an import the other way would be an arrow against them.
    """

    @property
    def values(self) -> Mapping[str, float | int | bool]:
        """The parameters by name; the generator reads volume, mute, bypass and midigate."""
        ...

    @property
    def notes(self) -> Notes: ...

    @property
    def reset_at_once(self) -> bool:
        """The latest frame's reset was asked for now (not timetagged): buffered audio ducks."""
        ...

    @property
    def rest_wanted(self) -> bool:
        """The output should fade to silence and the engine rest (/mrt/stop, closed hours)."""
        ...

    @property
    def rest_fade_frames(self) -> int:
        """Over how many frames the output fades out (or back in) when `rest_wanted` changes."""
        ...

    def begin_frame(self, frame: int) -> None:
        """Apply the commands due by frame `frame` (on the generation thread, the state's one writer)."""
        ...

    def frame_conditioning(self) -> Conditioning:
        """This frame's conditioning: a fresh object each frame."""
        ...


Control = TypeVar("Control", bound=FrameControl)
EngineT = TypeVar("EngineT", bound=Engine)


class Generator(Generic[Control, EngineT]):
    """Generic in the control it drives, so the `after_commands` hook gets that same control back,
    and in the engine, so whoever built it keeps that engine's whole type."""

    def __init__(self, engine: EngineT, control: Control) -> None:
        self.engine = engine
        self.control = control
        self.frames = 0  # frames made so far; frame k starts at ring sample k * FRAME_SAMPLES
        self.faults = 0  # engine steps that raised or made NaN/inf, each concealed
        self.consecutive_faults = 0
        self.last_fault = ""
        self.last_conditioning: Conditioning | None = None  # the latest frame's (a prefill follows it)
        self.lateness = LatenessMonitor()  # steps slower than the frame, logged when sustained
        self.on_fault: Callable[[int], None] | None = None  # called with the run of consecutive faults
        # Called (new engine, crossfade frames) on this thread when a swap takes over, in its frame.
        self.on_swap: Callable[[EngineT, int], None] | None = None
        # Set by the runner when a playout downstream can duck what it has buffered; then
        # `ducked` says the latest frame is a reset asked for now, made to fade in from silence.
        self.ducks_ahead = False
        self.ducked = False
        self._last_good = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)
        self._concealment = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)
        self._gain = 0.0  # output gain at the end of the previous frame: start with a fade-in
        # The rest fade (/mrt/stop, /mrt/start, opening hours): a level from 1 (playing) to 0
        # (resting) moved a step per frame, so a fade of minutes is as smooth as volume's one-frame
        # ramp (the gain still ramps within each frame) and allocates nothing. At 0 the engine rests.
        self._level = 1.0
        self._level_target = 1.0
        self._level_step = 0.0
        self._ramp = (np.arange(1, FRAME_SAMPLES + 1, dtype=np.float32) / FRAME_SAMPLES)[:, None]
        self._out = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)
        self._fade_out = (1.0 - self._ramp).astype(np.float32)
        # Hooks for the layers above: run on this thread, so they must be quick.
        self.after_commands: Callable[[Control], None] | None = None  # e.g. feedback pushes
        self.taps: list[Callable[[np.ndarray], None]] = []  # e.g. a recorder; they must copy
        # Model swap: requests queue here (any thread); the crossfade runs on this thread.
        self._swaps: deque[tuple[EngineT, np.ndarray, np.ndarray, threading.Event]] = deque()
        self._outgoing: EngineT | None = None
        self._fade: tuple[np.ndarray, np.ndarray, threading.Event] | None = None
        self._fade_frame = 0
        self._mix = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)
        self._mix_old = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)
        # The MIDI gate, as the official runner's: a one-pole per sample toward 1 while a note is
        # held and 0 while none is. The official runner keys it on its count of notes down, which
        # a note-off lowers at once: a note pressed and released inside one frame still reaches
        # the model (its onset is latched) but does not open the gate. Where mrtd differs: with
        # the gate switched off it moves to 1 (open) instead of holding its value, so switching it
        # on with no note held releases over the second and switching it off opens over a frame;
        # the official runner stops ticking it and applies or drops it at once, a click either way.
        self._gate = OnePoleEnvelope(GATE_ATTACK_SAMPLES, GATE_RELEASE_SAMPLES, value=1.0)
        self._reset_attack = OnePoleEnvelope(RESET_ATTACK_SAMPLES, RESET_ATTACK_SAMPLES, value=1.0)
        self._solo = SoloMode()  # the Jam app's Solo: its gate and notes guidance, keyed on held notes
        self._solo_now = (False, False)  # (solo on, a note held) for the frame being made

    def target_gain(self) -> float:
        """Volume, mute, bypass and a rest's fade: where this frame's ramp ends (the gate comes on top)."""
        values = self.control.values
        if values["mute"] or values["bypass"]:
            return 0.0
        return db_to_gain(float(values["volume"])) * self._level

    def gate_target(self) -> float:
        """1 unless the MIDI gate is on and no note is held now."""
        return 0.0 if self.control.values["midigate"] and not self.control.notes.any_held else 1.0

    @property
    def resting(self) -> bool:
        """Faded out by a rest (/mrt/stop, closed hours): the engine is not stepped."""
        return self._level_target == 0.0 and self._level == 0.0 and self._gain == 0.0

    def _move_level(self) -> None:
        """Once per frame: follow the control's rest request along its fade."""
        wanted = 0.0 if self.control.rest_wanted else 1.0
        if wanted != self._level_target:
            self._level_target = wanted
            self._level_step = (wanted - self._level) / max(1, self.control.rest_fade_frames)
        if self._level != wanted:
            level = self._level + self._level_step
            self._level = min(level, wanted) if self._level_step > 0 else max(level, wanted)

    def next_frame(self) -> np.ndarray:
        """Make the next frame. The returned array is reused: copy it before the next call."""
        self.control.begin_frame(self.frames)
        if self.after_commands is not None:
            self.after_commands(self.control)
        self._move_level()
        target = self.target_gain()
        gate = self._gate.frame(self.gate_target())
        self._solo_now = (bool(self.control.values.get("solo", False)), self.control.notes.any_held)
        solo = self._solo.frame_gains(*self._solo_now)
        out = self._out
        concealed = False
        if (self.control.values["bypass"] or self._level == 0.0) and self._gain == 0.0:
            out.fill(0.0)  # faded out: the engine rests
        else:
            frame, concealed = self._step_engine()
            if target == self._gain:
                np.multiply(frame, target, out=out)
            else:
                np.multiply(frame, self._gain + (target - self._gain) * self._ramp, out=out)
            if not is_unity(gate):
                out *= gate
            if not is_unity(solo):
                out *= solo
        self._gain = 0.0 if concealed else target  # after a fault, the next good frame fades in
        self.frames += 1
        for tap in self.taps:
            tap(out)
        return out

    def _step_engine(self) -> tuple[np.ndarray, bool]:
        """The engine's frame, or a concealment of it; and whether it was concealed."""
        self.ducked = False
        try:
            if self._swaps and self._outgoing is None:
                self._begin_swap()
            conditioning = self.control.frame_conditioning()
            conditioning.cfg_notes = self._solo.frame_notes_guidance(*self._solo_now, conditioning.cfg_notes)
            self.last_conditioning = conditioning  # a fresh object per frame: safe to read anywhere
            frame = self.engine.step(conditioning)
            self.lateness.record(self.engine.last_step_s)
            if self._outgoing is not None:
                frame = self._crossfade(frame, conditioning)
            if not np.isfinite(frame).all():
                raise FloatingPointError("the engine made NaN or infinite samples")
            if conditioning.reset and self._outgoing is None:
                self._reset_attack.jump(0.0)
                if self.ducks_ahead and self.control.reset_at_once:
                    self.ducked = True  # the playout silences what it holds (Playout.duck): no tail here
                    frame = self._rising(frame)
                else:
                    frame = self._across_reset(frame)
            else:
                frame = self._rising(frame)  # the attack of a recent reset, if it has not settled
        except Exception as exc:  # an engine fault must not stop the music
            return self._conceal(exc), True
        self.consecutive_faults = 0
        np.copyto(self._last_good, frame)
        return frame, False

    # How a reset sounds. mrtd follows the official plugin and apps (AU, standalone, Jam: their
    # reset calls `trigger_reset`, core/include/magentart/realtime_runner.h): the new context
    # rises from 0 by the runner's exponential attack, ticked per sample (`_rising`). The old
    # context is where mrtd differs: the official runner cuts it at once (its envelope jumps to
    # 0 under whatever plays), a click on a live output; mrtd ends it without a step, by the
    # playout's short duck for a reset asked for now, or by the tail below. The Max, Pd and
    # SuperCollider externals' `reset` (`RealtimeRunner::reset`) is the other official path:
    # it stops, resets, primes three frames and starts again with no envelope at all, a gap
    # and a hard start that mrtd does not copy.

    def _rising(self, frame: np.ndarray) -> np.ndarray:
        """`frame` under the reset's attack; the frame itself once the attack has settled."""
        attack = self._reset_attack.frame(1.0)
        if is_unity(attack):
            return frame
        np.multiply(frame, attack, out=self._mix)  # in place when `frame` is the swap's mix
        return self._mix

    def _across_reset(self, frame: np.ndarray) -> np.ndarray:
        """The frame of a reset with nothing ducked ahead of it: a timetagged reset (the frames
        buffered before it are meant to be heard) or offline. The new context cannot continue
        the old waveform, so the old one ends without a step: the last good frame played
        backwards (it starts exactly where the music stopped) fades to zero over the frame while
        the new context rises, linearly and complementary (the gains sum to 1).

        Not the official attack here: under a tail, its fast start (0.24 % a sample, 4.6 times
        the linear ramp's) steepens the waveform by up to 11 % of the tone's steepest slope, and
        against a linear tail the gains sum to up to 1.45, a 3 dB bump (measured: a 0.5 tone
        peaking at 0.695 in the reset frame, tests/test_faults.py). The official runner has no
        tail to meet: it cuts the old context, which clicks. The attack is settled after it."""
        out = self._mix
        np.multiply(frame, self._ramp, out=out)
        tail = self._mix_old  # the swap's buffers: no swap runs now
        np.multiply(self._last_good[::-1], self._fade_out, out=tail)
        out += tail
        self._reset_attack.jump(1.0)
        return out

    def _conceal(self, exc: Exception) -> np.ndarray:
        """Stand in for a failed frame without a click, and reset the engine.

        The first failed frame plays the last good frame backwards, fading to silence:
        it starts exactly where the music stopped (no step), and ends at zero. Further
        failed frames are silent; the first good frame after them fades in.
        """
        self.faults += 1
        self.consecutive_faults += 1
        self.last_fault = f"{type(exc).__name__}: {exc}"
        log.error("engine %s failed on frame %d (%s); frame concealed, engine reset", self.engine.name, self.frames,
                  self.last_fault, exc_info=exc if self.consecutive_faults == 1 else None)  # the trace once per run
        out = self._concealment
        if self.consecutive_faults == 1:
            np.multiply(self._last_good[::-1], self._fade_out, out=out)
        else:
            out.fill(0.0)
        try:
            self.engine.reset()
        except Exception as reset_error:
            log.error("engine %s reset failed too: %s", self.engine.name, reset_error)
        if self.on_fault is not None:
            self.on_fault(self.consecutive_faults)
        return out

    # -- model swap ----------------------------------------------------------
    def swap_engine(self, engine: EngineT, crossfade_frames: int = 4) -> threading.Event:
        """Any thread: switch to `engine` (already loaded and warm) at the next frame boundary.

        For `crossfade_frames` frames both engines step on the same conditioning and
        are mixed with an equal-power curve (their outputs are unrelated audio, so
        power, not amplitude, should stay constant); then the old engine is closed
        off this thread. The event is set once the old engine is closed. Swaps wait
        for a stepped frame: while bypassed (engine resting) they stay queued.
        """
        frames = max(0, int(crossfade_frames))  # 0: switch at once (the old engine is broken)
        position = np.arange(1, frames * FRAME_SAMPLES + 1, dtype=np.float64) / (frames * FRAME_SAMPLES)
        fade_in = np.sin(0.5 * np.pi * position).astype(np.float32).reshape(frames, FRAME_SAMPLES, 1)
        fade_out = np.cos(0.5 * np.pi * position).astype(np.float32).reshape(frames, FRAME_SAMPLES, 1)
        done = threading.Event()
        self._swaps.append((engine, fade_in, fade_out, done))  # deque.append is thread-safe
        return done

    @property
    def swapping(self) -> bool:
        return bool(self._swaps) or self._outgoing is not None

    @property
    def incoming(self) -> EngineT | None:
        """The engine a swap brings in while it steps beside the playing one (queued, or crossfading), else None."""
        if self._outgoing is not None:
            return self.engine
        swaps = self._swaps
        return swaps[0][0] if swaps else None

    def _begin_swap(self) -> None:
        engine, fade_in, fade_out, done = self._swaps.popleft()
        if self.on_swap is not None:
            self.on_swap(engine, len(fade_in))
        if len(fade_in) == 0:
            old, self.engine = self.engine, engine
            log.info("engine replaced: %s -> %s", old.describe(), engine.describe())
            spawn("mrtd-engine-close", _close_engine, old, done)
            return
        self._outgoing, self.engine = self.engine, engine
        self._fade = (fade_in, fade_out, done)
        self._fade_frame = 0
        log.info("engine swap: %s -> %s over %d frames", self._outgoing.describe(), engine.describe(), len(fade_in))

    def _crossfade(self, incoming: np.ndarray, conditioning) -> np.ndarray:
        assert self._outgoing is not None and self._fade is not None
        fade_in, fade_out, done = self._fade
        k = self._fade_frame
        outgoing = self._outgoing.step(conditioning)
        np.multiply(incoming, fade_in[k], out=self._mix)
        np.multiply(outgoing, fade_out[k], out=self._mix_old)
        self._mix += self._mix_old
        self._fade_frame += 1
        if self._fade_frame == len(fade_in):
            old, self._outgoing, self._fade = self._outgoing, None, None
            # Closing may free a lot of memory: not on this thread.
            spawn("mrtd-engine-close", _close_engine, old, done)
        return self._mix


def _close_engine(engine: Engine, done: threading.Event) -> None:
    try:
        engine.close()
    except Exception:
        log.exception("closing engine %s failed", engine.name)
    finally:
        done.set()
