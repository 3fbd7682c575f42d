"""Plays a scene: installs its prompts and limits, and runs its cue list.

`prepare_scene` runs off the generation thread (it encodes prompts, which can
take a while). Everything on `ScenePlayer` runs on the generation thread, at
frame boundaries, through commands: the timeline says which cue is `due` in a
frame, and the scene host applies it as a command, so a scene compiles to
timed commands on the control state's one timeline.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol

import numpy as np

from mrtd.control.state import MAX_PROMPTS, ControlState, Limits
from mrtd.core.banks import StateBanks
from mrtd.frame import FRAME_SECONDS, FRAMES_PER_SECOND
from mrtd.core.scene.loader import referenced_file
from mrtd.core.scene.schema import BARS_BEATS, Cue, Scene, is_clock_time
from mrtd.core.scene.wallclock import DAYS, Daily, DailySchedule, OpeningHours, Occurrence, parse_clock_time, zone
from mrtd.style.pca import PCAFile, load_pca
from mrtd.vocabulary.changes import Change

log = logging.getLogger(__name__)

Embed = Callable[[str], np.ndarray]  # text -> embedding
# Frame -> the wall-clock time (epoch seconds) at which that frame starts to be heard: live, through
# the output's clock (core/scenes.py's WallFrames); offline, a start time plus 40 ms a frame.
WallAt = Callable[[int], float]
EmbedAudio = Callable[[str], np.ndarray]  # audio file path -> embedding


@dataclass(frozen=True)
class PreparedScene:
    """A validated scene with every prompt's embedding ready: installing it is instant."""

    scene: Scene
    path: Path
    embeddings: dict[str, np.ndarray]
    pca: PCAFile | None = None  # read here, off the generation thread, so installing does no I/O
    text: str = ""  # the file as it was read: a capture keeps it, so a replay installs the same scene

    @property
    def name(self) -> str:
        return self.scene.name or self.path.stem


def prepare_scene(scene: Scene, path: Path, embed_text: Embed, embed_audio: EmbedAudio | None = None,
                  audio_folders: tuple[str | Path, ...] = (), text: str = "") -> PreparedScene:
    """Encode every prompt and read the PCA file. Files named by the scene are found as the
    loader checked them (inside the scene's folder or `audio_folders`), never by a plain join;
    an audio prompt this embedder cannot take, or a file it cannot read, is a ValueError, as
    `mrtd check` says."""
    from mrtd.core.scene.audio_refs import audio_prompt_report

    check_prompt_count(scene)  # before encoding any of them
    errors, warnings = audio_prompt_report(scene, path, audio_folders, takes_audio=embed_audio is not None)
    if errors:
        raise ValueError("; ".join(errors))
    for warning in warnings:  # the lines `mrtd check` prints for this scene
        log.warning("%s", warning)
    embeddings: dict[str, np.ndarray] = {}
    for name, prompt in scene.prompts.items():
        if prompt.embedding is not None:
            embeddings[name] = np.asarray(prompt.embedding, dtype=np.float32)
        elif prompt.text is not None:
            embeddings[name] = embed_text(prompt.text)
        else:
            assert embed_audio is not None  # audio_prompt_report refused it otherwise
            embeddings[name] = embed_audio(str(referenced_file(path, str(prompt.audio), audio_folders)))
    pca = load_pca(referenced_file(path, scene.pca)) if scene.pca else None
    return PreparedScene(scene, path, embeddings, pca, text)


def check_prompt_count(scene: Scene) -> None:
    """ValueError if the scene has more prompts than OSC allows at once. The schema refuses such
    a file; this holds for a `Scene` built any other way (model_construct, a future input)."""
    if len(scene.prompts) > MAX_PROMPTS:
        raise ValueError(f"a scene has at most {MAX_PROMPTS} prompts (as many as OSC allows at once), not {len(scene.prompts)}")


def find_cue(scene: Scene, which: str, scene_name: str) -> int:
    """The index of cue `which` (a name, or a 1-based number); ValueError if the scene has none."""
    for index, cue in enumerate(scene.cues):
        if cue.name == which:
            return index
    if which.isdigit() and 1 <= int(which) <= len(scene.cues):
        return int(which) - 1
    shown = which if len(which) <= 40 else which[:37] + "..."
    raise ValueError(f"no cue {shown!r} in scene {scene_name!r}")


class Timing(Protocol):
    """What a cue's time needs: the parameters now (the state, or an input's read-only Controls)."""

    @property
    def values(self) -> Mapping[str, float | int | bool]: ...


def seconds_per_beat(state: Timing) -> float:
    return 60.0 / float(state.values["tempo"])


def cue_label(cue: Cue, index: int) -> str:
    return cue.name or str(index + 1)


def hours_of(scene: Scene) -> OpeningHours | None:
    if scene.hours is None:
        return None
    days = frozenset(DAYS.index(d) for d in scene.hours.days or [])
    return OpeningHours(parse_clock_time(scene.hours.open) or 0, parse_clock_time(scene.hours.close) or 0, days)


class SceneClock:
    """A scene's cues and opening hours on the wall clock: which cue is due in which frame.

    A cue fires in the frame whose audio is heard at its time: frame F is heard over
    [wall_at(F), wall_at(F) + 40 ms), so a cue at T fires in the first frame whose end is past T.
    The next occurrence is kept, so a frame costs one comparison; a cue is fired only past the
    last instant already handled, so a clock stepped back (NTP) never fires one twice, and a clock
    stepped forward fires the last cue passed (as a timeline jump does)."""

    def __init__(self, scene: Scene, wall_at: WallAt) -> None:
        self.tz = zone(scene.timezone)
        self.wall_at = wall_at
        self.cues = [i for i, cue in enumerate(scene.cues) if is_clock_time(cue.at)]
        self.schedule = DailySchedule(
            [Daily(parse_clock_time(str(scene.cues[i].at)) or 0, frozenset(DAYS.index(d) for d in scene.cues[i].days or []))
             for i in self.cues], self.tz)
        self.hours = hours_of(scene)
        self.hours_fade_s = scene.hours.fade if scene.hours is not None else 0.0
        self._handled = float("-inf")  # occurrences up to here are done
        self._next: Occurrence | None = None
        self._next_hours: float | None = None

    def start(self, frame: int, now: float | None = None) -> tuple[Occurrence | None, float]:
        """Stand at `frame`, heard at wall time `now` (None: as `wall_at` says): the occurrence that
        should have fired last (None: none in the week before) and that time. Nothing up to now
        fires again."""
        now = self.wall_at(frame) if now is None else now
        self._handled = now
        self._next = self.schedule.next_after(now)
        self._next_hours = self.hours.next_change(now, self.tz) if self.hours is not None else None
        return self.schedule.last_at_or_before(now), now

    def due(self, frame: int) -> tuple[Occurrence | None, bool | None]:
        """(the cue occurrence to fire in `frame`, or None; True/False when the hours close/open
        in it, else None)."""
        end = self.wall_at(frame) + FRAME_SECONDS
        fire, hours = None, None
        next_cue, next_hours = self._next, self._next_hours
        if next_cue is not None and next_cue.at < end:
            last = self.schedule.last_at_or_before(end - 1e-6)
            if last is not None and last.at > self._handled:
                fire = last
            self._next = self.schedule.next_after(max(end - 1e-6, self._handled))
        if next_hours is not None and next_hours < end and self.hours is not None:
            hours = not self.hours.is_open(end - 1e-6, self.tz)
            self._next_hours = self.hours.next_change(end - 1e-6, self.tz)
        if end > self._handled:
            self._handled = end - 1e-6
        return fire, hours

    def describe_hours(self, now: float) -> str:
        return self.hours.describe(now, self.tz) if self.hours is not None else ""


class ScenePlayer:
    def __init__(self, prepared: PreparedScene, wall_at: WallAt | None = None) -> None:
        """`wall_at`: the wall time each frame is heard at, for a scene on the clock (default:
        the machine's clock now, for whichever frame: good enough where nothing is buffered)."""
        import time

        self.prepared = prepared
        self.scene = prepared.scene
        on_clock = self.scene.on_the_clock or self.scene.hours is not None
        self.clock = SceneClock(self.scene, wall_at or (lambda _frame: time.time())) if on_clock else None
        self.start_frame = 0
        self.current: int | None = None  # index of the cue last fired
        self._timeline: list[tuple[int, int]] = []  # (frame offset, cue index), timed cues only
        self._next_timed = 0
        self._loop_frames: int | None = None
        self._loop_count = 0
        self.fired: deque[tuple[int, str]] = deque(maxlen=10_000)  # (frame, cue): what played when
        self.fires = 0  # cues fired so far (`fired` keeps the last 10,000)

    # -- installing ------------------------------------------------------------
    def install(self, state: ControlState, frame: int, keep_mix: bool = False, previous: "ScenePlayer | None" = None,
                position: int | None = None, heard_at: float | None = None) -> None:
        """Make this scene the one playing, from `frame`. With keep_mix the sound does not jump:
        the current mix stays and the music crossfades to the current cue's mix.

        `previous` (a hot reload of the same file): keep its cue, when a cue of that name (or,
        unnamed, that number) still exists, and its place on the timeline, so saving the file
        (a comment, a new mapping) does not send the music back to the first cue.

        `position` (a restart from the journal): start that many frames into the timeline,
        firing nothing; the journal's resume then stands on the cue it names.

        `heard_at`: the wall time `frame` is heard at, for a scene on the clock (None: ask the
        player's `wall_at`); a capture keeps it, so a replay starts the scene where it started."""
        scene = self.scene
        check_prompt_count(scene)  # before anything changes: a refused scene leaves the playing one whole
        style = state.style
        # Through the state's prompt registry, which changes the blend in the same step; the
        # scene's push shows its prompts after its name (Change.SCENE).
        for name in list(state.prompt_texts):
            if name not in scene.prompts:
                state.clear_prompt(name, shown_with=Change.SCENE)
        weights_now = style.weights() if keep_mix else {}
        for name, prompt in scene.prompts.items():
            weight = weights_now.get(name, prompt.weight if not keep_mix else 0.0)
            state.define_prompt(name, prompt.text or prompt.audio or "(embedding)", self.prepared.embeddings[name],
                                weight=weight, position=prompt.position, shown_with=Change.SCENE,
                                words=prompt.text is not None)
        if self.prepared.pca is not None:
            style.apply_pca(self.prepared.pca)
        for name, axis in scene.axes.items():
            style.define_axis(name, axis.from_, axis.to)
        style.idw_power = scene.surface_power
        state.limits = None if scene.limits is None else Limits(scene.limits.volume_max, scene.limits.fade_min, scene.limits.params)
        if scene.tempo is not None:
            state.set("tempo", scene.tempo)
        for name, value in scene.defaults.items():
            state.set(name, value)
        if state.limits is not None:
            state.set("volume", state.values["volume"])  # bring it under the ceiling now
        state.scene = self.prepared.name
        state.changed.update((Change.SCENE, Change.MIX))
        self.start_frame = previous.start_frame if previous is not None else frame
        self._build_timeline(state)
        if self.clock is None and state.rest_by_hours:  # the scene that closed is gone: wake up
            state.rest(False, round(3.0 * FRAMES_PER_SECOND))
        if self.clock is not None:
            self._start_on_clock(state, frame, previous, heard_at)
        elif previous is not None:
            self._resume(state, frame, previous)
        elif position is not None:
            self.current = None
            self.place(frame, position)
        elif keep_mix and self.current is not None:
            self.fire(state, min(self.current, len(scene.cues) - 1))
        else:
            self.current = None
            first, _ = self.due(frame)  # a cue at 0 fires as the scene installs, part of installing it
            if first is not None:
                self.fire(state, first)

    def _start_on_clock(self, state: ControlState, frame: int, previous: "ScenePlayer | None",
                        heard_at: float | None = None) -> None:
        """A scene on the clock starts where the clock says, whatever started it (a boot, a
        restart, a reload, a load over OSC): the last cue that should have fired, with its fade
        as far along as the time says, from the mix of the cue before it. A journal's position
        counts for nothing here: the wall clock is the timeline."""
        clock = self.clock
        assert clock is not None
        last, now = clock.start(frame, heard_at)
        if clock.hours is not None:  # closed at start: silent from the first frame; a reload fades
            fade = 1 if previous is None else round(clock.hours_fade_s * FRAMES_PER_SECOND)
            state.rest(not clock.hours.is_open(now, clock.tz), fade, by_hours=True)
        elif state.rest_by_hours:
            state.rest(False, round(3.0 * FRAMES_PER_SECOND))
        if previous is not None and previous.current is not None and last is not None \
                and clock.cues[last.index] == previous.current and self.scene.cues[previous.current] == previous.scene.cues[previous.current]:
            self.current = previous.current  # a reload that left the playing cue as it was: no jump
            state.cue = cue_label(self.scene.cues[self.current], self.current)
            return
        self.current = None
        if last is None:
            return
        before = clock.schedule.previous(last)
        for _ in range(len(clock.cues)):  # the latest cue before it with a mix: where its fade began
            if before is None or self.scene.cues[clock.cues[before.index]].mix is not None:
                break
            before = clock.schedule.previous(before)
        if previous is not None:  # a reload that changed the cue: fade there from what plays now
            self.fire(state, clock.cues[last.index])
            return
        if before is not None:
            mix = self.scene.cues[clock.cues[before.index]].mix
            state.style.crossfade_to(dict(mix or {}), 0)
        self.fire(state, clock.cues[last.index], elapsed_s=now - last.at)

    def hours_text(self, now: float) -> str:
        """"open until 18:00", "closed until Mon 10:00", or "" without opening hours."""
        return self.clock.describe_hours(now) if self.clock is not None else ""

    def position(self, frame: int) -> int:
        """Frames into the timeline's current lap at `frame`: where the cue list stands."""
        elapsed = frame - self.start_frame
        return elapsed % self._loop_frames if self._loop_frames is not None else elapsed

    def place(self, frame: int, position: int) -> None:
        """Stand `position` frames into the timeline at `frame`, without firing the cues passed."""
        self.start_frame = frame - position
        self._place(frame)

    def stand_on(self, state: ControlState, cue: str, keep_place: bool = True) -> None:
        """A restart: stand on `cue` again without replaying its fade (the place in the timeline
        came with `install(position=...)`). `keep_place=False`: the scene was edited since, so
        that place is moved into the cue's own span of the timeline (a timed cue's next cue fires
        when the edited scene says, and a cue passed is not fired again)."""
        try:
            self.current = self.find(cue)
        except ValueError:
            log.warning("journal: cue %s is not in %s any more", cue, self.prepared.name)
            return
        if not keep_place:
            self._into_span(state.frame, self.current)
        state.cue = cue
        state.changed.add(Change.CUE)

    def _into_span(self, frame: int, index: int) -> None:
        """Move the place at `frame` between cue `index`'s time and the next timed cue's."""
        offsets = [offset for offset, i in self._timeline if i == index]
        if not offsets:
            return  # an untimed cue: any place on the timeline may stand on it
        start = offsets[0]
        later = [offset for offset, _ in self._timeline if offset > start]
        position = max(start, self.position(frame))
        if later:
            position = min(position, later[0] - 1)
        self.place(frame, position)

    def _place(self, frame: int) -> None:
        elapsed = frame - self.start_frame
        if self._loop_frames is not None:
            self._loop_count = elapsed // self._loop_frames
            elapsed -= self._loop_count * self._loop_frames
        self._next_timed = sum(1 for offset, _ in self._timeline if offset <= elapsed)  # passed already

    def _resume(self, state: ControlState, frame: int, previous: "ScenePlayer") -> None:
        self._place(frame)
        if previous.current is None:
            self.current = None
            return
        old = previous.scene.cues[previous.current]
        index = None
        if old.name is not None:
            index = next((i for i, cue in enumerate(self.scene.cues) if cue.name == old.name), None)
        elif previous.current < len(self.scene.cues) and self.scene.cues[previous.current].name is None:
            index = previous.current
        if index is None:  # that cue is gone: the nearest by position
            if self.scene.cues:
                self.fire(state, min(previous.current, len(self.scene.cues) - 1))
            return
        self.current = index
        state.cue = cue_label(self.scene.cues[index], index)
        if self.scene.cues[index] != old:  # edited: go to what it says now
            self.fire(state, index)

    def _build_timeline(self, state: ControlState) -> None:
        timeline = []
        for index, cue in enumerate(self.scene.cues):
            at = self.cue_seconds(cue, state)
            if at is not None:
                timeline.append((round(at * FRAMES_PER_SECOND), index))
        timeline.sort()
        self._timeline = timeline
        self._next_timed = 0
        self._loop_count = 0
        if self.scene.loop and timeline:
            length = self.scene.length
            if length is None:
                offset, index = timeline[-1]
                length = offset / FRAMES_PER_SECOND + self.fade_seconds(self.scene.cues[index], state) + 1.0
            self._loop_frames = max(1, round(length * FRAMES_PER_SECOND))
        else:
            self._loop_frames = None

    def cue_seconds(self, cue: Cue, state: Timing) -> float | None:
        """Seconds into the timeline; None for a manual cue or one on the clock (SceneClock's)."""
        if cue.at is None or is_clock_time(cue.at):
            return None
        if isinstance(cue.at, str):
            bar, beat = BARS_BEATS.match(cue.at).groups()  # type: ignore[union-attr]
            beats = (int(bar) - 1) * self.scene.meter + (float(beat) - 1.0)
            return beats * seconds_per_beat(state)
        return float(cue.at)

    def fade_seconds(self, cue: Cue, state: Timing) -> float:
        fade = cue.fade
        if fade.beats is not None:
            return fade.beats * seconds_per_beat(state)
        if fade.bars is not None:
            return fade.bars * self.scene.meter * seconds_per_beat(state)
        return fade.seconds or 0.0

    # -- every frame -----------------------------------------------------------
    def due(self, frame: int) -> tuple[int | None, bool | None]:
        """What the timeline says at `frame`: the cue to fire (None: none), and True/False when the
        opening hours close/open in it (None: neither). The host applies them as commands (a
        `FireCue`, a `Rest` by the hours), so a capture holds them and a replay needs no timeline."""
        if self.clock is not None:
            occurrence, closing = self.clock.due(frame)
            return (self.clock.cues[occurrence.index] if occurrence is not None else None), closing
        if not self._timeline:
            return None, None
        elapsed = frame - self.start_frame
        if self._loop_frames is not None:
            laps = elapsed // self._loop_frames
            if laps > self._loop_count:  # a new lap: the timeline starts again
                self._loop_count = laps
                self._next_timed = 0
            elapsed -= laps * self._loop_frames
        due = None
        while self._next_timed < len(self._timeline) and self._timeline[self._next_timed][0] <= elapsed:
            due = self._timeline[self._next_timed][1]
            self._next_timed += 1
        return due, None  # several due at once (a jump): the last one is where we are

    # -- go, next, previous ----------------------------------------------------
    def go(self, state: ControlState, which: str | None) -> None:
        """`which`: a cue name or 1-based number, "next", "previous", or None/"go" for the next."""
        cues = self.scene.cues
        if not cues:
            raise ValueError("this scene has no cues")
        if which in (None, "go", "next"):
            index = 0 if self.current is None else self.current + 1
            if index >= len(cues):
                if not self.scene.loop:
                    return  # the end of the list: stay on the last cue
                index = 0
        elif which == "previous":
            index = max(0, (self.current or 0) - 1)
        else:
            index = self.find(which)
        self.fire(state, index)

    def find(self, which: str) -> int:
        return find_cue(self.scene, which, self.prepared.name)

    def fire(self, state: ControlState, index: int, elapsed_s: float = 0.0) -> None:
        """Fire cue `index`; `elapsed_s`: its fade began that long ago (a clocked scene's start)."""
        cue = self.scene.cues[index]
        self.current = index
        state.cue = cue_label(cue, index)
        state.changed.add(Change.CUE)
        self.fired.append((state.frame, state.cue))
        self.fires += 1
        if cue.mix is not None:
            frames = round(self.fade_seconds(cue, state) * FRAMES_PER_SECOND)
            state.crossfade(dict(cue.mix), frames, cue.fade.curve, elapsed=round(elapsed_s * FRAMES_PER_SECOND))
        for name, value in cue.set.items():
            state.set(name, value)
        log.info("cue %s (%s)", state.cue, self.prepared.name)
        if cue.state is not None:
            self._load_bank(state, cue.state)

    def _load_bank(self, state: ControlState, bank: int | str) -> None:
        """A cue's `state:`: asks the state banks for the load (they read the file off this thread)."""
        if state.feed is not None:
            return  # a replay: the load the cue asked for is in the capture (SwapEngine's bank)
        banks = state.hosts.get(StateBanks)
        if isinstance(banks, StateBanks):
            banks.load_for_cue(bank, state.cue or "")
        else:
            log.warning("cue %s: bank %s not loaded: no state banks here (a render plays without them)", state.cue, bank)

    def cue_names(self) -> list[str]:
        return [cue_label(c, i) for i, c in enumerate(self.scene.cues)]
