"""`SynthEngine`: the parts of the synth joined into one engine (see the package docstring)."""

from __future__ import annotations

import numpy as np

from mrtd.conditioning import Conditioning
from mrtd.engines.base import BaseEngine
from mrtd.engines.descriptors import DESCRIPTOR_INDEX
from mrtd.engines.synth.composer import Composer
from mrtd.engines.synth.output import OutputStage, echo_send
from mrtd.engines.synth.patterns import Pulse
from mrtd.engines.synth.voices import DrumHits, VoiceBank

_BRIGHTNESS, _ATTACK, _DENSITY = (DESCRIPTOR_INDEX[name] for name in ("brightness", "attack", "density"))


class SynthEngine(BaseEngine):
    """A small generative synthesiser that follows MRT2 conditioning; see the package docstring."""

    name = "synth"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self._engine_seed = int(seed)
        self._pulse = Pulse()
        self._voices = VoiceBank()
        self._drums = DrumHits()
        self._composer = Composer(self._engine_seed, self._pulse, self._voices, self._drums)
        self._output = OutputStage()

    def describe(self) -> str:
        return f"synth (built-in generative synthesiser, seed {self._engine_seed})"

    def reset(self) -> None:
        for part in (self._composer, self._pulse, self._voices, self._drums, self._output):
            part.reset()

    def _step(self, conditioning: Conditioning) -> np.ndarray:
        # The composer hands this frame's notes and hits to the voices and the kit; they sound,
        # and the output stage echoes, levels and limits the mix.
        self._composer.play(conditioning)
        style = self._composer.descriptors
        voices = self._voices.render(style[_BRIGHTNESS])
        mix = self._output.with_echo(voices, echo_send(style[_ATTACK], style[_DENSITY]))
        mix += self._drums.render()  # dry: the echo is the voices' alone
        return self._output.finish(mix)
