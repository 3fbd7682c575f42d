"""Feedback: every kind of change is rendered as a message a surface can show."""

from __future__ import annotations

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
