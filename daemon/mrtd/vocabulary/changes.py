"""What moved during a frame: the typed change events that drive feedback.

The control state collects them as commands apply (`ControlState.changed`);
once per frame the daemon takes them and `feedback/snapshot.py` renders each
kind as the message its `FEEDBACK` table names, for OSC subscribers and the
web page alike. Every member is rendered: a test checks that none is silent.
A parameter's change is the member named after the parameter.
"""

from __future__ import annotations

from enum import StrEnum


class Change(StrEnum):
    """A kind of change; str-valued, so `Change.MIX == 'mix'` and `Change('tempo')` is the tempo's.
    Written out (not made from PARAMS) so a type checker sees every member; feedback/snapshot.py's
    table looks each parameter's member up by name when it loads, so a missing one stops the import."""

    MIX = "mix"  # the prompts' weights (a command, or a crossfade moving them)
    PROMPTS = "prompts"  # a prompt defined, renamed or cleared
    AXES = "axes"  # an axis value
    XY = "xy"  # the position on the 2-D surface
    NOTES = "notes"  # the held notes
    BEAT = "beat"  # a beat starts in this frame
    SCENE = "scene"  # a scene installed
    CUE = "cue"  # a cue fired (or stood on again after a restart)
    STYLE = "style"  # raw style tokens or a raw embedding took over from the blend, or let go
    # one per parameter of vocabulary/params.py, named after it
    TEMPERATURE = "temperature"
    TOP_K = "top_k"
    SEED = "seed"
    CFG_STYLE = "cfg_style"
    CFG_NOTES = "cfg_notes"
    CFG_DRUMS = "cfg_drums"
    DRUMS = "drums"
    VOLUME = "volume"
    MUTE = "mute"
    BYPASS = "bypass"
    UNMASK = "unmask"
    ONSET_MODE = "onset_mode"
    MIDIGATE = "midigate"
    SOLO = "solo"
    TEMPO = "tempo"
    METER = "meter"
    LISTEN_NOTES = "listen_notes"
    LISTEN_TEMPO = "listen_tempo"
    LISTEN_STYLE = "listen_style"
