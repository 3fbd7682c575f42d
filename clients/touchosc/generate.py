"""Generate clients/touchosc/mrtd.tosc, a TouchOSC tablet layout for mrtd, from the OSC table.

    python clients/touchosc/generate.py          # rewrite mrtd.tosc
    python clients/touchosc/generate.py --check  # exit 1 if mrtd.tosc is stale

Format: TouchOSC (the 2022+ editions, "Mk2"): a .tosc file is zlib-compressed
XML (`<lexml version='3'>`), a tree of `<node type=...>` controls, each with
properties, values, OSC messages and children. The older TouchOSC Mk1
`.touchosc` (a zip of index.xml) is not generated.

Every parameter control takes its address, range and integer-ness from the
daemon's tables (`mrtd.inputs.osc.table`, `mrtd.vocabulary.params`), so a renamed
address or a new range shows up here on the next run, and the test
(tests/test_clients_touchosc.py) fails while the committed layout is stale.
Controls both send and receive on their address: the daemon pushes state to
subscribers on the same addresses, so the tablet follows changes made
elsewhere (the root script subscribes on start and renews every minute).
"""

from __future__ import annotations

import argparse
import sys
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from mrtd.vocabulary.params import PARAMS
from mrtd.inputs.osc.table import ROOT, ROUTES

OUTPUT = Path(__file__).with_name("mrtd.tosc")
WIDTH, HEIGHT = 1280, 800  # a landscape tablet; TouchOSC scales to the screen
PROMPT_SLOTS = 6  # the official slot numbers: /mrt/weight 1..6
CUES = 8
PADS = list(range(60, 72))  # one octave from middle C
_NAMESPACE = uuid.UUID("5f8a3c1e-7d2b-4f6a-9c0e-6d7a1b2c3d4e")  # stable node IDs: same input, same file


def address(path: str) -> str:
    """An address the daemon routes (fails generation, not the gig, when the table changes)."""
    if path not in ROUTES:
        raise KeyError(f"{path} is not in the OSC table (mrtd.inputs.osc.table)")
    return path


# -- the XML vocabulary ---------------------------------------------------------


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class Partial:
    kind: str  # CONSTANT | VALUE | PROPERTY
    conversion: str  # STRING | INTEGER | FLOAT | BOOLEAN
    value: str
    low: float = 0
    high: float = 1

    def xml(self) -> str:
        return (
            f"<partial><type>{self.kind}</type><conversion>{self.conversion}</conversion><value>{_cdata(self.value)}</value>"
            f"<scaleMin>{self.low:g}</scaleMin><scaleMax>{self.high:g}</scaleMax></partial>"
        )


@dataclass
class Osc:
    path: str
    arguments: list[Partial] = field(default_factory=list)
    trigger: str = "x"
    condition: str = "ANY"  # ANY | RISE | FALL
    send: bool = True
    receive: bool = True

    def xml(self) -> str:
        return (
            f"<osc><enabled>1</enabled><send>{int(self.send)}</send><receive>{int(self.receive)}</receive>"
            "<feedback>0</feedback><connections>00001</connections>"
            f"<triggers><trigger><var>{_cdata(self.trigger)}</var><condition>{self.condition}</condition></trigger></triggers>"
            f"<path>{Partial('CONSTANT', 'STRING', self.path).xml()}</path>"
            f"<arguments>{''.join(a.xml() for a in self.arguments)}</arguments></osc>"
        )


@dataclass
class Node:
    kind: str  # GROUP | FADER | XY | BUTTON | LABEL | TEXT
    name: str
    frame: tuple[int, int, int, int]
    color: tuple[float, float, float] = (0.25, 0.55, 0.85)
    messages: list[Osc] = field(default_factory=list)
    children: list["Node"] = field(default_factory=list)
    script: str = ""
    label: str = ""  # shown text (LABEL, TEXT)
    toggle: bool = False  # BUTTON: toggle instead of momentary
    horizontal: bool = False
    parent_id: str = ""

    def values(self) -> list[str]:
        keys = {"FADER": ["x"], "XY": ["x", "y"], "BUTTON": ["x"], "LABEL": ["text"], "TEXT": ["text"]}.get(self.kind, [])
        default = {"text": self.label}
        return [
            f"<value><key>{_cdata(k)}</key><locked>0</locked><lockedDefaultCurrent>0</lockedDefaultCurrent>"
            f"<default>{_cdata(default.get(k, '0'))}</default><defaultPull>0</defaultPull></value>"
            for k in ["touch", *keys]
        ]

    def properties(self) -> list[str]:
        x, y, w, h = self.frame
        r, g, b = self.color
        props = [
            ("b", "background", "1"),
            ("c", "color", f"<r>{r:g}</r><g>{g:g}</g><b>{b:g}</b><a>1</a>"),
            ("r", "frame", f"<x>{x}</x><y>{y}</y><w>{w}</w><h>{h}</h>"),
            ("b", "interactive", "0" if self.kind in ("GROUP", "LABEL", "TEXT") else "1"),
            ("s", "name", _cdata(self.name)),
            ("b", "outline", "1"),
            ("b", "visible", "1"),
        ]
        if self.kind == "BUTTON":
            props.append(("i", "buttonType", "1" if self.toggle else "0"))  # 0 momentary, 1 toggle (release)
        if self.kind == "FADER":
            props.append(("i", "orientation", "1" if self.horizontal else "0"))
        if self.kind in ("LABEL", "TEXT"):
            props.append(("i", "textSize", "14"))
            props.append(("c", "textColor", "<r>1</r><g>1</g><b>1</b><a>1</a>"))
        if self.script:
            props.append(("s", "script", _cdata(self.script)))
        return [f"<property type='{t}'><key>{_cdata(k)}</key><value>{v}</value></property>" for t, k, v in sorted(props, key=lambda p: p[1])]

    def xml(self, path: str = "") -> str:
        here = f"{path}/{self.name}"
        node_id = uuid.uuid5(_NAMESPACE, here)
        messages = f"<messages>{''.join(m.xml() for m in self.messages)}</messages>" if self.messages else ""
        children = f"<children>{''.join(c.xml(here) for c in self.children)}</children>" if self.children else ""
        return (
            f"<node ID='{node_id}' type='{self.kind}'><properties>{''.join(self.properties())}</properties>"
            f"<values>{''.join(self.values())}</values>{messages}{children}</node>"
        )


# -- the layout -------------------------------------------------------------------


def param_fader(param: str, path: str, frame: tuple[int, int, int, int]) -> Node:
    """A fader over the parameter's whole range, sending and following `path`."""
    spec = PARAMS[param]
    conversion = "FLOAT" if spec.kind is float else "INTEGER"
    osc = Osc(address(path), [Partial("VALUE", conversion, "x", spec.low, spec.high)])
    return Node("FADER", param, frame, color=(0.85, 0.55, 0.2), messages=[osc])


def switch(param: str, path: str, frame: tuple[int, int, int, int]) -> Node:
    osc = Osc(address(path), [Partial("VALUE", "INTEGER", "x", 0, 1)])
    return Node("BUTTON", param, frame, color=(0.8, 0.3, 0.3), messages=[osc], toggle=True)


def press(name: str, path: str, args: list[Partial], frame: tuple[int, int, int, int]) -> Node:
    """A momentary button that sends once, on press; it does not follow pushes."""
    return Node("BUTTON", name, frame, messages=[Osc(address(path), args, condition="RISE", receive=False)])


def label(name: str, text: str, frame: tuple[int, int, int, int], path: str | None = None) -> Node:
    """Text; with `path`, it shows the first argument of every message the daemon pushes there."""
    messages = [Osc(path, [Partial("VALUE", "STRING", "text")], trigger="text", send=False)] if path else []
    return Node("LABEL", name, frame, color=(0.15, 0.15, 0.15), messages=messages, label=text)


ROOT_SCRIPT = f"""-- Prove this tablet's address, subscribe to state pushes, and renew both every minute.
-- The daemon pushes only to an address that echoed its cookie (/mrt/hello 0 asks for it; the
-- cookie stays the same while the daemon runs, and a proof lasts ten minutes).
local last = 0
local cookie = nil
function init()
  sendOSC('{address(ROOT + "/hello")}', 0)
end
function onReceiveOSC(message, connections)
  if message[1] ~= '{address(ROOT + "/hello")}' or #message[2] < 1 then return end
  cookie = message[2][1].value
  sendOSC('{address(ROOT + "/hello")}', cookie)
  sendOSC('{address(ROOT + "/subscribe")}')
  sendOSC('{address(ROOT + "/sync")}')
end
function update()
  local now = getMillis()
  if now - last > 60000 then
    last = now
    if cookie then sendOSC('{address(ROOT + "/hello")}', cookie) else sendOSC('{address(ROOT + "/hello")}', 0) end
    sendOSC('{address(ROOT + "/subscribe")}')
  end
end
"""

MIX_SCRIPT = f"""-- Faders send /mrt/weight <slot> x; the daemon pushes the whole mix as /mrt/mix name w name w ...
function onReceiveOSC(message, connections)
  if message[1] ~= '{ROOT}/mix' then return end
  local args = message[2]
  for i = 1, #args - 1, 2 do
    local fader = self.children[tostring(args[i].value)]
    if fader then fader.values.x = args[i + 1].value end
  end
end
"""

PAD_SCRIPT = f"""-- Press: note on; release: note off. The pitch is the pad's name.
function onValueChanged(key)
  if key ~= 'x' then return end
  local pitch = tonumber(self.name)
  if self.values.x > 0 then
    sendOSC('{address(ROOT + "/note/on")}', pitch, 100)
  else
    sendOSC('{address(ROOT + "/note/off")}', pitch)
  end
end
"""

HELD_SCRIPT = f"""-- The daemon pushes the held pitches as /mrt/notes p p p ...
function onReceiveOSC(message, connections)
  if message[1] ~= '{ROOT}/notes' then return end
  local held = {{}}
  for i, arg in ipairs(message[2]) do held[i] = tostring(arg.value) end
  self.values.text = 'held: ' .. table.concat(held, ' ')
end
"""

STATUS_SCRIPT = f"""-- Poll /mrt/status every two seconds and show it as key: value lines.
local last = 0
function update()
  local now = getMillis()
  if now - last > 2000 then
    last = now
    sendOSC('{address(ROOT + "/status")}')
  end
end
function onReceiveOSC(message, connections)
  if message[1] ~= '{ROOT}/status' then return end
  local lines = {{}}
  local args = message[2]
  for i = 1, #args - 1, 2 do
    lines[#lines + 1] = tostring(args[i].value) .. ': ' .. tostring(args[i + 1].value)
  end
  self.values.text = table.concat(lines, '\\n')
end
"""


def layout() -> Node:
    # left: prompt mix faders
    mix = Node("GROUP", "mix", (10, 10, 420, 380), color=(0.1, 0.1, 0.1), script=MIX_SCRIPT)
    for slot in range(1, PROMPT_SLOTS + 1):
        osc = Osc(address(ROOT + "/weight"), [Partial("CONSTANT", "INTEGER", str(slot)), Partial("VALUE", "FLOAT", "x", 0, 1)])
        mix.children.append(Node("FADER", str(slot), (10 + (slot - 1) * 68, 40, 60, 330), messages=[osc]))
    mix.children.append(label("title", "prompt mix (slots 1-6)", (10, 5, 400, 30)))

    # middle: the XY surface, following /mrt/xy pushes
    xy = Node("XY", "xy", (440, 10, 380, 380), color=(0.3, 0.7, 0.5),
              messages=[Osc(address(ROOT + "/xy"), [Partial("VALUE", "FLOAT", "x", -1, 1), Partial("VALUE", "FLOAT", "y", -1, 1)])])

    # right: sampling, guidance and output faders, switches
    params = Node("GROUP", "parameters", (830, 10, 440, 380), color=(0.1, 0.1, 0.1))
    faders = [("temperature", "/temperature"), ("top_k", "/topk"), ("cfg_style", "/cfg/style"), ("cfg_notes", "/cfg/notes"),
              ("cfg_drums", "/cfg/drums"), ("volume", "/volume"), ("tempo", "/tempo")]
    for i, (param, path) in enumerate(faders):
        params.children.append(param_fader(param, ROOT + path, (10 + i * 60, 40, 52, 250)))
        params.children.append(label(f"{param} label", param, (10 + i * 60, 292, 52, 24)))
    for i, param in enumerate(("mute", "bypass", "midigate")):
        params.children.append(switch(param, f"{ROOT}/{param}", (10 + i * 100, 325, 90, 45)))
    params.children.append(label("title", "sampling / guidance / output", (10, 5, 420, 30)))

    # bottom left: note pads and drums
    notes = Node("GROUP", "notes", (10, 400, 620, 390), color=(0.1, 0.1, 0.1))
    for i, pitch in enumerate(PADS):
        notes.children.append(Node("BUTTON", str(pitch), (10 + (i % 6) * 100, 40 + (i // 6) * 110, 92, 100),
                                   color=(0.55, 0.35, 0.8), script=PAD_SCRIPT))
    notes.children.append(press("notes clear", ROOT + "/notes/clear", [], (10, 265, 190, 50)))
    for i, (mode, text) in enumerate(((-1, "drums: model"), (0, "drums: off"), (1, "drums: on"))):
        notes.children.append(press(text, ROOT + "/drums", [Partial("CONSTANT", "INTEGER", str(mode))], (210 + i * 135, 265, 127, 50)))
    notes.children.append(label("held", "held:", (10, 325, 600, 50)))
    notes.children[-1].script = HELD_SCRIPT
    notes.children.append(label("title", "notes (C4-B4)", (10, 5, 600, 30)))

    # bottom middle: cues and scene
    cues = Node("GROUP", "cues", (640, 400, 300, 390), color=(0.1, 0.1, 0.1))
    for i in range(CUES):
        cues.children.append(press(f"cue {i + 1}", ROOT + "/cue", [Partial("CONSTANT", "INTEGER", str(i + 1))],
                                   (10 + (i % 4) * 70, 40 + (i // 4) * 70, 62, 62)))
    cues.children.append(press("next cue", ROOT + "/cue/next", [], (10, 185, 130, 50)))
    cues.children.append(press("reset", ROOT + "/reset", [], (150, 185, 130, 50)))
    cues.children.append(label("scene", "", (10, 250, 280, 40), path=ROOT + "/scene"))  # pushed, not routed
    cues.children.append(label("cue", "", (10, 295, 280, 40), path=address(ROOT + "/cue")))
    cues.children.append(label("title", "scene / cues", (10, 5, 280, 30)))

    # bottom right: status
    status = Node("GROUP", "status", (950, 400, 320, 390), color=(0.1, 0.1, 0.1))
    status.children.append(label("fields", "status", (10, 40, 300, 280)))
    status.children[-1].script = STATUS_SCRIPT
    status.children.append(press("sync", ROOT + "/sync", [], (10, 330, 145, 50)))
    status.children.append(press("subscribe", ROOT + "/subscribe", [], (165, 330, 145, 50)))
    status.children.append(label("title", "status", (10, 5, 300, 30)))

    return Node("GROUP", "mrtd", (0, 0, WIDTH, HEIGHT), color=(0, 0, 0), script=ROOT_SCRIPT,
                children=[mix, xy, params, notes, cues, status])


def document() -> str:
    """The layout's XML (what the .tosc holds, before compression)."""
    return "<?xml version='1.0' encoding='UTF-8'?><lexml version='3'>" + layout().xml() + "</lexml>"


def tosc(xml: str) -> bytes:
    return zlib.compress(xml.encode("utf-8"), 9)


def read_tosc(path: Path) -> str:
    return zlib.decompress(path.read_bytes()).decode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed layout is stale")
    args = parser.parse_args(argv)
    xml = document()
    if args.check:
        stale = not OUTPUT.exists() or read_tosc(OUTPUT) != xml
        print(f"{OUTPUT.name} is {'stale: run clients/touchosc/generate.py' if stale else 'up to date'}")
        return int(stale)
    OUTPUT.write_bytes(tosc(xml))
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
