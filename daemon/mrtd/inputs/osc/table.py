"""The OSC address table: one row per address, with its aliases, arguments and handler.

The dispatcher routes with this table and `docs/osc.md` is generated from it,
so the reference cannot drift from the code. A handler validates its
arguments, submits commands to the host, and returns its replies (as
python-osc handlers do); a ValueError becomes `/mrt/error <address> <reason>`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.control import commands as c
from mrtd.vocabulary.params import PARAMS, finite_number, type_name
from mrtd.control.tempo import parse_length, parse_when
from mrtd.inputs.osc import dirt, orca
from mrtd.vocabulary import replies as r
from mrtd.inputs.osc.dialect import Dialects

ROOT = "/mrt"
Reply = tuple[str, list[Any]]


class Host(Protocol):
    """What OSC handlers may ask of the daemon. They never touch engines or audio."""

    def submit(self, command: c.Command, due: float | None, answer: "Answer | None" = None) -> list[Reply] | None: ...  # replies: e.g. a clamp
    def define_prompt(self, name: str, text: str, weight: float | None, due: float | None) -> None: ...
    def status(self) -> list[Reply]: ...
    def sync(self) -> list[Reply]: ...
    def subscribe(self, host: str, port: int) -> None: ...
    def unsubscribe(self, host: str, port: int) -> None: ...
    def scene_load(self, name: str, due: float | None, answer: "Answer | None" = None) -> None: ...
    def cue(self, name: str | None, due: float | None, when: tuple[str, int] | None = None, answer: "Answer | None" = None) -> None: ...
    def learn(self, kind: str, name: str) -> None: ...
    def mapped(self, address: str, args: list[Any], due: float | None) -> bool: ...
    def prefill(self, name: str | None) -> None: ...
    def model(self, name: str, answer: "Answer | None" = None) -> None: ...
    def record_start(self, name: str | None) -> str: ...
    def record_stop(self) -> str | None: ...
    def hello(self, sender: tuple[str, int], cookie: int | None) -> list[Reply]: ...
    def dialects(self) -> Dialects: ...


Answer = Callable[[list[Reply]], None]


@dataclass(frozen=True)
class Request:
    address: str  # as received (an alias, perhaps)
    args: list[Any]
    due: float | None  # wall-clock time to apply at; None = next frame
    sender: tuple[str, int]
    # Replies found later, off the receive path (a scene refused by the loader): they go to the
    # sender as the handler's own replies would, within the same reply budget. None: no way back.
    answer: Answer | None = field(default=None, compare=False)


Handler = Callable[[Host, Request], list[Reply] | None]


@dataclass(frozen=True)
class Address:
    path: str
    args: str  # human-readable signature for the reference page
    doc: str
    handler: Handler
    aliases: tuple[str, ...] = ()


# -- argument helpers --------------------------------------------------------


def arity(args: list[Any], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        want = f"{low}" if low == high else f"{low}-{high}" if high < 1_000 else f"at least {low}"
        raise ValueError(f"wants {want} argument(s), got {len(args)}")


def number(value: Any, what: str) -> float:
    return finite_number(value, what)


def text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} wants text, got {type_name(value)}")
    if not value.strip() or len(value) > 1000:
        raise ValueError(f"{what} wants 1-1000 characters of text")
    return value


def flag(args: list[Any]) -> bool:
    """Switches: no argument means on; otherwise 0 or 1."""
    arity(args, 0, 1)
    return True if not args else bool(PARAMS["mute"].coerce(number(args[0], "switch")))


# -- handlers ----------------------------------------------------------------


def param(name: str) -> Handler:
    def handle(host: Host, req: Request) -> list[Reply] | None:
        arity(req.args, 1)
        return host.submit(c.SetParam.checked(name, number(req.args[0], name)), req.due)

    return handle


def switch(name: str) -> Handler:
    def handle(host: Host, req: Request) -> None:
        host.submit(c.SetParam(name, flag(req.args)), req.due)

    return handle


def prompt(host: Host, req: Request) -> None:
    arity(req.args, 2, 3)
    name = c._name(req.args[0])
    weight = c._weight(req.args[2]) if len(req.args) == 3 else None
    host.define_prompt(name, text(req.args[1], "prompt text"), weight, req.due)


def prompt_clear(host: Host, req: Request) -> None:
    arity(req.args, 1)
    host.submit(c.ClearPrompt(c._name(req.args[0])), req.due)


def mix(host: Host, req: Request) -> None:
    args = list(req.args)
    weights: dict[object, object] = {}
    # name weight pairs; a trailing number (and text) are the fade seconds (and curve).
    # Names are text or slot numbers (the Max patch and Pd panel send `1 0.5 2 0.5`).
    while len(args) >= 2 and isinstance(args[1], (int, float)) and not isinstance(args[0], bytes):
        if not isinstance(args[0], str) and len(args) == 2 and any(isinstance(n, str) for n in weights):
            break  # "a 1 2.0 1": after named pairs, a trailing number pair is fade and (bad) curve
        weights[args[0]] = args[1]
        args = args[2:]
    if not weights:
        raise ValueError("wants name weight pairs, then optionally fade seconds and a curve")
    if len(args) > 2:
        raise ValueError("after the name weight pairs, only fade seconds and a curve may follow")
    length, unit = 0.0, "s"
    if args:  # fade: seconds, or text such as "4 bars" or "8 beats"
        length, unit = parse_length(args[0]) if isinstance(args[0], str) else (number(args[0], "fade seconds"), "s")
    curve = text(args[1], "curve") if len(args) > 1 else "linear"
    host.submit(c.SetMix.checked(weights, length, curve, unit), req.due, req.answer)


def weight(host: Host, req: Request) -> None:
    arity(req.args, 2)
    host.submit(c.SetWeight.checked(req.args[0], req.args[1]), req.due, req.answer)


def axis(host: Host, req: Request) -> None:
    arity(req.args, 2)
    which = req.args[0]
    if isinstance(which, str):
        key: int | str = text(which, "axis")
    else:
        index = number(which, "axis index")
        if index != int(index) or not 0 <= index <= 5:
            raise ValueError(f"axis index is 0-5 or an axis name, got {which}")
        key = int(index)
    value = number(req.args[1], "axis value")
    if not -10.0 <= value <= 10.0:
        raise ValueError(f"axis value lies in [-10, 10], got {value}")
    host.submit(c.SetAxis(key, value), req.due, req.answer)


def xy(host: Host, req: Request) -> None:
    arity(req.args, 2)
    x, y = number(req.args[0], "x"), number(req.args[1], "y")
    if not (-1e6 < x < 1e6 and -1e6 < y < 1e6):
        raise ValueError("x and y must be reasonable coordinates")
    host.submit(c.SetXY(x, y), req.due, req.answer)


def style_tokens(host: Host, req: Request) -> None:
    host.submit(c.SetStyleTokens(c.check_tokens(req.args) if req.args else None), req.due)


def style_embedding(host: Host, req: Request) -> None:
    args = req.args
    if not args:
        host.submit(c.SetStyleEmbedding(None), req.due)
        return
    if len(args) == 1 and isinstance(args[0], bytes):
        if len(args[0]) != EMBEDDING_DIM * 4:
            raise ValueError(f"an embedding blob is {EMBEDDING_DIM} little-endian float32 ({EMBEDDING_DIM * 4} bytes), got {len(args[0])}")
        vector = np.frombuffer(args[0], dtype="<f4").astype(np.float32)
    else:
        arity(args, EMBEDDING_DIM)
        vector = np.array([number(v, "embedding value") for v in args], dtype=np.float32)
    if not np.all(np.isfinite(vector)):
        raise ValueError("embedding values must be finite")
    host.submit(c.SetStyleEmbedding(vector), req.due)


def note_on(host: Host, req: Request) -> None:
    arity(req.args, 1, 2)
    host.submit(c.NoteOn.checked(req.args[0], req.args[1] if len(req.args) == 2 else 100), req.due)


def note_off(host: Host, req: Request) -> None:
    arity(req.args, 1, 2)  # some hosts send a release velocity
    host.submit(c.NoteOff.checked(req.args[0]), req.due)


def notes_clear(host: Host, req: Request) -> None:
    arity(req.args, 0)
    host.submit(c.NotesClear(), req.due)


def reset(host: Host, req: Request) -> None:
    arity(req.args, 0, 1)
    host.submit(c.Reset(at_once=req.due is None), req.due)


def drumless(host: Host, req: Request) -> None:
    host.submit(c.SetParam("drums", 0 if flag(req.args) else -1), req.due)


def scene_load(host: Host, req: Request) -> None:
    arity(req.args, 1)
    host.scene_load(text(req.args[0], "scene name"), req.due, req.answer)


def cue(host: Host, req: Request) -> None:
    arity(req.args, 1, 2)
    value = req.args[0]
    when = parse_when(text(req.args[1], "when")) if len(req.args) == 2 else None
    host.cue(str(int(number(value, "cue"))) if not isinstance(value, str) else value, req.due, when, req.answer)


def cue_next(host: Host, req: Request) -> None:
    arity(req.args, 0, 1)
    when = parse_when(text(req.args[0], "when")) if req.args else None
    host.cue(None, req.due, when, req.answer)


def learn(host: Host, req: Request) -> list[Reply]:
    arity(req.args, 1, 2)
    words = [text(a, "learn target") for a in req.args]
    kind, name = (words if len(words) == 2 else ["param", words[0]])
    host.learn(kind, name)
    return [r.Learning(kind, name).message()]


def tempo(host: Host, req: Request) -> None:
    arity(req.args, 1, 2)
    host.submit(c.SetParam.checked("tempo", number(req.args[0], "tempo")), req.due)
    if len(req.args) == 2:
        host.submit(c.SetParam.checked("meter", number(req.args[1], "meter")), req.due)


class _Quantizing:
    """Stands in for the host: holds back what a handler submits until the next beat or bar."""

    def __init__(self, host: Host, unit: str, count: int) -> None:
        self._host, self._unit, self._count = host, unit, count

    def submit(self, command: c.Command, due: float | None, answer: "Answer | None" = None) -> None:
        self._host.submit(c.Quantized(command, self._unit, self._count), due, answer)

    def cue(self, name: str | None, due: float | None, when: tuple[str, int] | None = None,
            answer: "Answer | None" = None) -> None:
        self._host.cue(name, due, when or (self._unit, self._count), answer)

    def __getattr__(self, name: str) -> Any:
        raise ValueError("only commands can be quantized")


def at(host: Host, req: Request) -> list[Reply] | None:
    if len(req.args) < 2:
        raise ValueError("wants: when (beat, bar, 'N bars'), then an address and its arguments")
    unit, count = parse_when(text(req.args[0], "when"))
    address = text(req.args[1], "address")
    route = ROUTES.get(address)
    if route is None or route.handler in (at, status, sync, ping, subscribe, unsubscribe, learn, prompt, scene_load, record_start, record_stop):
        raise ValueError(f"{address} cannot be put on the grid")
    return route.handler(_Quantizing(host, unit, count), Request(address, req.args[2:], req.due, req.sender, req.answer))  # type: ignore[arg-type]


def status(host: Host, req: Request) -> list[Reply]:
    arity(req.args, 0)
    return host.status()


def sync(host: Host, req: Request) -> list[Reply]:
    arity(req.args, 0)
    return host.sync()


def hello(host: Host, req: Request) -> list[Reply]:
    arity(req.args, 0, 1)
    cookie = None if not req.args else int(number(req.args[0], "cookie"))
    return host.hello(req.sender, cookie)


def ping(host: Host, req: Request) -> list[Reply]:
    return [r.Pong(tuple(req.args)).message()]


def _port(req: Request) -> int:
    arity(req.args, 0, 1)
    if not req.args:
        return req.sender[1]
    port = number(req.args[0], "port")
    if port != int(port) or not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {req.args[0]}")
    return int(port)


def subscribe(host: Host, req: Request) -> list[Reply]:
    port = _port(req)
    host.subscribe(req.sender[0], port)
    return [r.Subscribed(port).message()]


def unsubscribe(host: Host, req: Request) -> list[Reply]:
    port = _port(req)
    host.unsubscribe(req.sender[0], port)
    return [r.Unsubscribed(port).message()]


def prefill(host: Host, req: Request) -> list[Reply]:
    arity(req.args, 0, 1)
    name = text(req.args[0], "audio file name") if req.args else None
    host.prefill(name)
    return [r.Prefilling(name or "silence").message()]


def model(host: Host, req: Request) -> list[Reply]:
    arity(req.args, 1)
    name = text(req.args[0], "model name")
    if not all(ch.isalnum() or ch in "_-." for ch in name) or name.startswith("."):
        raise ValueError(f"a model name is letters, digits, '_', '-' and '.', got {name!r}")
    host.model(name, req.answer)  # a model refused after loading (too slow) is answered late
    return [r.Loading(name).message()]


def record_start(host: Host, req: Request) -> list[Reply]:
    arity(req.args, 0, 1)
    path = host.record_start(text(req.args[0], "recording name") if req.args else None)
    return [r.RecordStarted(path).message()]


def record_stop(host: Host, req: Request) -> list[Reply]:
    arity(req.args, 0)
    path = host.record_stop()
    return [r.RecordStopped(path or "").message()]


# Named-argument events (TidalCycles): these names go with time, not state.
EVENT_TIMING = ("cps", "cycle", "delta")
EVENT_NOTES = ("note", "n")


def event(host: Host, req: Request) -> None:
    args = req.args
    if len(args) % 2:
        raise ValueError("wants name value pairs")
    pairs: dict[str, Any] = {}
    for name, value in zip(args[::2], args[1::2]):
        if not isinstance(name, str):
            raise ValueError(f"an event name must be text, got {type_name(name)}")
        if name.startswith("_"):
            continue  # Tidal's own bookkeeping (e.g. `_id_` from d1 patterns)
        pairs[name] = value
    unknown = [n for n in pairs if n not in PARAMS and n not in EVENT_TIMING + EVENT_NOTES + ("velocity", "prompt", "weight", "cue")]
    if unknown:
        raise ValueError(f"unknown event name(s): {', '.join(unknown)}")
    commands: list[tuple[c.Command, float | None]] = []
    for name, value in pairs.items():
        if name in PARAMS:
            commands.append((c.SetParam.checked(name, value if isinstance(value, (int, float)) else number(value, name)), req.due))
    set_tempo = None
    if "cps" in pairs:  # Tidal's cycles per second: one cycle is a bar of four beats
        set_tempo = c.SetParam.checked("tempo", number(pairs["cps"], "cps") * 240.0)
        commands.append((set_tempo, req.due))
    if "cycle" in pairs:  # Tidal's position: cycle N starts beat 4N, at the event's due time
        cycle = number(pairs["cycle"], "cycle")
        commands.append((c.AlignBeat(cycle * 4.0, req.due, float(set_tempo.value) if set_tempo else None), req.due))
    note_name = next((n for n in EVENT_NOTES if n in pairs), None)
    if note_name is not None:
        pitch = number(pairs[note_name], note_name)
        if note_name == "n" or pitch < 24:  # Tidal's note numbers are relative to middle C
            pitch += 60
        velocity = pairs.get("velocity", 100)
        if isinstance(velocity, float) and 0.0 <= velocity <= 1.0:
            velocity = round(velocity * 127)
        commands.append((c.NoteOn.checked(pitch, velocity), req.due))
        delta = number(pairs.get("delta", 0.25), "delta")
        if not 0.0 < delta <= 60.0:
            raise ValueError(f"delta lies in (0, 60] seconds, got {delta}")
        # The note ends `delta` seconds after it starts (an untimed event starts now).
        start = req.due if req.due is not None else time.time()
        commands.append((c.NoteOff(int(pitch)), start + delta))
    if "weight" in pairs and "prompt" in pairs:
        commands.append((c.SetWeight.checked(pairs["prompt"], pairs["weight"]), req.due))
    for command, due in commands:
        host.submit(command, due)
    if "cue" in pairs:
        host.cue(str(pairs["cue"]), req.due)


TABLE: tuple[Address, ...] = (
    Address(f"{ROOT}/prompt", "name-or-slot text [weight]", "define or replace a prompt point", prompt, ("/prompt",)),
    Address(f"{ROOT}/prompt/clear", "name-or-slot", "remove a prompt", prompt_clear, ("/prompt_clear",)),
    Address(f"{ROOT}/mix", "name w [name w ...] [fade [curve]]", "target mix, optionally crossfaded; fade is seconds or '4 bars', '8 beats' (curves: " + ", ".join(c.CURVES) + ")", mix),
    Address(f"{ROOT}/weight", "name-or-slot w", "one prompt's weight", weight),
    Address(f"{ROOT}/axis", "index-or-name value", "signed offset along a PCA axis (0-5) or a named axis", axis, ("/pca",)),
    Address(f"{ROOT}/xy", "x y", "position on the scene's surface (inverse-distance weights)", xy),
    Address(f"{ROOT}/style/tokens", "12 ints | nothing", "raw style tokens (-1 masked); no arguments returns to the blend", style_tokens),
    Address(f"{ROOT}/style/embedding", "768 floats | blob | nothing", "raw style embedding; no arguments returns to the blend", style_embedding),
    Address(f"{ROOT}/temperature", "f 0..3", "sampling temperature", param("temperature"), ("/temperature",)),
    Address(f"{ROOT}/topk", "i 1..1024", "sampling top-k", param("top_k"), ("/topk",)),
    Address(f"{ROOT}/seed", "i", "seed, applied at the next reset", param("seed")),
    Address("/seedrotation", "i 0..1000", "official alias: seed rotation, applied at the next reset", param("seed")),
    Address(f"{ROOT}/cfg/style", "f -1..7", "guidance toward the style", param("cfg_style"), ("/cfgmusiccoca",)),
    Address(f"{ROOT}/cfg/notes", "f -1..7", "guidance toward the notes", param("cfg_notes"), ("/cfgnotes",)),
    Address(f"{ROOT}/cfg/drums", "f -1..7", "guidance toward the drum setting", param("cfg_drums"), ("/cfgdrums",)),
    Address(f"{ROOT}/note/on", "pitch [velocity]", "note on (latched: a note shorter than a frame still sounds)", note_on, ("/noteon",)),
    Address(f"{ROOT}/note/off", "pitch", "note off", note_off, ("/noteoff",)),
    Address(f"{ROOT}/notes/clear", "", "release every note", notes_clear),
    Address(f"{ROOT}/unmask", "i 0..127", "unmask width: <127 jam around held notes, 127 solo", param("unmask"), ("/unmaskwidth",)),
    Address(f"{ROOT}/onset_mode", "i 0|1", "0: held notes send 'on'; 1: onset, then held", param("onset_mode"), ("/onsetmode",)),
    Address(f"{ROOT}/midigate", "[0|1]", "silent unless a note is held", switch("midigate"), ("/midigate",)),
    Address(f"{ROOT}/drums", "i -1|0|1", "-1 model decides, 0 no drums, 1 drums", param("drums")),
    Address("/drumless", "[0|1]", "official alias: 1 = no drums, 0 = model decides", drumless),
    Address(f"{ROOT}/volume", "dB -60..12", "output volume (smoothed)", param("volume"), ("/volume",)),
    Address(f"{ROOT}/mute", "[0|1]", "silence the output, keep generating", switch("mute"), ("/mute",)),
    Address(f"{ROOT}/bypass", "[0|1]", "stop generating and fade to silence", switch("bypass"), ("/bypass",)),
    Address(f"{ROOT}/reset", "", "return the engine to its checkpoint state: sent plain, what is buffered ducks at once and the new context fades in over one frame; timetagged, it lands on its frame", reset, ("/reset",)),
    Address(f"{ROOT}/scene/load", "name", "load a scene from the scene directory", scene_load),
    Address(f"{ROOT}/cue", "name-or-number [when]", "go to a cue; when: beat, bar, 'N bars' (on the grid)", cue),
    Address(f"{ROOT}/cue/next", "[when]", "go to the next cue, optionally on the grid", cue_next),
    Address(f"{ROOT}/learn", "[kind] name", "MIDI learn: the next control moved maps to this target (kind: param, axis, weight, cue, toggle; default param)", learn),
    Address(f"{ROOT}/tempo", "bpm 20..400 [meter]", "tempo, and optionally beats per bar", tempo),
    Address(f"{ROOT}/meter", "i 1..32", "beats per bar", param("meter")),
    Address(f"{ROOT}/at", "when address args...", "do a command on the grid: when is beat, bar, 'N beats' or 'N bars'", at),
    Address(f"{ROOT}/event", "name value ...", "named-argument event as TidalCycles sends it (any parameter, note/n, velocity, cps, cycle, delta, cue)", event),
    # Live coders' dialects (dirt.py, orca.py): see "Dialects" below the table.
    Address("/dirt/play", "name value ...", "SuperDirt event (Tidal, Strudel): see Dialects", dirt.play, ("/play2",)),
    Address("/n", "octave semitone [velocity [length]]", "ORCA `=n`: a note (base-36 values)", orca.note),
    Address("/p", "index value", "ORCA `=p`: a parameter, value 0-35 over its range", orca.param),
    Address("/w", "slot value", "ORCA `=w`: a prompt's weight, 0-35 onto 0-1", orca.weight),
    Address("/c", "number", "ORCA `=c`: go to a cue", orca.cue),
    Address("/t", "high low", "ORCA `=t`: tempo, BPM = 36 high + low", orca.tempo),
    Address("/x", "", "ORCA `=x`: release every note", orca.clear),
    Address(f"{ROOT}/status", "", "replies one /mrt/status message: key value key value ... (a mix as `name:weight ...`, an empty value as `-`)", status),
    Address(f"{ROOT}/sync", "", "replies with the full state, one message per address, then /mrt/synced <count>", sync),
    Address(f"{ROOT}/ping", "[anything]", "replies /mrt/pong with the same arguments", ping),
    Address(f"{ROOT}/hello", "[cookie]", "prove a UDP address is yours: replies /mrt/hello <cookie>; send that back and full-size replies flow (TCP needs none)", hello),
    Address(f"{ROOT}/subscribe", "[port]", "push state changes to the sender (at its port, or this one) for 90 s, renewed by any message from it", subscribe),
    Address(f"{ROOT}/unsubscribe", "[port]", "stop pushing", unsubscribe),
    Address(f"{ROOT}/prefill", "[audio name]", "mrt2: fill the model's context from an audio file in the audio folder (or silence), then crossfade to it", prefill),
    Address(f"{ROOT}/model", "name", "mrt2: load another model beside the running one and crossfade to it", model),
    Address(f"{ROOT}/record/start", "[name]", "record the output to a WAV file in the recording directory", record_start),
    Address(f"{ROOT}/record/stop", "", "stop recording", record_stop),
)

ROUTES: dict[str, Address] = {}
for _row in TABLE:
    for _path in (_row.path, *_row.aliases):
        ROUTES[_path] = _row


def reference_markdown() -> str:
    """docs/osc.md, generated from TABLE."""
    lines = [
        "# OSC reference",
        "",
        "Generated from `daemon/mrtd/inputs/osc/table.py` by `mrtd osc-reference`; a test fails when it is stale.",
        "",
        "Default port 7400, UDP and TCP (OSC 1.0 size-prefixed or OSC 1.1 SLIP framing), bound to 127.0.0.1.",
        "Timetagged bundles apply at the frame heard at their time; plain messages at the next frame.",
        "Errors come back to the sender as `/mrt/error <address> <reason>`.",
        "",
        "| address | arguments | meaning | aliases |",
        "|---|---|---|---|",
    ]
    for row in TABLE:
        aliases = ", ".join(f"`{a}`" for a in row.aliases)
        args = row.args.replace("|", "\\|")
        lines.append(f"| `{row.path}` | {args} | {row.doc} | {aliases} |")
    lines += dialects_markdown()
    return "\n".join(lines) + "\n"


def dialects_markdown() -> list[str]:
    """The dialects section of docs/osc.md, from the keys dirt.py and orca.py act on."""
    lines = ["", "## Dialects", "", "### SuperDirt events: `/dirt/play`, `/play2` (Tidal, Strudel)", "",
             "Name/value pairs, usually in timetagged bundles: each applies at the frame heard at its time.", ""]
    lines += dirt.keys_markdown()
    lines += ["", "### ORCA: the `=` operator", "",
              "`=` sends `/` plus the next glyph as the path, then one base-36 integer (0-35) per glyph up to the first `.`.", "",
              "| ORCA | sends | does |", "|---|---|---|"]
    for path, row in ((p, ROUTES[p]) for p in ("/n", "/p", "/w", "/c", "/t", "/x")):
        lines.append(f"| `={path[1:]}` | `{path}` {row.args} | {' '.join((row.handler.__doc__ or '').split())} |")
    lines += ["", "`=p` indexes: " + ", ".join(f"{i} {n}" for i, n in enumerate(orca.PARAM_ORDER)) + ".",
              "", "### Sonic Pi: `osc`", "",
              "Sonic Pi needs no dialect: `use_osc \"localhost\", 7400` then `osc \"/mrt/note/on\", 62, 100`",
              "sends this page's addresses as they are (ints as `i`, floats as `f`, text as `s`), each applied at",
              "the next frame after it arrives (clients/sonicpi/mrtd.rb)."]
    return lines
