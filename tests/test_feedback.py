"""Feedback: every kind of change is rendered as a message a surface can show."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mrtd.control import commands as c
from mrtd.vocabulary.changes import Change
from mrtd.vocabulary.params import PARAMS
from mrtd.feedback.snapshot import FEEDBACK, PARAM_ADDRESS, messages
from mrtd.inputs.osc.table import ROUTES
from mrtd.style.embedder import BuiltinEmbedder
from style_fakes import builtin_control


def test_every_change_renders_and_every_parameter_shows_at_an_address_that_sets_it():
    assert {row.change for row in FEEDBACK} == set(Change), "a change nobody renders is a silent surface"
    assert set(PARAM_ADDRESS) == set(PARAMS)
    assert all(address in ROUTES for address in PARAM_ADDRESS.values())
    state = builtin_control()
    state.xy, state.axes = (0.1, 0.2), {"0": 0.5}  # what a surface has once it moved them
    for change in Change:
        assert messages(state, {change}), f"{change} rendered nothing"


def test_what_a_command_changes_is_what_is_pushed():
    state = builtin_control()
    embedding = BuiltinEmbedder().embed_text("rain")
    for command in (c.DefinePrompt("a", "rain", embedding, 1.0), c.SetStyleTokens(np.arange(12) % 5), c.NoteOn(60, 90)):
        state.apply_now(command)
    state.set("temperature", 1.5)
    pushed = messages(state, state.take_changes())
    assert pushed["/mrt/style/source"] == ["tokens"] and pushed["/mrt/notes"] == [60]
    assert pushed["/mrt/prompts"] == ["a", "rain"] and pushed["/mrt/mix"] == ["a", 1.0]
    assert pushed["/mrt/temperature"] == [1.5]
    state.apply_now(c.SetStyleTokens(None))
    assert messages(state, state.take_changes()) == {"/mrt/style/source": ["prompts"]}


def _everything_set():
    state = builtin_control()
    embedding = BuiltinEmbedder().embed_text("rain")
    for command in (c.DefinePrompt("a", "rain", embedding, 0.7), c.DefinePrompt("b", "wind", embedding, 0.3),
                    c.NoteOn(60, 90), c.NoteOn(64, 80)):
        state.apply_now(command)
    state.xy, state.axes = (0.1, 0.2), {"0": 0.5, "1": -0.25}
    state.scene, state.cue = "gallery", "dawn"
    state.set("mute", True)
    return state


def test_every_pushed_message_decodes_to_what_the_daemon_built():
    """A client turns each state message back into the typed object the snapshot made; a
    parameter shows as the very request that sets it, so sending back what it shows changes nothing."""
    from mrtd.vocabulary import requests, shown

    state = _everything_set()
    shown_now = messages(state)
    assert {"/mrt/axis/0", "/mrt/axis/1", "/mrt/xy", "/mrt/notes", "/mrt/scene", "/mrt/cue"} <= set(shown_now)
    for address, args in shown_now.items():
        typed = shown.decode(address, args)
        assert typed is not None and typed.message() == (address, args), address
    for name, address in PARAM_ADDRESS.items():
        typed = shown.decode(address, shown_now[address])
        assert type(typed) is requests.REQUESTS[address], f"{name} shows as its own request"
    assert shown.decode("/mrt/mute", shown_now["/mrt/mute"]) == requests.Mute(True)
    assert shown.decode("/mrt/notes", shown_now["/mrt/notes"]) == shown.NotesHeld((60, 64))
    assert shown.decode("/mrt/axis/1", shown_now["/mrt/axis/1"]) == shown.AxisNow("1", -0.25)
    assert shown.decode("/mrt/beat", [1, 2]) is None, "a message that does not fit is no state"
    assert shown.decode("/mrt/pong", []) is None


@dataclass(frozen=True)
class _Place(c.Command):
    """A prompt placed on the surface, as a scene's install places one (no OSC address does)."""

    name: str
    embedding: np.ndarray = field(compare=False)
    position: tuple[float, float] = (0.5, 0.5)

    def apply(self, state) -> None:
        state.define_prompt(self.name, "placed", self.embedding, position=self.position)


def test_the_snapshot_kept_up_from_changes_is_the_whole_state_shown_again():
    """The daemon keeps its snapshot up to date from each frame's changes (a crossfade's frames
    show the mix again, not the whole state): after any run of commands it is what showing the
    whole state gives, in the same order. A change a command makes but does not flag fails here."""
    import random

    from mrtd.feedback.snapshot import update

    rng = random.Random(7)
    state = builtin_control()
    embedding = BuiltinEmbedder().embed_text("rain")
    for name in ("a", "b"):
        state.define_prompt(name, name, embedding, weight=0.5)
    state.style.define_axis("sweep", "a", "b")  # as a scene defines one
    state.take_changes()
    shown_now = messages(state)
    names = ["a", "b", "c"]
    for step in range(300):
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(names)
            command = rng.choice([
                lambda: c.DefinePrompt(name, f"text {step}", embedding, rng.random()),
                lambda: c.ClearPrompt(name),
                lambda: c.SetWeight(name, rng.random()),
                lambda: c.SetMix(((name, 1.0),)),
                lambda: _Place(name, embedding, (rng.random(), rng.random())),
                lambda: c.SetXY(rng.random(), rng.random()),
                lambda: c.SetAxis("sweep", rng.uniform(-1, 1)),
                lambda: c.NoteOn(rng.randint(40, 80), 100),
                lambda: c.NoteOff(rng.randint(40, 80)),
                lambda: c.SetStyleTokens(np.arange(12) % 5 if rng.random() < 0.5 else None),
                lambda: c.SetParam.checked(*rng.choice([("temperature", rng.uniform(0.5, 1.5)), ("volume", rng.uniform(-20, 0)),
                                                        ("seed", rng.randint(0, 99)), ("mute", rng.random() < 0.5),
                                                        ("tempo", rng.uniform(60, 180))])),
            ])
            try:
                state.apply_now(command())
            except (ValueError, KeyError):
                pass  # e.g. a weight for a prompt just cleared: refused, as live
        shown_now, pushed = update(shown_now, state, state.take_changes())
        whole = messages(state)
        assert shown_now == whole and list(shown_now) == list(whole), f"step {step}"
        assert set(pushed) <= set(whole)
