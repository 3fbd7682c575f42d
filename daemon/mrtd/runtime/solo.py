"""The Jam app's Solo mode around the step: a volume gate and a notes guidance ramp, keyed on held notes.

Read from the official Jam app (magenta-realtime 2.0.3, examples/jam/JamApp.mm, the render block
of `setupAudioEngine`), not copied. While Solo is on:

- the output is gated by the notes held: the gate opens at once (to 1) on any sample a note is
  held, and otherwise falls by 1 / (48,000 x 2 s) per sample, a straight line from 1 to 0 in two
  seconds (`_gateDecaySeconds`), never below 0. It starts open.
- the notes guidance (cfg_notes) is the player's value while a note is held; after the release
  it climbs in a straight line from there toward 50, at (50 - the player's value) / 2 s, so it
  gets there two seconds after a release from the player's value (`_cfgNotesCurrentLevel`, which
  starts at 50). 50 is far past the model's range: the exported step clamps every guidance scale
  to [-1, 7] before it bins it (magenta_rt/mlx/export.py `_discretize_cfg_token`), so the model
  hears 7 once the line passes 7. mrtd sends the clamped value (its engines and its conditioning
  hold guidance within [-1, 7]); the line itself is the official one.

Off (the Jam app's Accompany), the gate is open and the guidance is the player's value. Solo's
other two parts are not here: the prompt's "SOLO " prefix is the style layer's
(style/prompt_text.py) and the unmask width of 127 is set with the switch (the OSC table's `solo`).

Where mrtd differs: the Jam app shapes the audio block the callback plays and moves the guidance
once per callback (a 64-sample block); mrtd shapes each 40 ms frame as it is made, keyed on the
notes held then (as its MIDI gate, runtime/generator.py), and moves the guidance once per frame
by a frame's worth of the same line. The gains of a frame are computed into a buffer made once:
nothing is allocated per frame.
"""

from __future__ import annotations

import numpy as np

from mrtd.conditioning import CFG_RANGE
from mrtd.frame import CHANNELS, FRAME_SAMPLES, SAMPLE_RATE

DECAY_S = 2.0  # `_gateDecaySeconds`: the gate's fall, and the guidance's climb, take this long
NOTES_GUIDANCE_TARGET = 50.0  # where the guidance climbs to after a release (`targetVal`)
GATE_STEP = 1.0 / (SAMPLE_RATE * DECAY_S)  # the gate's fall per sample


class SoloMode:
    """The gate and the guidance of one output, moved a frame at a time (generation thread only)."""

    def __init__(self) -> None:
        self.gate = 1.0  # the gain after the last sample of the last frame (`_gateLevel`, starts open)
        self.notes_guidance = NOTES_GUIDANCE_TARGET  # the line's value now (`_cfgNotesCurrentLevel`)
        self._fall = (np.arange(1, FRAME_SAMPLES + 1, dtype=np.float64) * GATE_STEP)[:, None].repeat(CHANNELS, axis=1)
        self._gains = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float64)
        self._gains32 = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)

    def frame_gains(self, solo: bool, held: bool) -> "np.ndarray | float":
        """This frame's gate: a float when every sample has the same gain, else a float32
        [1920, 2] buffer reused every frame (valid until the next call)."""
        if not solo or held:
            self.gate = 1.0
            return 1.0
        if self.gate == 0.0:
            return 0.0
        np.subtract(self.gate, self._fall, out=self._gains)
        np.maximum(self._gains, 0.0, out=self._gains)
        self.gate = float(self._gains[-1, 0])
        np.copyto(self._gains32, self._gains, casting="same_kind")
        return self._gains32

    def frame_notes_guidance(self, solo: bool, held: bool, chosen: float) -> float:
        """The notes guidance to send this frame, given the player's value `chosen`."""
        if not solo or held:
            self.notes_guidance = chosen
        elif self.notes_guidance < NOTES_GUIDANCE_TARGET:
            climb = (NOTES_GUIDANCE_TARGET - chosen) / (SAMPLE_RATE * DECAY_S) * FRAME_SAMPLES
            self.notes_guidance = min(NOTES_GUIDANCE_TARGET, self.notes_guidance + climb)
        return min(max(self.notes_guidance, CFG_RANGE[0]), CFG_RANGE[1])
