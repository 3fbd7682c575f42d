"""Live control state. One writer: the generation thread, at frame boundaries.

Inputs on other threads never touch this object's fields; they `submit`
commands with an optional due time (wall-clock seconds, `time.time()` scale).
At each frame boundary the generation thread moves submitted commands into a
schedule keyed by frame, applies the ones due (coalescing continuous
controls to the last value), and builds the frame's conditioning.
"""

from __future__ import annotations

import builtins
import heapq
import logging
import itertools
import math
import threading
import time
from collections import deque
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Collection, Mapping, Protocol, Sequence

from mrtd.conditioning import Conditioning
from mrtd.control.notes import NoteTracker
from mrtd.vocabulary.params import PARAMS
from mrtd.control.tempo import MusicalClock
from mrtd.frame import FRAME_SECONDS
from mrtd.vocabulary.changes import Change

log = logging.getLogger(__name__)

# The schedule is bounded in count and horizon, and the inbox is moved into it a
# bounded number per frame, so a flood of timetagged bundles costs the generation
# thread a bounded time per frame (50k far-future bundles once cost 23.5 ms in one frame).
MAX_PENDING = 4096  # commands submitted but not yet applied
HORIZON_S = 120.0  # how far ahead a timetag, or an /mrt/at on the grid, may be
# One sender's share of the schedule: 4,096 far-future commands from one address used to fill
# it, and every other sender's volume, mute and reset was refused for as long as they waited.
# A quarter, so one sender never holds more than a quarter of the room; a busy Tidal pattern
# keeps well under a hundred commands waiting (its bundles come 0.2-0.3 s ahead).
MAX_PER_SENDER = MAX_PENDING // 4
# A command that makes things safer (volume down, mute, notes off, reset, stop) due within this
# is never refused for room: it leaves the schedule within a second, so what it can take up is
# bounded by the rate inputs parse (below MOVED_PER_FRAME a frame), not by the room left.
SAFER_WITHIN_S = 1.0
MOVED_PER_FRAME = 1024  # inbox entries moved into the schedule per frame
MAX_PROMPTS = 64  # prompt points at once: bounds the blend's cost and every reply that lists them


class ScheduleFull(ValueError):
    """Refused: the schedule is at its bound, or the due time is beyond the horizon."""

if TYPE_CHECKING:
    import numpy as np

    from mrtd.style.space import StyleSpace


def check_prompt_room(name: str, names: Collection[str]) -> None:
    """The one prompt limit: refuse a new `name` when `names` already holds MAX_PROMPTS.

    The registry checks it on every definition; an input checks it early against the names
    it sees (its own still pending among them), so the sender hears why at once."""
    if name not in names and len(names) >= MAX_PROMPTS:
        raise ValueError(f"{MAX_PROMPTS} prompts already; clear one first")


class Applicable(Protocol):
    """What the state needs of a command (`commands.Command` and every kind of it fit). Said
    here rather than imported, so the only arrow between the two modules runs commands -> state."""

    @property
    def coalesce_key(self) -> str | None: ...

    @property
    def recorded(self) -> bool: ...

    def apply(self, state: "ControlState") -> None: ...

    def settled(self, state: "ControlState") -> "Applicable": ...


# Where an applied command came from, as the listener is told: the command queue (every input,
# and a scene's install and cues asked for), a scene's own timeline (its timed cues, its opening
# hours), or the engine switch (an engine swap, told by the generator when it takes over).
QUEUE = "queue"
TIMELINE = "timeline"
ENGINE = "engine"
ORIGINS = (QUEUE, TIMELINE, ENGINE)

# Told (frame, command, origin) for each command applied, on the generation thread, right after it
# applied (or raised: a replay applies it again and meets the same refusal). It must only note it
# down: no I/O, no lock it could wait on, nothing allocated but its record.
Listener = Callable[[int, Applicable, str], None]


class Feed(Protocol):
    """A replay's commands: those applied from `origin` on `frame` when it was captured, in order."""

    def due(self, frame: int, origin: str) -> "Sequence[Applicable]": ...


class Limits:
    """Safety limits (a therapy room, a gallery): clamps, a volume ceiling, a minimum fade."""

    def __init__(self, volume_max: float = 12.0, fade_min_s: float = 0.0, params: dict[str, tuple[float, float]] | None = None) -> None:
        self.clamps = dict(params or {})
        low, high = self.clamps.get("volume", (-60.0, 12.0))
        self.clamps["volume"] = (low, min(high, volume_max))
        self.fade_frames = round(fade_min_s / FRAME_SECONDS)

    def clamp(self, name: str, value):
        if name not in self.clamps or isinstance(value, bool):
            return value
        low, high = self.clamps[name]
        clamped = min(max(value, low), high)
        return type(value)(clamped)


class ControlState:
    def __init__(self, style: "StyleSpace") -> None:
        """`style`: the style space, built by the composition root with the embedder/quantizer
        pair it chose (app/style_choice.py); control never picks one itself."""
        self.values: dict[str, float | int | bool] = {name: p.default for name, p in PARAMS.items()}
        self.style = style
        self.notes = NoteTracker()
        # The one registry of prompt names (name -> text): written only by define_prompt and
        # clear_prompt, which change the style space's prompts in the same call, so the names
        # a client is shown and the names in the blend cannot drift apart.
        self._prompt_texts: dict[str, str] = {}
        self._worded: set[str] = set()  # the prompts whose text is words an encoder reads (not audio, not numbers)
        self.axes: dict[str, float] = {}
        self.xy: tuple[float, float] | None = None
        self.scene: str | None = None
        self.cue: str | None = None
        self.changed: set[Change] = set()  # what moved since the last frame: feedback pushes these
        self.frame = 0  # the frame being built
        self.applied = 0
        self.late = 0  # timed commands that arrived after their frame was made
        self.coalesced = 0
        self.failed = 0  # commands whose apply raised (checked too late, e.g. /mrt/xy with no surface)
        # Maps a wall-clock time to a (fractional) frame position; set by the runtime.
        self.frame_of: Callable[[float], float] | None = None
        self._inbox: deque[tuple[float | None, Applicable, str | None]] = deque()  # append/popleft are thread-safe
        self._schedule: list[tuple[int, int, Applicable, str | None]] = []
        # Commands waiting per sender (its account: an OSC address, a web page), for the quota.
        # Input threads add, the generation thread takes away: both under this lock, held for a
        # dict update (the generation thread never waits on I/O behind it).
        self._held: dict[str, int] = {}
        self._held_lock = threading.Lock()
        self._applying: str | None = None  # whose command is being applied (a quantized one re-queues for it)
        self._order = itertools.count()
        self._reset_pending = False
        self._reset_at_once = False
        self.reset_at_once = False  # the latest frame's reset was asked for now: buffered audio ducks
        self.skip_next_transport_reset = False  # armed by a prefill, used up by a transport reset (control/transport.py)
        self.limits: Limits | None = None  # safety limits that hold whatever the input
        self._glides: dict[str, tuple[float, float]] = {}  # param -> (target, fraction per frame)
        self.clock = MusicalClock()
        self._last_beat = -1
        # Resting (/mrt/stop, a scene's closed hours): the generator fades the output out over
        # `rest_fade_frames` and stops stepping the engine; it fades back in when this turns False.
        self.rest_wanted = False
        self.rest_fade_frames = 1
        self.rest_by_hours = False  # the rest is a scene's closed hours (a scene without hours ends it)
        # The one place commands apply (`_apply`) tells this listener each one (a capture).
        self.listener: Listener | None = None
        # A replay: its recorded commands apply where the schedule's would, and nothing is submitted.
        self.feed: Feed | None = None
        # The parts above control that commands defined above it reach (core's scene host and
        # engine switch), by their class; control itself never calls them.
        self.hosts: dict[type, object] = {}

    # -- prompts: the one registry ------------------------------------------
    @property
    def prompt_texts(self) -> Mapping[str, str]:
        """The prompts defined, name -> text: a read-only live view (define_prompt writes it)."""
        return MappingProxyType(self._prompt_texts)

    def has_prompt(self, name: str) -> bool:
        return name in self._prompt_texts

    def worded_texts(self) -> dict[str, str]:
        """The prompts whose text an encoder reads as words, name -> text (what Solo encodes again)."""
        return {name: text for name, text in self._prompt_texts.items() if name in self._worded}

    def define_prompt(self, name: str, text: str, embedding: "np.ndarray | None", *, weight: float | None = None,
                      position: tuple[float, float] | None = None, shown_with: Change = Change.PROMPTS,
                      words: bool = True) -> None:
        """Define or re-define prompt `name` (generation thread): its text here, its embedding (None:
        still encoding), weight and place in the style space, in one step. ValueError past MAX_PROMPTS.

        `shown_with`: the feedback that shows the new list (a scene's prompts go out after its name).
        `words`: the embedding is the text's, encoded (False: a scene's audio or numbers, which the
        text only names)."""
        check_prompt_room(name, self._prompt_texts)
        self.style.set_prompt(name, embedding, weight=weight, position=position)
        self.style.set_prompt_text(name, text)  # `musiccoca:` tokens and `:centroid` texts (style/prompt_text.py)
        self._prompt_texts[name] = text
        (self._worded.add if words else self._worded.discard)(name)
        self.changed.update((Change.MIX, shown_with))

    def prompt_ready(self, name: str, embedding: "np.ndarray") -> None:
        """An encoder finished `name`: its embedding joins the blend, unless it was cleared meanwhile."""
        if name in self._prompt_texts:
            self.style.set_embedding(name, embedding)
            self.changed.add(Change.MIX)

    def clear_prompt(self, name: str, *, shown_with: Change = Change.PROMPTS) -> bool:
        """Remove prompt `name` from the registry and the blend together; False if there was none."""
        if name not in self._prompt_texts:
            return False
        self.style.remove_prompt(name)
        del self._prompt_texts[name]
        self._worded.discard(name)
        self.changed.update((Change.MIX, shown_with))
        return True

    # -- any thread --------------------------------------------------------
    def submit(self, command: Applicable, due: float | None = None, account: str | None = None) -> None:
        """Queue `command` for the frame heard at wall time `due` (None: the next frame), charged
        to `account` (the sender; None: the daemon's own inputs, scenes and MIDI, never refused)."""
        if account is not None:
            with self._held_lock:
                self._held[account] = self._held.get(account, 0) + 1
        self._inbox.append((due, command, account))

    def admit(self, due: float | None, account: str | None = None, *, safer: bool = False,
              grid: tuple[str, int] | None = None) -> None:
        """Raise ScheduleFull when one more command from an untrusted input would pass a bound.

        `account`: the sender, held to MAX_PER_SENDER waiting commands. `safer`: the command
        makes things safer (volume down, mute, notes off, reset, stop): due soon, it is never
        refused for room. `grid`: (unit, count) of an /mrt/at, which must land within the
        horizon at the tempo now, as a timetag must."""
        ahead = 0.0 if due is None else due - time.time()
        if grid is not None:
            ahead += self.clock.frames_for(grid[1], grid[0]) * FRAME_SECONDS
        if ahead > HORIZON_S:
            raise ScheduleFull(f"due {ahead:.0f} s ahead; the schedule reaches {HORIZON_S:.0f} s")
        if safer and ahead <= SAFER_WITHIN_S:
            return
        if len(self._inbox) + len(self._schedule) >= MAX_PENDING:
            raise ScheduleFull(f"the schedule is full ({MAX_PENDING} commands waiting)")
        if account is not None and self._held.get(account, 0) >= MAX_PER_SENDER:
            raise ScheduleFull(f"this sender has {MAX_PER_SENDER} commands waiting already")

    def held(self, account: str) -> int:
        """Commands from `account` submitted and not yet applied."""
        return self._held.get(account, 0)

    def _release(self, account: str) -> None:
        with self._held_lock:
            left = self._held.get(account, 0) - 1
            if left > 0:
                self._held[account] = left
            else:
                self._held.pop(account, None)  # the dict holds only senders with something waiting

    # -- generation thread -------------------------------------------------
    def begin_frame(self, frame: int) -> None:
        """Advance the musical clock, then apply everything due at or before `frame`."""
        if frame > self.frame:
            self.clock.advance()  # the beat at the start of this frame
        self.frame = frame
        if self._glides:
            self._step_glides()
        for _ in range(min(len(self._inbox), MOVED_PER_FRAME)):
            due, command, account = self._inbox.popleft()
            due_frame = frame
            if due is not None and self.frame_of is not None:
                position = self.frame_of(due)
                if math.isfinite(position):
                    due_frame = math.floor(position)
                    if due_frame < frame:
                        self.late += 1
            heapq.heappush(self._schedule, (max(due_frame, frame), next(self._order), command, account))
        if self._schedule and self._schedule[0][0] <= frame:
            self._apply_due(frame)
        if self.feed is not None:
            self.apply_fed(frame, QUEUE)
        clock = self.clock
        clock.bpm = float(self.values["tempo"])
        clock.meter = int(self.values["meter"])
        if math.floor(clock.beat) != self._last_beat:  # a beat starts in this frame: push it
            self._last_beat = math.floor(clock.beat)
            self.changed.add(Change.BEAT)

    def _apply_due(self, frame: int) -> None:
        due_now: list[tuple[Applicable, str | None]] = []
        while self._schedule and self._schedule[0][0] <= frame:
            _, _, command, account = heapq.heappop(self._schedule)
            due_now.append((command, account))
        # Continuous controls: only the last value in this frame counts.
        last: dict[str, int] = {}
        for index, (command, _) in enumerate(due_now):
            if command.coalesce_key is not None:
                last[command.coalesce_key] = index
        listener = self.listener
        for index, (command, account) in enumerate(due_now):
            try:
                key = command.coalesce_key
                if key is not None and last[key] != index:
                    self.coalesced += 1
                    continue
                self._applying = account  # a quantized command queues its inner one for the same sender
                if listener is None:  # inline: the frame's command step costs what it did without a capture
                    command.apply(self)
                else:
                    self._apply_told(command, QUEUE, listener)
                self.applied += 1
            except Exception as exc:  # a command that cannot apply must not stop the music
                self.failed += 1
                log.warning("command %s not applied: %s", type(command).__name__, exc)
            finally:
                self._applying = None
                if account is not None:  # released only now: a re-queued inner command counted first
                    self._release(account)

    def _apply(self, command: Applicable, origin: str = QUEUE) -> None:
        """The one place a command applies (the schedule's, `schedule_in(0)`, `apply_now`, a
        scene's timeline, a replay): applied, then told to the listener."""
        listener = self.listener
        if listener is None:
            command.apply(self)
        else:
            self._apply_told(command, origin, listener)

    def _apply_told(self, command: Applicable, origin: str, listener: Listener) -> None:
        command = command.settled(self)
        try:
            command.apply(self)
        finally:
            if command.recorded:
                listener(self.frame, command, origin)

    def tell(self, command: Applicable, origin: str) -> None:
        """Tell the listener of a change applied elsewhere on the generation thread (the generator
        taking a new engine over), as if it had applied here."""
        if self.listener is not None:
            self.listener(self.frame, command, origin)

    def apply_timeline(self, command: Applicable) -> None:
        """A scene's timeline moved (a timed cue, opening hours): generation thread, after the
        frame's commands, as the timeline always has."""
        self._apply(command, TIMELINE)

    def apply_fed(self, frame: int, origin: str) -> None:
        """A replay: apply what was applied from `origin` on `frame`, each refusal logged and
        counted as it was live (a command that raised then raises again)."""
        assert self.feed is not None
        for command in self.feed.due(frame, origin):
            try:
                self._apply(command, origin)
                self.applied += 1
            except Exception as exc:  # as live: a command that cannot apply must not stop the music
                self.failed += 1
                log.warning("command %s not applied: %s", type(command).__name__, exc)

    def schedule_in(self, frames: int, command: Applicable) -> None:
        """Run `command` `frames` frames from now (generation thread; quantized actions)."""
        if frames <= 0:
            self._apply(command)
        else:
            account = self._applying
            if account is not None:  # still the sender's: it counts against its share until it applies
                with self._held_lock:
                    self._held[account] = self._held.get(account, 0) + 1
            heapq.heappush(self._schedule, (self.frame + frames, next(self._order), command, account))

    def apply_now(self, command: Applicable) -> None:
        """Apply at once (generation thread or before it starts)."""
        self._apply(command)

    def set(self, name: str, value: object) -> None:
        checked = PARAMS[name].coerce(value)
        if self.limits is not None:
            checked = self.limits.clamp(name, checked)
        self._glides.pop(name, None)
        if self.values[name] != checked:
            self.values[name] = checked
            self.changed.add(Change(name))

    def glide(self, name: str, target: float, milliseconds: float) -> None:
        """Move a continuous parameter toward `target`, smoothed with a time constant in ms."""
        target = float(PARAMS[name].coerce(target))
        if milliseconds <= 0:
            self.set(name, target)
            return
        fraction = 1.0 - math.exp(-FRAME_SECONDS * 1000.0 / milliseconds)
        self._glides[name] = (target, fraction)

    def _step_glides(self) -> None:
        for name, (target, fraction) in list(self._glides.items()):
            current = float(self.values[name])
            value = current + (target - current) * fraction
            if abs(target - value) < 1e-4 * (1.0 + abs(target)):
                value = target
            if PARAMS[name].kind is int:
                value = round(value)
            self.set(name, value)  # ends the glide...
            if value != target:
                self._glides[name] = (target, fraction)  # ...unless it has further to go

    def crossfade(self, target: dict[str, float], frames: int, curve: str = "linear", elapsed: int = 0) -> None:
        """The one way a mix changes over time; the limits' minimum fade applies. `elapsed`:
        frames of it already gone (a scene on the clock starting mid-fade)."""
        if self.limits is not None:
            frames = max(frames, self.limits.fade_frames)
        self.style.crossfade_to(target, frames, curve, elapsed)
        self.changed.add(Change.MIX)

    def set_weight(self, name: str, weight: float) -> None:
        if self.limits is not None and self.limits.fade_frames > 0:
            target = dict(self.style.weights())
            target[name] = weight
            self.crossfade(target, 0)
        else:
            self.style.set_weight(name, weight)
            self.changed.add(Change.MIX)

    def set_xy(self, x: float, y: float) -> None:
        before = dict(self.style.weights())
        self.style.set_xy(x, y)
        if self.limits is not None and self.limits.fade_frames > 0:
            after = dict(self.style.weights())
            self.style.crossfade_to(before, 0)  # back where we were, then fade gently
            self.crossfade(after, 0)
        self.xy = (x, y)
        self.changed.update((Change.XY, Change.MIX))

    def rest(self, resting: bool, fade_frames: int, by_hours: bool = False) -> None:
        """Fade the output out and let the engine rest (True), or wake and fade in (False);
        `by_hours`: asked for by a scene's opening hours, not by hand (/mrt/stop)."""
        self.rest_wanted = resting
        self.rest_fade_frames = max(1, fade_frames)
        self.rest_by_hours = resting and by_hours

    def request_reset(self, at_once: bool = False) -> None:
        self._reset_pending = True  # the engine hears it in the next frame's conditioning
        self._reset_at_once = self._reset_at_once or at_once

    def take_changes(self) -> "builtins.set[Change]":  # `set` alone is the method above, here
        changed, self.changed = self.changed, set()
        return changed

    def frame_conditioning(self) -> Conditioning:
        """A fresh Conditioning for the frame being built (engines may keep a reference)."""
        v = self.values
        embedding, tokens = self.style.advance()
        conditioning = Conditioning(
            style_embedding=embedding.copy(),
            style_tokens=tokens.copy(),
            notes=self.notes.frame_slots(int(v["unmask"]), int(v["onset_mode"])).copy(),
            drums=int(v["drums"]),
            cfg_style=float(v["cfg_style"]),
            cfg_notes=float(v["cfg_notes"]),
            cfg_drums=float(v["cfg_drums"]),
            temperature=float(v["temperature"]),
            top_k=int(v["top_k"]),
            seed=int(v["seed"]),
            reset=self._reset_pending,
            bpm=self.clock.bpm,
            beat=self.clock.beat,
        )
        self.reset_at_once = self._reset_pending and self._reset_at_once  # for this frame (the generator reads it)
        self._reset_pending = self._reset_at_once = False
        return conditioning

    def pending(self) -> int:
        return len(self._inbox) + len(self._schedule)


class Controls:
    """What an input may do with the control state from its own thread, and nothing more.

    It queues commands (once the schedule's bounds admit them) and reads what a command is
    checked against: the prompt names, the style space's axes and surface, the safety limits,
    the parameters' values, the frame. Every read is a value the generation thread replaces
    whole, or a read-only view; nothing here writes the state, so an input holding this cannot
    change the music except by a command the generation thread applies at a frame boundary.
    The composition root builds it around the one ControlState and hands it to the inputs."""

    __slots__ = ("_state",)

    def __init__(self, state: ControlState) -> None:
        self._state = state

    def admit(self, due: float | None, account: str | None = None, *, safer: bool = False,
              grid: tuple[str, int] | None = None) -> None:
        """Raise ScheduleFull when one more command from an untrusted input would pass a bound
        (the schedule's room, `account`'s share of it, the horizon; see ControlState.admit)."""
        self._state.admit(due, account, safer=safer, grid=grid)

    def submit(self, command: Applicable, due: float | None = None, account: str | None = None) -> None:
        """Queue `command` for the frame heard at wall time `due` (None: the next frame)."""
        self._state.submit(command, due, account)

    def prompt_names(self) -> list[str]:
        """The prompts defined now, in the order they were defined."""
        prompts = self._state.prompt_texts
        for _ in range(3):
            try:
                return list(prompts)  # written by the generation thread: retry if it moved under us
            except RuntimeError:
                continue
        return []

    def has_axis(self, axis: int | str) -> bool:
        return self._state.style.has_axis(axis)

    @property
    def has_surface(self) -> bool:
        """Whether a prompt has a position on the 2-D surface (/mrt/xy has something to move over)."""
        return self._state.style.has_surface

    def clamp(self, name: str, value: float | int | bool) -> float | int | bool:
        """`value` as the safety limits in force would apply it (unchanged without limits)."""
        limits = self._state.limits  # a scene replaces the Limits whole: one read sees one of them
        return value if limits is None else limits.clamp(name, value)

    @property
    def values(self) -> Mapping[str, float | int | bool]:
        """The parameters now (a read-only view: tempo for a cue's fade, tempo and meter for Link)."""
        return MappingProxyType(self._state.values)

    @property
    def frame(self) -> int:
        """The frame being built."""
        return self._state.frame
