"""An input holds `Controls`, never the `ControlState`: it queues commands and reads what they are
checked against, and nothing it holds can write the state from its thread."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from mrtd.app.surface import Services
from mrtd.control import commands as c
from mrtd.control.state import Controls, Limits
from style_fakes import builtin_control, unit

PACKAGE = Path(__file__).resolve().parents[1] / "daemon" / "mrtd"
# The inputs and the surfaces that serve them, each running on a thread of its own.
INPUT_SIDE = ["app/surface.py", "app/web_surface.py", "inputs/midi_host.py", "inputs/link.py",
              *(str(p.relative_to(PACKAGE)) for p in sorted((PACKAGE / "inputs" / "web").glob("*.py")))]


def test_services_hand_an_input_controls_and_not_the_control_state():
    fields = {f.name: f.type for f in dataclasses.fields(Services)}
    assert "control" not in fields
    assert fields["controls"] in ("Controls", "'Controls'", '"Controls"')


@pytest.mark.parametrize("path", INPUT_SIDE)
def test_no_input_side_module_names_the_control_state(path):
    code = [line for line in (PACKAGE / path).read_text().splitlines() if not line.lstrip().startswith(("from ", "import "))]
    assert not re.search(r"\bControlState\b|\.control\.", "\n".join(code)), f"{path} reaches into the control state"


def test_controls_queue_commands_and_read_what_they_are_checked_against():
    state = builtin_control()
    controls = Controls(state)
    state.define_prompt("sea", "waves", unit(1))
    state.limits = Limits(volume_max=-6.0)
    controls.admit(None)
    controls.submit(c.SetParam("volume", -20.0))
    assert state.pending() == 1 and state.values["volume"] != -20.0, "queued, not applied"
    assert controls.prompt_names() == ["sea"]
    assert controls.clamp("volume", 0.0) == -6.0 and controls.clamp("temperature", 1.5) == 1.5
    assert controls.values["tempo"] == state.values["tempo"] and controls.frame == state.frame
    assert not controls.has_axis("weather") and not controls.has_surface


def test_nothing_an_input_holds_writes_the_state():
    controls = Controls(builtin_control())
    with pytest.raises(TypeError):
        controls.values["tempo"] = 200.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        controls.style  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError):
        controls.limits = None  # type: ignore[attr-defined]
    assert not any(name.startswith(("set", "define", "clear", "apply", "begin")) for name in dir(controls))


def test_control_never_builds_a_style_pair_itself():
    # The built-in quantizer once came from a default inside control/, which is how MusicCoCa's was
    # left out: the style space (and its quantizer) is always handed in by the composition root.
    import inspect

    from mrtd.control.state import ControlState

    assert inspect.signature(ControlState).parameters["style"].default is inspect.Parameter.empty
    for path in sorted((PACKAGE / "control").glob("*.py")):
        assert not re.search(r"Quantizer\(|StyleSpace\(|import_module", path.read_text()), path.name
