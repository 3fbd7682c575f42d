"""One frame at a time: apply commands, build conditioning, step the engine, shape the gain.

Volume, mute and bypass are applied here, per frame, as a ramp across the
frame, so they land in the frame their command was meant for and never click.
"""

from __future__ import annotations

import logging

import numpy as np

from mrtd.control.state import ControlState
from mrtd.engines.base import Engine
from mrtd.frame import CHANNELS, FRAME_SAMPLES

log = logging.getLogger(__name__)


def db_to_gain(db: float) -> float:
    return 0.0 if db <= -60.0 else float(10.0 ** (db / 20.0))


class Generator:
    def __init__(self, engine: Engine, control: ControlState) -> None:
        self.engine = engine
        self.control = control
        self.frames = 0  # frames made so far; frame k starts at ring sample k * FRAME_SAMPLES
        self.faults = 0
        self._gain = 0.0  # output gain at the end of the previous frame: start with a fade-in
        self._ramp = (np.arange(1, FRAME_SAMPLES + 1, dtype=np.float32) / FRAME_SAMPLES)[:, None]
        self._out = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)

    def target_gain(self) -> float:
        values = self.control.values
        if values["mute"] or values["bypass"]:
            return 0.0
        return db_to_gain(float(values["volume"]))

    def next_frame(self) -> np.ndarray:
        """Make the next frame. The returned array is reused: copy it before the next call."""
        self.control.apply_pending()
        target = self.target_gain()
        out = self._out
        if self.control.values["bypass"] and self._gain == 0.0:
            out.fill(0.0)  # faded out: the engine rests
        else:
            frame = self._step_engine()
            if target == self._gain:
                np.multiply(frame, target, out=out)
            else:
                np.multiply(frame, self._gain + (target - self._gain) * self._ramp, out=out)
        self._gain = target
        self.frames += 1
        return out

    def _step_engine(self) -> np.ndarray:
        try:
            frame = self.engine.step(self.control.frame_conditioning())
        except Exception:  # an engine fault must not stop the music: conceal this frame
            self.faults += 1
            log.exception("engine %s failed on frame %d; frame concealed", self.engine.name, self.frames)
            self._gain = 0.0
            return np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)
        return frame
