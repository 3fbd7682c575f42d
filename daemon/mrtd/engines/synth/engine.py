"""`SynthEngine`: the parts of the synth joined into one engine (see the package docstring)."""

from __future__ import annotations

import numpy as np

from mrtd.conditioning import Conditioning
from mrtd.engines.base import BaseEngine
from mrtd.engines.state import EngineState, StateCapture, fingerprint
import mrtd.engines.synth.state as synth_state
from mrtd.engines.descriptors import DESCRIPTOR_INDEX
from mrtd.engines.synth.composer import Composer
from mrtd.engines.synth.output import OutputStage, echo_send
from mrtd.engines.synth.patterns import Pulse
from mrtd.engines.synth.voices import DrumHits, VoiceBank

SYNTH_STATE_LIMIT_BYTES = 16 << 20  # a synth's state is about 0.5 MB (the echo's ring and the ringing drum hits)

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
        self._fingerprint = fingerprint(synth_state.shapes(self._parts()))  # a fresh synth's: any state's may differ

    def describe(self) -> str:
        return f"synth (built-in generative synthesiser, seed {self._engine_seed})"

    def reset(self) -> None:
        for part in (self._composer, self._pulse, self._voices, self._drums, self._output):
            part.reset()

    def _parts(self) -> dict[str, object]:
        return {"composer": self._composer, "choices": self._composer._choices, "pulse": self._pulse,
                "voices": self._voices, "drums": self._drums, "output": self._output}

    def capture_state(self) -> StateCapture:
        # The synth's state is small (the echo's ring is the bulk, 256 KB): copied here at once.
        arrays: dict[str, np.ndarray] = {}
        values: dict[str, object] = {}
        synth_state.encode(self._parts(), arrays, values)
        state = EngineState(self.name, self.model_name, self.state_fingerprint(), self.frames_made, arrays, values)
        return lambda: state

    def _load_state(self, state: EngineState) -> None:
        synth_state.decode(self._parts(), state.arrays, state.values)

    def state_fingerprint(self) -> str:
        """The kinds and shapes of the synth's state: a synth of another build refuses the state."""
        return self._fingerprint

    def state_limit_bytes(self) -> int:
        return SYNTH_STATE_LIMIT_BYTES

    def _step(self, conditioning: Conditioning) -> np.ndarray:
        # The composer hands this frame's notes and hits to the voices and the kit; they sound,
        # and the output stage echoes, levels and limits the mix.
        self._composer.play(conditioning)
        style = self._composer.descriptors
        voices = self._voices.render(style[_BRIGHTNESS])
        mix = self._output.with_echo(voices, echo_send(style[_ATTACK], style[_DENSITY]))
        mix += self._drums.render()  # dry: the echo is the voices' alone
        return self._output.finish(mix)
