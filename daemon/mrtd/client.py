"""A small OSC client for mrtd, blocking (`Client`) and asyncio (`AsyncClient`).

    from mrtd.client import Client
    with Client() as mrt:                       # 127.0.0.1:7400
        mrt.prompt("a", "warm analog synthwave")
        mrt.note_on(60, at=time.time() + 0.5)   # a timetagged bundle: heard at that time
        print(mrt.status()["frames"])

Both clients share one set of command methods (`Commands`), one per address of
the OSC table (docs/osc.md); they differ only in how a packet goes out and how
a reply is waited for. Every method builds the daemon's own typed request
(`mrtd.vocabulary.requests`) and sends its `message()`, which the daemon
decodes with the same class: no address or argument list is written twice. `at=` is a wall-clock time (`time.time()`): the message
travels in a bundle with that timetag and the daemon applies it at the frame
heard at that time. Without `at=`, it applies at the next frame.

Replies are the daemon's own typed responses (`mrtd.vocabulary.replies`):
the daemon builds them, the clients decode them with the same classes.

Commands are fire-and-forget by default: the daemon answers a refused message
with `/mrt/error <address> <reason>`, and nothing waits for it. To see refusals,
either make every command wait for the daemon's word (`check=True`: a command
the daemon refused raises `MrtdError`; one round trip each, well under a
millisecond on loopback), or pass `on_error=` (called with the `MrtdError` when
the refusal arrives while the client reads; without it and without
`on_message`, a refusal nobody waited for is logged as a warning, so it is
never silent).

Replies come back to the socket that sent the request. Because the daemon
handles one socket's datagrams in order, a request can be fenced with a ping:
everything the daemon answered before the pong belongs to the request. That is
how `sync()` and `send_checked()` know they have everything, without guessing
a delay.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import struct
import time
from typing import Any, Awaitable, Callable, Generic, Iterable, TypeVar

from mrtd.vocabulary import replies as r
from mrtd.vocabulary import requests as q
from mrtd.vocabulary import shown
from mrtd.vocabulary.codec import Message, PacketError, encode, float32_text, timed_messages
from mrtd.vocabulary.values import parse_length, parse_when

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7400
DEFAULT_TIMEOUT = 2.0  # seconds; loopback replies take well under a millisecond

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (OSC timetags) to 1970-01-01 (time.time())

R = TypeVar("R")  # what a command method returns: None (Client) or an awaitable (AsyncClient)


REPROVE_S = 300.0  # half the daemon's PROOF_S (inputs/osc/admission.py; tests/test_clients_python.py holds the pair)


class MrtdError(Exception):
    """The daemon answered /mrt/error for a request."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"{address}: {reason}")
        self.address, self.reason = address, reason


class NoReply(TimeoutError):
    """Nothing came back in time: is mrtd running, on that host and port?"""


# -- packets -------------------------------------------------------------------


def timetag(at: float) -> bytes:
    """An OSC timetag (NTP 32.32 fixed point) for wall-clock time `at`."""
    seconds = at + NTP_EPOCH_OFFSET
    whole = int(seconds)
    return struct.pack(">II", whole, int((seconds - whole) * 2**32) & 0xFFFFFFFF)


def bundle(messages: Iterable[Message], at: float | None) -> bytes:
    """A bundle of messages with timetag `at` (None: immediately)."""
    tag = struct.pack(">II", 0, 1) if at is None else timetag(at)
    body = b"".join(struct.pack(">i", len(p)) + p for p in (encode(a, list(args)) for a, args in messages))
    return b"#bundle\x00" + tag + body


def packet(address: str, args: Iterable[Any], at: float | None = None) -> bytes:
    return encode(address, list(args)) if at is None else bundle([(address, list(args))], at)


TYPED_ARGS = {"s": str, "i": int, "f": float}  # `s:123` sends the text "123"


def parse_arg(text: str) -> int | float | str:
    """A command-line argument as OSC would want it: int, then float, else text.

    A prefix says the type outright: `s:123` is the text "123" (a prompt or a scene
    named with digits), `i:7` an int, `f:1` a float; `s:s:x` sends "s:x".
    """
    kind_name, colon, value = text.partition(":")
    if colon and kind_name in TYPED_ARGS:
        try:
            return TYPED_ARGS[kind_name](value)
        except ValueError:
            raise ValueError(f"{text!r}: {value!r} is not a valid {TYPED_ARGS[kind_name].__name__}") from None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _address_of(reply: str | type[r.Response]) -> str:
    return reply if isinstance(reply, str) else reply.address


def _answer(reply: str | type[r.Response], args: list[Any]) -> Any:
    return args if isinstance(reply, str) else reply.from_args(args)


log = logging.getLogger("mrtd.client")

OnError = Callable[[MrtdError], None]


def _refused(args: list[Any], about: str = "") -> MrtdError:
    """The MrtdError an /mrt/error message carries (`/mrt/error <address> <reason>`)."""
    error = r.Error.from_args(args) if args else r.Error(about, "")
    return MrtdError(error.about, error.reason)


def _report_unasked(error: MrtdError, on_error: OnError | None) -> None:
    """A refusal no request waited for: to `on_error`, else a warning (never silent)."""
    if on_error is not None:
        on_error(error)
    else:
        log.warning("mrtd refused %s", error)


def _decode(data: bytes) -> list[Message]:
    try:
        return [(address, args) for _due, address, args in timed_messages(data)]
    except PacketError:
        return []  # not ours to fail on: a reply we cannot read is a reply we ignore


# -- the commands, shared by both clients --------------------------------------------


def typed_state(state: dict[str, list[Any]]) -> dict[str, r.Response | q.Request]:
    """`sync()`'s answer as typed state messages (`vocabulary/shown.py`), by address: a parameter
    as the request that sets it, the rest as what the daemon built. Anything else is left out."""
    typed = {address: shown.decode(address, args) for address, args in state.items()}
    return {address: message for address, message in typed.items() if message is not None}


def _slot_or_name(name: str | int) -> str:
    """A prompt's name as the vocabulary carries it: a slot number is named by its digits."""
    if isinstance(name, int) and not isinstance(name, bool):
        return str(name)
    return name  # type: ignore[return-value]  # a bool goes as it is, and the daemon refuses it as from any client


class Commands(Generic[R]):
    """One method per address in the OSC table; each builds the typed request
    (mrtd.vocabulary.requests) and returns whatever `send` returns for its message."""

    def send(self, address: str, *args: Any, at: float | None = None) -> R:
        raise NotImplementedError

    proven = False
    proven_at = 0.0

    def needs_proof(self) -> bool:
        """Whether to say hello before a reply bigger than its request: never yet, or so long ago that
        the daemon has forgotten (it keeps a proof 10 minutes, so a DHCP lease that moves the address
        to someone else cannot make them a target); renewed at half that."""
        return not self.proven or time.monotonic() - self.proven_at > REPROVE_S

    def send_request(self, request: q.Request, *, at: float | None = None) -> R:
        """Send a typed request: the message the daemon decodes back into the same request."""
        address, args = request.message()
        return self.send(address, *args, at=at)

    # prompts and the mix
    def prompt(self, name: str | int, text: str, weight: float | None = None, *, at: float | None = None) -> R:
        return self.send_request(q.Prompt(_slot_or_name(name), text, None if weight is None else float(weight)), at=at)

    def prompt_clear(self, name: str | int, *, at: float | None = None) -> R:
        return self.send_request(q.PromptClear(_slot_or_name(name)), at=at)

    def mix(self, weights: dict[str, float], fade: float | str | None = None, curve: str | None = None, *, at: float | None = None) -> R:
        """Target mix {name: weight}, optionally crossfaded over `fade` (seconds, or '4 bars', '8 beats') with `curve`."""
        length, unit = (0.0, "s") if fade is None else parse_length(fade) if isinstance(fade, str) else (float(fade), "s")
        pairs = tuple((_slot_or_name(name), float(w)) for name, w in weights.items())
        return self.send_request(q.Mix(pairs, length, unit, curve or "linear"), at=at)

    def weight(self, name: str | int, weight: float, *, at: float | None = None) -> R:
        return self.send_request(q.Weight(_slot_or_name(name), float(weight)), at=at)

    def axis(self, axis: int | str, value: float, *, at: float | None = None) -> R:
        return self.send_request(q.Axis(axis, float(value)), at=at)

    def xy(self, x: float, y: float, *, at: float | None = None) -> R:
        return self.send_request(q.XY(float(x), float(y)), at=at)

    def style_tokens(self, tokens: list[int] | None, *, at: float | None = None) -> R:
        """12 raw style tokens (-1 masked); None returns to the prompt blend."""
        return self.send_request(q.StyleTokens(tuple(int(t) for t in tokens or ()) or None), at=at)

    def style_embedding(self, embedding: bytes | Iterable[float] | None, *, at: float | None = None) -> R:
        """768 floats, or their little-endian float32 bytes as a blob; None returns to the blend."""
        if embedding is not None and not isinstance(embedding, bytes):
            values = list(embedding)
            embedding = struct.pack(f"<{len(values)}f", *values)
        return self.send_request(q.StyleEmbedding(embedding), at=at)

    # sampling and guidance
    def temperature(self, value: float, *, at: float | None = None) -> R:
        return self.send_request(q.Temperature(float(value)), at=at)

    def topk(self, value: int, *, at: float | None = None) -> R:
        return self.send_request(q.TopK(int(value)), at=at)

    def seed(self, value: int, *, at: float | None = None) -> R:
        return self.send_request(q.Seed(int(value)), at=at)

    def cfg_style(self, value: float, *, at: float | None = None) -> R:
        return self.send_request(q.CfgStyle(float(value)), at=at)

    def cfg_notes(self, value: float, *, at: float | None = None) -> R:
        return self.send_request(q.CfgNotes(float(value)), at=at)

    def cfg_drums(self, value: float, *, at: float | None = None) -> R:
        return self.send_request(q.CfgDrums(float(value)), at=at)

    # notes and drums
    def note_on(self, pitch: int, velocity: int = 100, *, at: float | None = None) -> R:
        return self.send_request(q.NoteOn(int(pitch), int(velocity)), at=at)

    def note_off(self, pitch: int, *, at: float | None = None) -> R:
        return self.send_request(q.NoteOff(int(pitch)), at=at)

    def notes_clear(self, *, at: float | None = None) -> R:
        return self.send_request(q.NotesClear(), at=at)

    def unmask(self, width: int, *, at: float | None = None) -> R:
        return self.send_request(q.Unmask(int(width)), at=at)

    def onset_mode(self, mode: int, *, at: float | None = None) -> R:
        return self.send_request(q.OnsetMode(int(mode)), at=at)

    def midigate(self, on: bool = True, *, at: float | None = None) -> R:
        return self.send_request(q.Midigate(bool(on)), at=at)

    def solo(self, on: bool = True, *, at: float | None = None) -> R:
        """The Jam app's Solo (True) or Accompany (False)."""
        return self.send_request(q.Solo(bool(on)), at=at)

    def drums(self, mode: int, *, at: float | None = None) -> R:
        """-1 the model decides, 0 no drums, 1 drums."""
        return self.send_request(q.Drums(int(mode)), at=at)

    # output and state
    def volume(self, db: float, *, at: float | None = None) -> R:
        return self.send_request(q.Volume(float(db)), at=at)

    def mute(self, on: bool = True, *, at: float | None = None) -> R:
        return self.send_request(q.Mute(bool(on)), at=at)

    def bypass(self, on: bool = True, *, at: float | None = None) -> R:
        return self.send_request(q.Bypass(bool(on)), at=at)

    def reset(self, *, at: float | None = None) -> R:
        return self.send_request(q.Reset(), at=at)

    # listening (a daemon started with --listen)
    def listen_notes(self, on: bool = True, *, at: float | None = None) -> R:
        """The notes and chords the daemon hears become the held notes."""
        return self.send_request(q.ListenNotes(bool(on)), at=at)

    def listen_tempo(self, on: bool = True, *, at: float | None = None) -> R:
        """The beat the daemon hears sets the tempo and the bar's phase."""
        return self.send_request(q.ListenTempo(bool(on)), at=at)

    def listen_style(self, weight: float, *, at: float | None = None) -> R:
        """Weight of the `listen` prompt, the last bars heard (0: off)."""
        return self.send_request(q.ListenStyle(float(weight)), at=at)

    def stop(self, seconds: float = 3.0, *, at: float | None = None) -> R:
        """Fade out to silence over `seconds` and let the engine rest."""
        return self.send_request(q.Stop(float(seconds)), at=at)

    def start(self, seconds: float = 3.0, *, at: float | None = None) -> R:
        """Wake the engine and fade back in over `seconds`."""
        return self.send_request(q.Start(float(seconds)), at=at)

    # scenes and clock
    def scene_load(self, name: str, *, at: float | None = None) -> R:
        return self.send_request(q.SceneLoad(name), at=at)

    def cue(self, name: str | int, when: str | None = None, *, at: float | None = None) -> R:
        """Go to a cue, now or on the grid (`when`: 'beat', 'bar', '2 bars')."""
        return self.send_request(q.Cue(_slot_or_name(name), None if when is None else parse_when(when)), at=at)

    def cue_next(self, *, at: float | None = None) -> R:
        return self.send_request(q.CueNext(), at=at)

    def tempo(self, bpm: float, meter: int | None = None, *, at: float | None = None) -> R:
        """Tempo in BPM, and optionally beats per bar."""
        return self.send_request(q.Tempo(float(bpm), None if meter is None else int(meter)), at=at)

    def meter(self, beats: int, *, at: float | None = None) -> R:
        """Beats per bar."""
        return self.send_request(q.Meter(int(beats)), at=at)

    def on_grid(self, when: str, address: str, *args: Any, at: float | None = None) -> R:
        """/mrt/at: do `address args` on the grid (`when`: 'beat', 'bar', '4 beats', '2 bars').
        The inner message is decoded with its own request class, here as in the daemon."""
        return self.send_request(q.At.from_args([when, address, *args]), at=at)

    def learn(self, name: str, kind: str | None = None, *, at: float | None = None) -> R:
        """MIDI learn: the next control moved maps to `name` (kind: param, axis, weight, cue, toggle)."""
        return self.send_request(q.Learn(name, kind or "param"), at=at)

    def event(self, *, at: float | None = None, **named: Any) -> R:
        """A named-argument event, as TidalCycles sends it: `event(note=0, velocity=0.8, delta=0.5)`."""
        return self.send_request(q.Event(tuple(x for item in named.items() for x in item)), at=at)


# -- blocking -------------------------------------------------------------------------


class Client(Commands[None]):
    """Blocking UDP client. Messages that are not a reply being waited for go to `on_message`;
    refusals nobody waited for go to `on_error` (else a logged warning). `check=True`: every
    command waits for the daemon's word and raises MrtdError if it was refused."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        timeout: float = DEFAULT_TIMEOUT,
        on_message: Callable[[str, list[Any]], None] | None = None,
        *,
        check: bool = False,
        on_error: OnError | None = None,
    ) -> None:
        self.target = (host, port)
        self.timeout = timeout
        self.on_message = on_message
        self.check = check
        self.on_error = on_error
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1" if host in ("127.0.0.1", "localhost") else "0.0.0.0", 0))
        self._fences = itertools.count(1)
        self.proven = False  # whether hello() has shown the daemon this socket's address is ours
        self.proven_at = 0.0  # when (monotonic): the daemon forgets a proof after 10 minutes

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket, first reporting refusals that have already come back (without waiting)."""
        if self.sock.fileno() >= 0:
            self.sock.setblocking(False)
            try:
                while True:
                    for got, got_args in _decode(self.sock.recv(65536)):
                        self._unasked(got, got_args)
            except OSError:
                pass  # nothing more has arrived
        self.sock.close()

    def _unasked(self, address: str, args: list[Any]) -> None:
        """A message no request was waiting for."""
        if address == r.Error.address:
            if self.on_error is not None or self.on_message is None:
                _report_unasked(_refused(args), self.on_error)
                return
        if self.on_message is not None:
            self.on_message(address, args)

    def send(self, address: str, *args: Any, at: float | None = None) -> None:
        """Send a message; with `check`, wait for the daemon's word (MrtdError if refused)."""
        if self.check:
            self.send_checked(address, *args, at=at)
        else:
            self.sock.sendto(packet(address, args, at), self.target)

    def send_bundle(self, messages: Iterable[Message], at: float | None = None) -> None:
        """Several messages applied together (at the frame heard at `at`)."""
        self.sock.sendto(bundle(messages, at), self.target)

    def receive(self, timeout: float | None = None) -> list[Message]:
        """The messages of the next packet that arrives within `timeout` (else NoReply)."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise NoReply(f"no reply from mrtd at {self.target[0]}:{self.target[1]}") from None
        return _decode(data)

    def request(self, address: str, *args: Any, reply: str | type[r.Response], timeout: float | None = None) -> Any:
        """Send and wait for the reply (an address: its arguments; a response class: the decoded
        response); an /mrt/error about `address` raises MrtdError."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        wanted = _address_of(reply)
        self.sock.sendto(packet(address, args), self.target)  # a request waits for its own reply, checked or not
        while True:
            for got, got_args in self.receive(max(0.0, deadline - time.monotonic())):
                if got == wanted:
                    return _answer(reply, got_args)
                if got == r.Error.address and got_args[:1] == [address]:
                    raise _refused(got_args, address)
                self._unasked(got, got_args)

    def ask(self, request: q.Request, reply: type[r.Response], timeout: float | None = None) -> Any:
        """Send a typed request and wait for its typed response; MrtdError if refused."""
        address, args = request.message()
        return self.request(address, *args, reply=reply, timeout=timeout)

    def fenced(self, address: str, *args: Any, timeout: float | None = None, at: float | None = None) -> list[Message]:
        """Send, then a ping; return everything the daemon answered before the pong."""
        fence = f"fence-{next(self._fences)}"
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self.sock.sendto(packet(address, args, at), self.target)
        checking, self.check = self.check, False  # the fence is the check: it is never checked itself
        try:
            self.send_request(q.Ping((fence,)))
        finally:
            self.check = checking
        answered: list[Message] = []
        while True:
            for got, got_args in self.receive(max(0.0, deadline - time.monotonic())):
                if (got, got_args) == r.Pong((fence,)).message():
                    return answered
                answered.append((got, got_args))

    def fenced_request(self, request: q.Request, timeout: float | None = None) -> list[Message]:
        """`fenced` for a typed request."""
        address, args = request.message()
        return self.fenced(address, *args, timeout=timeout)

    def send_checked(self, address: str, *args: Any, timeout: float | None = None, at: float | None = None) -> list[Message]:
        """Send and return the daemon's replies; raise MrtdError if it refused the message."""
        answered = self.fenced(address, *args, timeout=timeout, at=at)
        for got, got_args in answered:
            if got == r.Error.address:
                raise _refused(got_args, address)
        return answered

    # replies
    def status(self, timeout: float | None = None) -> dict[str, Any]:
        if self.needs_proof():  # the status is larger than its request: an unproven address gets none
            self.hello(timeout)
        return self.ask(q.Status(), r.Status, timeout).values

    def ping(self, timeout: float | None = None) -> float:
        """Round-trip time in seconds."""
        start = time.perf_counter()
        token = f"ping-{next(self._fences)}"
        while self.ask(q.Ping((token,)), r.Pong, timeout) != r.Pong((token,)):
            pass  # a stale pong from an earlier, timed-out ping
        return time.perf_counter() - start

    def hello(self, timeout: float | None = None) -> None:
        """Show the daemon this socket receives what is sent to it (a cookie round trip).

        An address that never did gets a small reply budget (so a spoofed request
        cannot turn the daemon into an amplifier); a proven one gets the full one.
        `status()`, `sync()` and `subscribe()` call this first, once.
        """
        cookie = self.ask(q.Hello(), r.Hello, timeout).cookie
        self.ask(q.Hello(cookie), r.HelloOk, timeout)
        self.proven, self.proven_at = True, time.monotonic()

    def sync(self, timeout: float | None = None) -> dict[str, list[Any]]:
        """The daemon's full state: {address: args}."""
        if self.needs_proof():
            self.hello(timeout)
        return dict(self.fenced_request(q.Sync(), timeout))

    def state(self, timeout: float | None = None) -> dict[str, r.Response | q.Request]:
        """The daemon's full state, typed: `typed_state(sync())`."""
        return typed_state(self.sync(timeout))

    def subscribe(self, port: int | None = None, timeout: float | None = None) -> int:
        """Ask for state pushes (to this socket, or to `port` on this host); returns the port."""
        if self.needs_proof():
            self.hello(timeout)
        return self.ask(q.Subscribe(port), r.Subscribed, timeout).port

    def unsubscribe(self, port: int | None = None, timeout: float | None = None) -> int:
        return self.ask(q.Unsubscribe(port), r.Unsubscribed, timeout).port

    def record_start(self, name: str | None = None, timeout: float | None = None) -> str:
        """Start recording; returns the WAV file's name in the daemon's recording folder."""
        return self.ask(q.RecordStart(name), r.RecordStarted, timeout).name

    def record_stop(self, timeout: float | None = None) -> str:
        return self.ask(q.RecordStop(), r.RecordStopped, timeout).name

    def prefill(self, audio_name: str | None = None, timeout: float | None = None) -> str:
        """mrt2: fill the model's context from an audio file in the daemon's audio folder (or silence)."""
        return self.ask(q.Prefill(audio_name), r.Prefilling, timeout).name

    def prefill_tokens(self, tokens_name: str, timeout: float | None = None) -> str:
        """mrt2: continue the model from raw tokens (a .npy, int32 [frames, 12]) in the daemon's audio folder."""
        return self.ask(q.PrefillTokens(tokens_name), r.Prefilling, timeout).name

    def save_tokens(self, tokens_name: str, timeout: float | None = None) -> str:
        """mrt2: save the tokens made since the music last started as a new .npy in the audio
        folder; the file's name (what `prefill_tokens` takes back)."""
        return self.ask(q.TokensSave(tokens_name), r.TokensSaving, timeout).name

    def model(self, name: str, timeout: float | None = None) -> str:
        """mrt2: load another model beside the running one and crossfade to it."""
        return self.ask(q.Model(name), r.Loading, timeout).name

    def state_save(self, bank: int, timeout: float | None = None) -> int:
        """Save the engine's state into bank 1-16 of the daemon's state folder; the bank."""
        return self.ask(q.StateSave(bank), r.StateBank, timeout).bank

    def state_load(self, bank: int, timeout: float | None = None) -> int:
        """Load bank 1-16 and crossfade to it (a moment later: the copy is made first); the bank."""
        return self.ask(q.StateLoad(bank), r.StateBank, timeout).bank

    def state_factory(self, timeout: float | None = None) -> int:
        """Back to the model's own initial state, crossfaded."""
        return self.ask(q.StateFactory(), r.StateBank, timeout).bank

    def buffersize(self, samples: int, timeout: float | None = None) -> r.BufferSize:
        """The official `buffersize` (samples kept ahead): the latency preset it is in mrtd, and when it applies."""
        return self.ask(q.BufferSize(samples), r.BufferSize, timeout)


# -- asyncio --------------------------------------------------------------------------


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, client: "AsyncClient") -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        for message in _decode(data):
            self.client._arrived(message)


class AsyncClient(Commands[Awaitable[None]]):
    """asyncio UDP client: `async with AsyncClient() as mrt: await mrt.temperature(1.2)`.

    Messages that answer no pending request (pushes after `subscribe()`) wait in `messages`;
    a refusal nobody waited for also goes to `on_error` (else a logged warning). `check=True`:
    every command waits for the daemon's word and raises MrtdError if it was refused.
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = DEFAULT_TIMEOUT,
                 *, check: bool = False, on_error: OnError | None = None) -> None:
        self.target = (host, port)
        self.timeout = timeout
        self.check = check
        self.on_error = on_error
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self._transport: asyncio.DatagramTransport | None = None
        self._listeners: list[Callable[[Message], bool]] = []
        self._tokens = itertools.count(1)
        self.proven = False
        self.proven_at = 0.0

    async def open(self) -> "AsyncClient":
        loop = asyncio.get_running_loop()
        local = "127.0.0.1" if self.target[0] in ("127.0.0.1", "localhost") else "0.0.0.0"
        self._transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=(local, 0))
        return self

    async def __aenter__(self) -> "AsyncClient":
        return await self.open()

    async def __aexit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _sendto(self, data: bytes) -> None:
        if self._transport is None:
            raise RuntimeError("AsyncClient is not open: use `async with AsyncClient() as mrt` or `await mrt.open()`")
        self._transport.sendto(data, self.target)

    async def send(self, address: str, *args: Any, at: float | None = None) -> None:
        """Send a message; with `check`, wait for the daemon's word (MrtdError if refused)."""
        if self.check:
            await self.send_checked(address, *args, at=at)
        else:
            self._sendto(packet(address, args, at))

    async def send_checked(self, address: str, *args: Any, timeout: float | None = None, at: float | None = None) -> list[Message]:
        """As `Client.send_checked`: send, fenced with a ping; the replies, or MrtdError if refused."""
        fence = f"fence-{next(self._tokens)}"
        answered: list[Message] = []

        def send() -> None:
            self._sendto(packet(address, args, at))
            self._sendto(packet(*q.Ping((fence,)).message()))

        def take(message: Message, done: asyncio.Future[Message]) -> bool:
            if message == r.Pong((fence,)).message():
                done.set_result(message)
            else:
                answered.append(message)
            return True

        await self._until(send, take, f"answer to {address}", timeout)
        for got, got_args in answered:
            if got == r.Error.address:
                raise _refused(got_args, address)
        return answered

    async def send_bundle(self, messages: Iterable[Message], at: float | None = None) -> None:
        self._sendto(bundle(messages, at))

    def _arrived(self, message: Message) -> None:
        # The first listener that takes the message consumes it; the rest are pushes.
        for listener in list(self._listeners):
            if listener(message):
                return
        if message[0] == r.Error.address:
            _report_unasked(_refused(message[1]), self.on_error)
        self.messages.put_nowait(message)

    async def _until(self, send: Callable[[], None], take: Callable[[Message, asyncio.Future[Message]], bool], what: str, timeout: float | None) -> Message:
        """Send, then feed arriving messages to `take` until it completes the future (or time runs out)."""
        done: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        def listener(message: Message) -> bool:
            return not done.done() and take(message, done)

        self._listeners.append(listener)
        try:
            send()
            return await asyncio.wait_for(done, self.timeout if timeout is None else timeout)
        except asyncio.TimeoutError:
            raise NoReply(f"no {what} from mrtd at {self.target[0]}:{self.target[1]}") from None
        finally:
            self._listeners.remove(listener)

    async def request(self, address: str, *args: Any, reply: str | type[r.Response], timeout: float | None = None) -> Any:
        """As `Client.request`: the reply's arguments, or the decoded response; MrtdError if refused."""
        wanted = _address_of(reply)

        def take(message: Message, done: asyncio.Future[Message]) -> bool:
            got, got_args = message
            if got == wanted or (got == r.Error.address and got_args[:1] == [address]):
                done.set_result(message)
                return True
            return False

        got, got_args = await self._until(lambda: self._sendto(packet(address, args)), take, wanted, timeout)
        if got == r.Error.address:
            raise _refused(got_args, address)
        return _answer(reply, got_args)

    async def ask(self, request: q.Request, reply: type[r.Response], timeout: float | None = None) -> Any:
        """As `Client.ask`: send a typed request, await its typed response."""
        address, args = request.message()
        return await self.request(address, *args, reply=reply, timeout=timeout)

    async def status(self, timeout: float | None = None) -> dict[str, Any]:
        if self.needs_proof():  # the status is larger than its request: an unproven address gets none
            await self.hello(timeout)
        return (await self.ask(q.Status(), r.Status, timeout)).values

    async def ping(self, timeout: float | None = None) -> float:
        """Round-trip time in seconds."""
        start = time.perf_counter()
        token = f"ping-{next(self._tokens)}"
        while await self.ask(q.Ping((token,)), r.Pong, timeout) != r.Pong((token,)):
            pass  # a stale pong from an earlier, timed-out ping
        return time.perf_counter() - start

    async def hello(self, timeout: float | None = None) -> None:
        """As `Client.hello`: prove this socket's address, for the full reply budget."""
        cookie = (await self.ask(q.Hello(), r.Hello, timeout)).cookie
        await self.ask(q.Hello(cookie), r.HelloOk, timeout)
        self.proven, self.proven_at = True, time.monotonic()

    async def sync(self, timeout: float | None = None) -> dict[str, list[Any]]:
        """The daemon's full state: {address: args}, everything it answered before our fence's pong."""
        if self.needs_proof():
            await self.hello(timeout)
        fence = f"fence-{next(self._tokens)}"
        state: dict[str, list[Any]] = {}

        def send() -> None:
            self._sendto(packet(*q.Sync().message()))
            self._sendto(packet(*q.Ping((fence,)).message()))

        def take(message: Message, done: asyncio.Future[Message]) -> bool:
            if message == r.Pong((fence,)).message():
                done.set_result(message)
            else:
                state[message[0]] = message[1]
            return True

        await self._until(send, take, "sync", timeout)
        return state

    async def state(self, timeout: float | None = None) -> dict[str, r.Response | q.Request]:
        """The daemon's full state, typed: `typed_state(await sync())`."""
        return typed_state(await self.sync(timeout))

    async def subscribe(self, port: int | None = None, timeout: float | None = None) -> int:
        if self.needs_proof():
            await self.hello(timeout)
        return (await self.ask(q.Subscribe(port), r.Subscribed, timeout)).port

    async def unsubscribe(self, port: int | None = None, timeout: float | None = None) -> int:
        return (await self.ask(q.Unsubscribe(port), r.Unsubscribed, timeout)).port

    async def record_start(self, name: str | None = None, timeout: float | None = None) -> str:
        return (await self.ask(q.RecordStart(name), r.RecordStarted, timeout)).name

    async def record_stop(self, timeout: float | None = None) -> str:
        return (await self.ask(q.RecordStop(), r.RecordStopped, timeout)).name

    async def prefill(self, audio_name: str | None = None, timeout: float | None = None) -> str:
        return (await self.ask(q.Prefill(audio_name), r.Prefilling, timeout)).name

    async def prefill_tokens(self, tokens_name: str, timeout: float | None = None) -> str:
        return (await self.ask(q.PrefillTokens(tokens_name), r.Prefilling, timeout)).name

    async def save_tokens(self, tokens_name: str, timeout: float | None = None) -> str:
        return (await self.ask(q.TokensSave(tokens_name), r.TokensSaving, timeout)).name

    async def model(self, name: str, timeout: float | None = None) -> str:
        return (await self.ask(q.Model(name), r.Loading, timeout)).name

    async def state_save(self, bank: int, timeout: float | None = None) -> int:
        return (await self.ask(q.StateSave(bank), r.StateBank, timeout)).bank

    async def state_load(self, bank: int, timeout: float | None = None) -> int:
        return (await self.ask(q.StateLoad(bank), r.StateBank, timeout)).bank

    async def state_factory(self, timeout: float | None = None) -> int:
        return (await self.ask(q.StateFactory(), r.StateBank, timeout)).bank

    async def buffersize(self, samples: int, timeout: float | None = None) -> r.BufferSize:
        return await self.ask(q.BufferSize(samples), r.BufferSize, timeout)


# -- `mrtd send` and `mrtd status` ------------------------------------------------------


def _shown(value: Any) -> str:
    """One OSC value as `mrtd send` and `mrtd status` print it (floats as the 32-bit numbers they are)."""
    if isinstance(value, float):
        return float32_text(value)
    return repr(value) if isinstance(value, str) and (not value or " " in value) else str(value)


def _format(args: list[Any]) -> str:
    return " ".join(_shown(a) for a in args)


def command_send(args: Any) -> int:
    """`mrtd send ADDRESS ARGS...`: print every reply, or one `ok:` line when the daemon took the
    message and had nothing to say (`-q`: nothing); exit 1 if refused, 2 if nobody answered."""
    import sys

    try:
        osc_args = [parse_arg(a) for a in args.args]
    except ValueError as exc:
        print(f"mrtd: {exc}", file=sys.stderr)
        return 2
    with Client(args.host, args.port, timeout=args.timeout) as client:
        try:
            answered = client.fenced(args.address, *osc_args)
        except NoReply as exc:
            print(f"mrtd: {exc}", file=sys.stderr)
            return 2
    for address, reply_args in answered:
        print(address, _format(reply_args))
    if any(address == r.Error.address for address, _ in answered):
        return 1
    if not answered and not getattr(args, "quiet", False):
        # The fence's pong came back with no /mrt/error before it: the daemon took the message.
        print(f"ok: mrtd at {args.host}:{args.port} took {args.address} {_format(osc_args)}".rstrip())
    return 0


def command_status(args: Any) -> int:
    """`mrtd status`: one `key: value` line per status field."""
    import sys

    with Client(args.host, args.port, timeout=args.timeout) as client:
        try:
            fields = client.status()
        except NoReply as exc:
            print(f"mrtd: {exc}", file=sys.stderr)
            return 2
    width = max((len(k) for k in fields), default=0)
    for key, value in fields.items():
        print(f"{key + ':':<{width + 1}} {float32_text(value) if isinstance(value, float) else value}")
    return 0
