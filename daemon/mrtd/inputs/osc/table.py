"""The OSC address table: one row per address, naming its request class and its handler.

The dispatcher routes with this table and `docs/osc.md` is generated from it,
so the reference cannot drift from the code. A row's request class
(mrtd.vocabulary.requests) decodes the arguments once, with every check that
needs nothing but them; the handler gets the typed request and its envelope
(due time, sender, a way to answer late), checks what needs the running daemon,
submits commands to the host, and returns its replies (as python-osc handlers
do). A ValueError from either becomes `/mrt/error <address> <reason>`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Protocol

from mrtd.control import commands as c
from mrtd.vocabulary import replies as r
from mrtd.vocabulary import requests as q
from mrtd.vocabulary.params import PARAMS, type_name
from mrtd.vocabulary.values import CURVES, MAX_CYCLE, MAX_SLOT, cycle_position, number
from mrtd.inputs.osc import dirt, orca
from mrtd.inputs.osc.dialect import Dialects

from mrtd.vocabulary.codec import ROOT, Answer, Message as Reply


class Host(Protocol):
    """What OSC handlers may ask of the daemon. They never touch engines or audio."""

    def submit(self, command: c.Command, due: float | None, answer: "Answer | None" = None,
               account: str | None = None) -> list[Reply] | None: ...  # replies: e.g. a clamp; account: the sender's share
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
    def prefill_tokens(self, name: str) -> None: ...
    def tokens_save(self, name: str) -> str: ...
    def model(self, name: str, answer: "Answer | None" = None) -> None: ...
    def record_start(self, name: str | None) -> str: ...
    def record_stop(self) -> str | None: ...
    def hello(self, sender: tuple[str, int], cookie: int | None) -> list[Reply]: ...
    def dialects(self) -> Dialects: ...
    def buffer_size(self, samples: int) -> list[Reply]: ...  # the official `buffersize`, as a latency preset
    def state_save(self, bank: int) -> None: ...
    def state_load(self, bank: int) -> None: ...
    def state_factory(self) -> None: ...  # the official `buffersize`, as a latency preset


@dataclass(frozen=True)
class Envelope:
    """What came with a request besides its arguments: where it was sent, when, from whom, and
    how to answer late."""

    address: str  # as received (an alias, perhaps): what an error names back
    due: float | None  # wall-clock time to apply at; None = next frame
    sender: tuple[str, int]
    # Replies found later, off the receive path (a scene refused by the loader): they go to the
    # sender as the handler's own replies would, within the same reply budget. None: no way back.
    answer: Answer | None = field(default=None, compare=False)
    # Whose share of the schedule its commands take: the sender's address unless the transport
    # says otherwise (each web page is a sender of its own, wherever it is open).
    account: str | None = None

    @property
    def sender_account(self) -> str:
        return self.account if self.account is not None else self.sender[0]


Handler = Callable[[Host, Any, Envelope], list[Reply] | None]  # (host, the row's request, envelope)


@dataclass(frozen=True)
class Address:
    request: type[q.Request]  # decodes the arguments; its address, aliases and signature are the row's
    doc: str
    handler: Handler

    @property
    def path(self) -> str:
        return self.request.address

    @property
    def args(self) -> str:
        """The arguments as the reference page shows them: the request's signature."""
        return self.request.signature

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.request.aliases

    def handle(self, host: Host, args: list[Any], envelope: Envelope) -> list[Reply] | None:
        """Decode `args` with the row's class (ValueError if they do not fit), then handle it."""
        return self.handler(_SentBy(host, envelope.sender_account), self.request.from_args(list(args)), envelope)


class _SentBy:
    """Stands in for the host: what a handler submits is charged to its sender's share of the
    schedule, so one sender filling its share leaves every other sender room."""

    def __init__(self, host: Host, account: str) -> None:
        self._host, self._account = host, account

    def submit(self, command: c.Command, due: float | None, answer: "Answer | None" = None,
               account: str | None = None) -> list[Reply] | None:
        return self._host.submit(command, due, answer, account=self._account)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)


# -- handlers: what needs the running daemon -----------------------------------------------


def param(host: Host, req: q.SetParam, env: Envelope) -> list[Reply] | None:
    return host.submit(c.SetParam(req.param, req.value), env.due)


def switch(host: Host, req: q.ParamSwitch, env: Envelope) -> None:
    host.submit(c.SetParam(req.param, req.on), env.due)


def prompt(host: Host, req: q.Prompt, env: Envelope) -> None:
    host.define_prompt(req.name, req.text, req.weight, env.due)


def prompt_clear(host: Host, req: q.PromptClear, env: Envelope) -> None:
    host.submit(c.ClearPrompt(req.name), env.due)


def mix(host: Host, req: q.Mix, env: Envelope) -> None:
    host.submit(c.SetMix(req.weights, req.fade, req.unit, req.curve), env.due, env.answer)


def weight(host: Host, req: q.Weight, env: Envelope) -> None:
    host.submit(c.SetWeight(req.name, req.weight), env.due, env.answer)


def axis(host: Host, req: q.Axis, env: Envelope) -> None:
    host.submit(c.SetAxis(req.axis, req.value), env.due, env.answer)


def xy(host: Host, req: q.XY, env: Envelope) -> None:
    host.submit(c.SetXY(req.x, req.y), env.due, env.answer)


def style_tokens(host: Host, req: q.StyleTokens, env: Envelope) -> None:
    host.submit(c.SetStyleTokens(req.tokens), env.due)


def style_embedding(host: Host, req: q.StyleEmbedding, env: Envelope) -> None:
    host.submit(c.SetStyleEmbedding(req.vector()), env.due)


def note_on(host: Host, req: q.NoteOn, env: Envelope) -> None:
    host.submit(c.NoteOn(req.pitch, req.velocity), env.due)


def note_off(host: Host, req: q.NoteOff, env: Envelope) -> None:
    host.submit(c.NoteOff(req.pitch), env.due)


def notes_clear(host: Host, req: q.NotesClear, env: Envelope) -> None:
    host.submit(c.NotesClear(), env.due)


def stop(host: Host, req: q.Stop, env: Envelope) -> None:
    host.submit(c.Rest(True, req.seconds), env.due)


def start(host: Host, req: q.Start, env: Envelope) -> None:
    host.submit(c.Rest(False, req.seconds), env.due)


def reset(host: Host, req: q.Reset, env: Envelope) -> None:
    host.submit(c.Reset(at_once=env.due is None), env.due)


def drumless(host: Host, req: q.Drumless, env: Envelope) -> None:
    host.submit(c.SetParam("drums", 0 if req.on else -1), env.due)


def scene_load(host: Host, req: q.SceneLoad, env: Envelope) -> None:
    host.scene_load(req.name, env.due, env.answer)


def cue(host: Host, req: q.Cue, env: Envelope) -> None:
    host.cue(req.name, env.due, req.when, env.answer)


def cue_next(host: Host, req: q.CueNext, env: Envelope) -> None:
    host.cue(None, env.due, req.when, env.answer)


def learn(host: Host, req: q.Learn, env: Envelope) -> list[Reply]:
    host.learn(req.kind, req.name)
    return [r.Learning(req.kind, req.name).message()]


def tempo(host: Host, req: q.Tempo, env: Envelope) -> None:
    host.submit(c.SetParam("tempo", req.bpm), env.due)
    if req.meter is not None:
        host.submit(c.SetParam("meter", req.meter), env.due)


class _Quantizing:
    """Stands in for the host: holds back what a handler submits until the next beat or bar."""

    def __init__(self, host: Host, unit: str, count: int) -> None:
        self._host, self._unit, self._count = host, unit, count

    def submit(self, command: c.Command, due: float | None, answer: "Answer | None" = None,
               account: str | None = None) -> None:
        self._host.submit(c.Quantized(command, self._unit, self._count), due, answer, account)

    def cue(self, name: str | None, due: float | None, when: tuple[str, int] | None = None,
            answer: "Answer | None" = None) -> None:
        self._host.cue(name, due, when or (self._unit, self._count), answer)

    def __getattr__(self, name: str) -> Any:
        raise ValueError("only commands can be quantized")


def at(host: Host, req: q.At, env: Envelope) -> list[Reply] | None:
    # The inner request was decoded with its own class (q.At.from_args), which also refused
    # what cannot wait for the grid; its handler runs against a host that quantizes.
    unit, count = req.when
    inner = replace(env, address=req.request.address)
    return BY_REQUEST[type(req.request)].handler(_Quantizing(host, unit, count), req.request, inner)


def status(host: Host, req: q.Status, env: Envelope) -> list[Reply]:
    return host.status()


def sync(host: Host, req: q.Sync, env: Envelope) -> list[Reply]:
    return host.sync()


def hello(host: Host, req: q.Hello, env: Envelope) -> list[Reply]:
    return host.hello(env.sender, req.cookie)


def ping(host: Host, req: q.Ping, env: Envelope) -> list[Reply]:
    return [r.Pong(req.values).message()]


def subscribe(host: Host, req: q.Subscribe, env: Envelope) -> list[Reply]:
    port = env.sender[1] if req.port is None else req.port
    host.subscribe(env.sender[0], port)
    return [r.Subscribed(port).message()]


def unsubscribe(host: Host, req: q.Unsubscribe, env: Envelope) -> list[Reply]:
    port = env.sender[1] if req.port is None else req.port
    host.unsubscribe(env.sender[0], port)
    return [r.Unsubscribed(port).message()]


def prefill(host: Host, req: q.Prefill, env: Envelope) -> list[Reply]:
    host.prefill(req.name)
    return [r.Prefilling(req.name or "silence").message()]


def prefill_tokens(host: Host, req: q.PrefillTokens, env: Envelope) -> list[Reply]:
    host.prefill_tokens(req.name)
    return [r.Prefilling(req.name).message()]


def tokens_save(host: Host, req: q.TokensSave, env: Envelope) -> list[Reply]:
    return [r.TokensSaving(host.tokens_save(req.name)).message()]


def model(host: Host, req: q.Model, env: Envelope) -> list[Reply]:
    host.model(req.name, env.answer)  # a model refused after loading (too slow) is answered late
    return [r.Loading(req.name).message()]


def record_start(host: Host, req: q.RecordStart, env: Envelope) -> list[Reply]:
    path = host.record_start(req.name)
    return [r.RecordStarted(path).message()]


def record_stop(host: Host, req: q.RecordStop, env: Envelope) -> list[Reply]:
    path = host.record_stop()
    return [r.RecordStopped(path or "").message()]


# -- the official front ends' own forms (vocabulary/requests.py, the block of the same name) -----


def official_prompt(host: Host, req: q.OfficialPrompt, env: Envelope) -> list[Reply] | None:
    """Official slot N is mrtd's prompt N+1; no text empties it (the prompt goes); the weight is
    clamped to [0, 1] as the externals clamp it, and a clamped weight is said back."""
    name = q.official_slot_name(req.slot)
    if req.text is None:
        host.submit(c.ClearPrompt(name), env.due)
        return None
    weight = q.clamp_official_weight(req.weight)
    host.define_prompt(name, req.text, weight, env.due)
    if weight != req.weight:
        return [r.Clamped("weight", weight, "the official range is 0-1").message()]
    return None


def official_prompt_clear(host: Host, req: q.OfficialPromptClear, env: Envelope) -> None:
    host.submit(c.ClearPrompt(q.official_slot_name(req.slot)), env.due)


def state_save(host: Host, req: q.StateSave, env: Envelope) -> list[Reply]:
    host.state_save(req.bank)
    return [r.StateBank("save", req.bank).message()]


def state_load(host: Host, req: q.StateLoad, env: Envelope) -> list[Reply]:
    host.state_load(req.bank)
    return [r.StateBank("load", req.bank).message()]


def state_factory(host: Host, req: q.StateFactory, env: Envelope) -> list[Reply]:
    host.state_factory()
    return [r.StateBank("factory", 0).message()]


def buffer_size(host: Host, req: q.BufferSize, env: Envelope) -> list[Reply]:
    return host.buffer_size(req.samples)


SOLO_UNMASK = 127  # the Jam app sets unmask width 127 in Solo and 0 in Accompany (ui/src/App.tsx `handleModeChange`)


def solo(host: Host, req: q.Solo, env: Envelope) -> None:
    """Solo on or off, with the unmask width the Jam app sets with it."""
    host.submit(c.SetParam("solo", req.on), env.due)
    host.submit(c.SetParam("unmask", SOLO_UNMASK if req.on else 0), env.due)


# Named-argument events (TidalCycles): these names go with time, not state.
EVENT_TIMING = ("cps", "cycle", "delta")
EVENT_NOTES = ("note", "n")


def event(host: Host, req: q.Event, env: Envelope) -> None:
    """A dialect parser: it reads the raw name/value arguments itself (what a name means is
    Tidal's, not a request class's), then submits the same commands as every other input."""
    args = req.args()
    due = env.due
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
            commands.append((c.SetParam.checked(name, value if isinstance(value, (int, float)) else number(value, name)), due))
    set_tempo = None
    if "cps" in pairs:  # Tidal's cycles per second: one cycle is a bar of four beats
        set_tempo = c.SetParam.checked("tempo", number(pairs["cps"], "cps") * 240.0)
        commands.append((set_tempo, due))
    if "cycle" in pairs:  # Tidal's position: cycle N starts beat 4N, at the event's due time
        cycle = cycle_position(pairs["cycle"])
        commands.append((c.AlignBeat(cycle * 4.0, due, float(set_tempo.value) if set_tempo else None), due))
    note_name = next((n for n in EVENT_NOTES if n in pairs), None)
    if note_name is not None:
        pitch = number(pairs[note_name], note_name)
        if note_name == "n" or pitch < 24:  # Tidal's note numbers are relative to middle C
            pitch += 60
        velocity = pairs.get("velocity", 100)
        if isinstance(velocity, float) and 0.0 <= velocity <= 1.0:
            velocity = round(velocity * 127)
        commands.append((c.NoteOn.checked(pitch, velocity), due))
        delta = number(pairs.get("delta", 0.25), "delta")
        if not 0.0 < delta <= 60.0:
            raise ValueError(f"delta lies in (0, 60] seconds, got {delta}")
        # The note ends `delta` seconds after it starts (an untimed event starts now).
        start = due if due is not None else time.time()
        commands.append((c.NoteOff(int(pitch)), start + delta))
    if "weight" in pairs and "prompt" in pairs:
        commands.append((c.SetWeight.checked(pairs["prompt"], pairs["weight"]), due))
    for command, due in commands:
        host.submit(command, due)
    if "cue" in pairs:
        host.cue(str(pairs["cue"]), due)


TABLE: tuple[Address, ...] = (
    Address(q.Prompt, "define or replace a prompt point", prompt),
    Address(q.PromptClear, "remove a prompt", prompt_clear),
    Address(q.Mix, "target mix, optionally crossfaded; fade is seconds or '4 bars', '8 beats' (curves: " + ", ".join(CURVES) + ")", mix),
    Address(q.Weight, "one prompt's weight", weight),
    Address(q.Axis, "signed offset along a PCA axis (0-5) or a named axis", axis),
    Address(q.XY, "position on the scene's surface (inverse-distance weights)", xy),
    Address(q.StyleTokens, "raw style tokens (-1 masked); no arguments returns to the blend", style_tokens),
    Address(q.StyleEmbedding, "raw style embedding; no arguments returns to the blend", style_embedding),
    Address(q.Temperature, "sampling temperature", param),
    Address(q.TopK, "sampling top-k", param),
    Address(q.Seed, "seed, applied at the next reset", param),
    Address(q.SeedRotation, "official alias: seed rotation, applied at the next reset", param),
    Address(q.CfgStyle, "guidance toward the style", param),
    Address(q.CfgNotes, "guidance toward the notes", param),
    Address(q.CfgDrums, "guidance toward the drum setting", param),
    Address(q.NoteOn, "note on (latched: a note shorter than a frame still sounds)", note_on),
    Address(q.NoteOff, "note off", note_off),
    Address(q.NotesClear, "release every note", notes_clear),
    Address(q.Unmask, "unmask width: <127 jam around held notes, 127 solo", param),
    Address(q.OnsetMode, "0: held notes send 'on'; 1: onset, then held", param),
    Address(q.Midigate, "silent unless a note is held", switch),
    Address(q.Drums, "-1 model decides, 0 no drums, 1 drums", param),
    Address(q.Drumless, "official alias: 1 = no drums, 0 = model decides", drumless),
    Address(q.Volume, "output volume (smoothed)", param),
    Address(q.Mute, "silence the output, keep generating", switch),
    Address(q.Bypass, "stop generating and fade to silence", switch),
    Address(q.Reset, "return the engine to its checkpoint state: sent plain, what is buffered ducks at once and the new context fades in over one frame; timetagged, it lands on its frame", reset),
    Address(q.Stop, "fade the output to silence over seconds and let the engine rest (status: resting); a scene's opening or closing time overrides it", stop),
    Address(q.Start, "wake the engine and fade back in over seconds; in a scene's closed hours it plays until the next opening or closing", start),
    Address(q.SceneLoad, "load a scene from the scene directory", scene_load),
    Address(q.Cue, "go to a cue; when: beat, bar, 'N bars' (on the grid)", cue),
    Address(q.CueNext, "go to the next cue, optionally on the grid", cue_next),
    Address(q.Learn, "MIDI learn: the next control moved maps to this target (kind: param, axis, weight, cue, toggle; default param)", learn),
    Address(q.Tempo, "tempo, and optionally beats per bar", tempo),
    Address(q.Meter, "beats per bar", param),
    Address(q.At, "do a command on the grid: when is beat, bar, 'N beats' or 'N bars', at most 120 s ahead at the tempo now (as a timetag)", at),
    Address(q.Event, "named-argument event as TidalCycles sends it (any parameter, note/n, velocity, cps, cycle, delta, cue)", event),
    # Live coders' dialects (dirt.py, orca.py): see "Dialects" below the table.
    Address(q.DirtPlay, "SuperDirt event (Tidal, Strudel): see Dialects", dirt.play),
    Address(q.OrcaNote, "ORCA `=n`: a note (base-36 values)", orca.note),
    Address(q.OrcaParam, "ORCA `=p`: a parameter, value 0-35 over its range", orca.param),
    Address(q.OrcaWeight, "ORCA `=w`: a prompt's weight, 0-35 onto 0-1", orca.weight),
    Address(q.OrcaCue, "ORCA `=c`: go to a cue", orca.cue),
    Address(q.OrcaTempo, "ORCA `=t`: tempo, BPM = 36 high + low", orca.tempo),
    Address(q.OrcaClear, "ORCA `=x`: release every note", orca.clear),
    Address(q.ListenNotes, "listening (--listen): the notes and chords heard become the held notes", switch),
    Address(q.ListenTempo, "listening: the beat heard sets the tempo and the bar's phase", switch),
    Address(q.ListenStyle, "listening: weight of the `listen` prompt, the last bars heard, renewed every few bars (0: off)", param),
    Address(q.Status, "replies one /mrt/status message: key value key value ... (a mix as `name:weight ...`, an empty value as `-`); over UDP from another machine, once the address is proven (/mrt/hello)", status),
    Address(q.Sync, "replies with the full state, one message per address, then /mrt/synced <count>; over UDP from another machine, once the address is proven (/mrt/hello)", sync),
    Address(q.Ping, "replies /mrt/pong with the same arguments", ping),
    Address(q.Hello, "prove a UDP address is yours: `/mrt/hello 0` replies /mrt/hello <cookie> (as many bytes as it asked); send that back, and replies larger than their request, and pushes, flow for 10 minutes (echo it again to renew; TCP and loopback need none)", hello),
    Address(q.Subscribe, "push state changes to the sender (at its port, or this one) for 90 s, renewed by any message from it; needs a proven address (/mrt/hello, TCP or loopback), and pushes pause while its proof has lapsed", subscribe),
    Address(q.Unsubscribe, "stop pushing", unsubscribe),
    Address(q.Prefill, "mrt2: fill the model's context from an audio file in the audio folder (or silence), then crossfade to it", prefill),
    Address(q.PrefillTokens, "mrt2: continue the model from raw audio tokens (a .npy in the audio folder: int32 [frames, 12], 0-1023, at most 1,500 frames; what tokens out gave), teacher-forced on a copy, then crossfade to it; refused on the synth", prefill_tokens),
    Address(q.TokensSave, "mrt2: tokens out, the raw audio tokens of the music made since it last started (the last 60 s at most), saved as NAME.npy in the audio folder, a new file, for /mrt/prefill/tokens to take back; replies /mrt/tokens/saving with the file's name; refused on the synth", tokens_save),
    Address(q.Model, "mrt2: load another model beside the running one and crossfade to it", model),
    Address(q.StateSave, "save the engine's state (the music itself) into bank N (1-16) of the state folder, at the next frame; refused without a state folder; replies /mrt/state/bank save N", state_save),
    Address(q.StateLoad, "load bank N into a copy of the engine and crossfade to it, the saved music going on; a bank from another model is refused; replies /mrt/state/bank load N", state_load),
    Address(q.StateFactory, "back to the model's own initial state, crossfaded; replies /mrt/state/bank factory 0", state_factory),
    Address(q.RecordStart, "record the output to a WAV file in the recording directory", record_start),
    Address(q.RecordStop, "stop recording", record_stop),
    # The official front ends' own forms (examples/max, pd, sc of magenta-realtime 2.0.3).
    Address(q.OfficialPrompt, "official prompt: slot 0-5 is mrtd's prompt slot+1 (`/prompt 0` = `/mrt/prompt 1`); no text empties it; words after the slot are the text, a trailing number the weight (default 1), clamped to 0-1", official_prompt),
    Address(q.OfficialPromptClear, "official: empty prompt slot 0-5 (mrtd's slot+1)", official_prompt_clear),
    Address(q.Solo, "the Jam app's Solo (1) or Accompany (0): text prompts encoded as 'SOLO text', unmask width 127 (0 off), the output gated by held notes (open at once, falls to silence in 2 s), the notes guidance climbing after a release", solo),
    Address(q.BufferSize, "the official buffer size in samples (clamped to 1920-8192 as the official runner) as the margin it holds (samples / 48 kHz); replies /mrt/buffersize samples latency margin_ms applies (`now`, or `at start: --latency X`: the margin is set when mrtd starts)", buffer_size),
)

ROUTES: dict[str, Address] = {}
for _row in TABLE:
    for _path in (_row.path, *_row.aliases):
        ROUTES[_path] = _row
BY_REQUEST: dict[type[q.Request], Address] = {row.request: row for row in TABLE}


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
        "Every number is bounded, not only finite: a value outside its range is refused (a prompt or cue",
        f"number 0-{MAX_SLOT}, Tidal's `cycle` within +-{MAX_CYCLE:,.0f}). Names and texts may hold no control,",
        "format (bidi overrides, zero-width), surrogate, private-use or unassigned characters (a text may",
        "break lines and hold tabs); the error names the first such character as U+XXXX.",
        "Each sender (an address; each web page) holds at most a quarter of the schedule's 4,096 commands, and",
        "a timetag or `/mrt/at` lands at most 120 s ahead; volume down, mute, bypass, notes off, reset and stop",
        "due within a second are never refused for room. Over UDP an address that has not proven itself",
        "(`/mrt/hello`) gets back no more bytes than it sent.",
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
