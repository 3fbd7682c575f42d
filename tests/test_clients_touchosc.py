"""clients/touchosc: the generated layout is current, speaks only the daemon's addresses, and works with it."""

from __future__ import annotations

import importlib.util
import re
import sys
import xml.etree.ElementTree as ET

import pytest

from clients_rig import CLIENTS, running_daemon
from mrtd.client import Client, MrtdError
from mrtd.feedback import snapshot
from mrtd.inputs.osc.table import ROOT, TABLE
from style_fakes import builtin_control

_spec = importlib.util.spec_from_file_location("touchosc_generate", CLIENTS / "touchosc" / "generate.py")
generate = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = generate  # dataclasses look their module up there
_spec.loader.exec_module(generate)

ROUTED = {row.path for row in TABLE}
PUSHED = set(snapshot.messages(builtin_control())) | {f"{ROOT}/xy"}
REPLIES = {f"{ROOT}/status", f"{ROOT}/pong", f"{ROOT}/error", f"{ROOT}/subscribed"}


@pytest.fixture(scope="module")
def tree() -> ET.Element:
    return ET.fromstring(generate.read_tosc(generate.OUTPUT))


def messages(tree: ET.Element):
    """(control name, path, send, receive, argument partials) for every OSC message in the layout."""
    for node in tree.iter("node"):
        name = next(p.findtext("value") for p in node.find("properties") if p.findtext("key") == "name")
        for osc in node.findall("messages/osc"):
            path = "".join(p.findtext("value") for p in osc.findall("path/partial"))
            args = [(p.findtext("type"), p.findtext("conversion"), p.findtext("value"), float(p.findtext("scaleMin")), float(p.findtext("scaleMax")))
                    for p in osc.findall("arguments/partial")]
            yield name, path, osc.findtext("send") == "1", osc.findtext("receive") == "1", args


def scripts(tree: ET.Element) -> list[str]:
    return [p.findtext("value") for p in tree.iter("property") if p.findtext("key") == "script"]


def test_the_committed_layout_is_a_fresh_generation():
    assert generate.read_tosc(generate.OUTPUT) == generate.document(), "stale: run python clients/touchosc/generate.py"


def test_every_address_is_one_the_daemon_knows(tree):
    for name, path, send, receive, _ in messages(tree):
        if send:
            assert path in ROUTED, f"{name} sends {path}, which the daemon does not route"
        if receive:
            assert path in ROUTED | PUSHED, f"{name} listens on {path}, which the daemon never sends"
    for script in scripts(tree):
        for path in re.findall(r"'(/[a-z_/]+)'", script):
            assert path in ROUTED | PUSHED | REPLIES, f"a script uses {path}"


def test_the_layout_has_what_a_performer_needs(tree):
    found = list(messages(tree))
    weights = [args for _, path, *_, args in found if path == f"{ROOT}/weight"]
    assert len(weights) == generate.PROMPT_SLOTS, "prompt mix faders"
    assert any(path == f"{ROOT}/xy" and len(args) == 2 for _, path, *_, args in found), "an XY surface"
    pads = [n for n in tree.iter("node") if n.get("type") == "BUTTON" and "note/on" in "".join(scripts(n))]
    assert len(pads) == len(generate.PADS), "note pads"
    assert sum(path == f"{ROOT}/cue" and send for _, path, send, *_ in found) == generate.CUES, "cue buttons"
    assert any(f"{ROOT}/status" in s for s in scripts(tree)), "status"
    root_script = scripts(tree)[0]
    assert f"sendOSC('{ROOT}/subscribe')" in root_script, "it subscribes, for feedback"
    # Feedback: every parameter control listens on the address the daemon pushes that parameter to.
    for name, path, send, receive, _ in found:
        if name in snapshot.PARAM_ADDRESS:
            assert receive and path == snapshot.PARAM_ADDRESS[name], name


def _tablet_args(args) -> list:
    """What TouchOSC sends for a control at mid-travel."""
    out = []
    for kind, conversion, value, low, high in args:
        number = (low + high) / 2 if kind == "VALUE" else float(value)
        out.append(round(number) if conversion == "INTEGER" else number)
    return out


def test_every_control_is_accepted_by_a_running_daemon(tree, tmp_path):
    sent = 0
    with running_daemon(tmp_path) as rig, Client(port=rig.port) as tablet:
        for slot in range(1, 7):  # something for each of the six mix faders to weigh
            tablet.prompt(slot, f"warm analog synthwave {slot}")
        for name, path, send, _, args in messages(tree):
            if not send or path == f"{ROOT}/xy":
                continue  # xy needs a scene with surface positions
            try:
                tablet.send_checked(path, *_tablet_args(args))
            except MrtdError as error:
                assert path.startswith(f"{ROOT}/cue"), f"{name}: {error}"  # cues need a loaded scene
            sent += 1
        status = tablet.status()
    assert sent > 30 and status["frames"] > 0
