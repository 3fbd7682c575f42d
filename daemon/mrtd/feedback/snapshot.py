"""The state a control surface shows, as OSC messages keyed by address.

Built on the generation thread (the state's one writer) and published as an
immutable dict, so status, sync and pushes read it from any thread.
"""

from __future__ import annotations

from typing import Any

from mrtd.control.params import PARAMS
from mrtd.control.state import ControlState
from mrtd.inputs.osc.table import ROOT, TABLE

# parameter name -> the canonical address that sets it
PARAM_ADDRESS = {
    "temperature": f"{ROOT}/temperature",
    "top_k": f"{ROOT}/topk",
    "seed": f"{ROOT}/seed",
    "cfg_style": f"{ROOT}/cfg/style",
    "cfg_notes": f"{ROOT}/cfg/notes",
    "cfg_drums": f"{ROOT}/cfg/drums",
    "drums": f"{ROOT}/drums",
    "volume": f"{ROOT}/volume",
    "mute": f"{ROOT}/mute",
    "bypass": f"{ROOT}/bypass",
    "unmask": f"{ROOT}/unmask",
    "onset_mode": f"{ROOT}/onset_mode",
    "midigate": f"{ROOT}/midigate",
    "tempo": f"{ROOT}/tempo",
    "meter": f"{ROOT}/meter",
}
assert set(PARAM_ADDRESS) == set(PARAMS), "every parameter is shown somewhere"
assert {row.path for row in TABLE} >= set(PARAM_ADDRESS.values())


def _value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def messages(state: ControlState, keys: set[str] | None = None) -> dict[str, list[Any]]:
    """Messages for the changed `keys` (None: everything)."""
    out: dict[str, list[Any]] = {}
    wanted = (lambda k: True) if keys is None else keys.__contains__
    for name, address in PARAM_ADDRESS.items():
        if wanted(name):
            out[address] = [_value(state.values[name])]
    if wanted("notes"):
        out[f"{ROOT}/notes"] = sorted(state.notes.held)
    if wanted("mix"):
        out[f"{ROOT}/mix"] = [item for name, w in sorted(state.style.weights().items()) for item in (name, float(w))]
    if wanted("prompts") or wanted("scene"):  # when the points change (a scene installs its own), not every frame of a fade
        out[f"{ROOT}/prompts"] = [item for name, t in sorted(state.prompt_texts.items()) for item in (name, t)]
    if wanted("axes"):
        for axis, value in sorted(state.axes.items()):
            out[f"{ROOT}/axis/{axis}"] = [float(value)]
    if wanted("xy") and state.xy is not None:
        out[f"{ROOT}/xy"] = [float(state.xy[0]), float(state.xy[1])]
    if wanted("beat"):
        clock = state.clock
        out[f"{ROOT}/beat"] = [clock.bar, clock.beat_in_bar, round(clock.phase, 3), float(clock.bpm)]
    if wanted("scene"):
        out[f"{ROOT}/scene"] = [state.scene or ""]
    if wanted("cue"):
        out[f"{ROOT}/cue"] = [state.cue or ""]
    return out
