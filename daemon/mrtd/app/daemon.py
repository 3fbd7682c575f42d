"""The composition root: the only module that imports every layer.

Parts start in the order they depend on each other: the engine, the generator and its
sinks, what shapes frame 0 (MIDI, scenes, the web page), the runner, the clock master,
then what needs the music flowing (journal, device watch, Link) and the workers and OSC.
Each part start() starts leaves its stop on a list and stop() runs the list backwards
(mopidy style), so nothing runs against a part that is gone, and a start that failed
half-way stops exactly what it had started. The engine closes last, whatever start reached.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from mrtd.app.chain import AudioChain
from mrtd.audio.supervise import DeviceSupervisor
from mrtd.audio.outputs import DEFAULT_LATENCY, DeviceOptions, DeviceOutput, LatencyPreset, Output, parse_latency
from mrtd.audio.routing import ChannelMap
from mrtd.audio.playout import Playout
from mrtd.audio.recorder import RecordLimits, Recorder
from mrtd.feedback import snapshot
from mrtd.feedback.push import Pusher
from mrtd.inputs.midi_clock import MidiClock
from mrtd.inputs.osc.dialect import Dialects, DirtConfig
from mrtd.inputs.osc.server import OscConfig, OscServer
from mrtd.inputs.web.config import WebConfig
from mrtd.audio.clock import FrameClock
from mrtd.app.engine_choice import choose_live_engine, model_source_of, source_words, verdict_word
from mrtd.app.discovery import Advertisement, advertise
from mrtd.app.journal import Fit, Journal, MusicState, capture, file_digest, fit_to_scene, resume_action
from mrtd.app.midi_host import MidiHost
from mrtd.app.scenes import SceneHost, WallFrames
from mrtd.inputs.scene.isolated import SceneParser
from mrtd.app.surface import Services, Surface
from mrtd.app.systemd import Notifier, Progress
from mrtd.inputs.scene.loader import SceneError
from mrtd.control.commands import Call, ClearPrompt, DefinePrompt, PromptReady
from mrtd.control.state import Controls, ControlState
from mrtd.style.cache import CachedEmbedder, EmbeddingCache
from mrtd.app.style_choice import StyleChoice, choose_style
from mrtd.style.encoder import EncoderWorker
from mrtd.engines import BaseEngine, create_engine
from mrtd.engines.mrt2 import ENCODER_INPUT_SAMPLES, ModelError, Mrt2Engine
from mrtd.frame import FRAME_SECONDS, SAMPLE_RATE
from mrtd.style.audio_prompt import AudioNeeds, probe_audio_file
from mrtd.style.audio_reader import read_audio_isolated
from mrtd.runtime.generator import Generator
from mrtd.runtime.runner import Runner
from mrtd.lifecycle import freeze_heap, raise_priority, restore_priority, short_gil_turns, spawn, thaw_heap
from mrtd.vocabulary.changes import Change
from mrtd.vocabulary.params import PARAMS
from mrtd.vocabulary.values import text

if TYPE_CHECKING:
    from mrtd.inputs.link import LinkFollower
    from mrtd.inputs.web.server import WebServer

log = logging.getLogger("mrtd")

TEMPO_SOURCES = ("internal", "midi", "link")
# What a prefill reads of an audio file: the encoder's 28 s, 48 kHz stereo; the reader stops there.
PREFILL_AUDIO_NEEDS = AudioNeeds(ENCODER_INPUT_SAMPLES / SAMPLE_RATE, channels=2, rate=SAMPLE_RATE)
MAX_LEAD_FRAMES = 250  # lead_frames (a margin of that many frames) up to 10 s: past any use
HEALTH_LOOK_S = 1.0  # /health judges at most once a second; checks closer together get that answer


@dataclass
class DaemonConfig:
    engine: Literal["auto", "synth", "mrt2"] = "auto"
    model: str | None = None
    output: str = "default"
    lead_frames: int | None = None  # old form of the margin: N frames of 40 ms (1-250); set, it wins over latency's margin
    prompt: str | None = None
    seed: int = 0
    fallback_engine: Literal["synth", "mrt2"] | None = "synth"  # used when the chosen model cannot load; None: fail instead
    keep_warm: bool = False  # mrt2: keep the GPU busy between frames
    allow_slow: bool = False  # play a model live even when its warm-up step exceeds the frame budget
    fault_limit: int = 3  # failed frames in a row before switching to the fallback engine
    state_dir: str | None = None  # where the state journal lives; None: no journal
    resume: bool = True  # start where the journal says, fading in (False: start fresh)
    discovery: bool = False  # advertise the OSC port over mDNS (zeroconf extra)
    osc: OscConfig | None = field(default_factory=OscConfig)  # None: no OSC
    web: WebConfig | None = None  # the web control surface (`mrtd run` serves it by default); None: none
    dirt: DirtConfig = field(default_factory=DirtConfig)  # what /dirt/play events mean (docs/osc.md, Dialects)
    scene_dir: str = "scenes"
    record_dir: str = "recordings"
    record_min_free_mb: float = 500.0  # no take starts, and a take stops, with less free on the recordings' disk (room for the journal)
    record_max_s: float | None = None  # a take stops by itself after this many seconds; None: only a stop, the floor or a full disk
    audio_dir: str = "audio"  # audio files /mrt/prefill may read
    cache_dir: str | None = None  # embedding cache; None: the user cache folder
    musiccoca_dir: str | None = None  # MusicCoCa's files; None: $MAGENTA_HOME/magenta-rt-v2/resources/musiccoca
    style_embedder: Literal["auto", "musiccoca", "builtin"] = "auto"  # auto: MusicCoCa when its files and extra are there
    scene: str | None = None  # a scene file to play (and watch for changes)
    midi: bool = True  # MIDI input (a virtual `mrtd` port, plus midi_ports); off by itself where unavailable
    midi_ports: list[str] = field(default_factory=list)  # name substrings of ports to open
    # Audio output (docs/audio.md). `output` is the first output; `outputs` adds sinks beside it.
    outputs: list[str] = field(default_factory=list)  # e.g. wav:take.wav, flac:take.flac, pipe:-
    channels: str | None = None  # 1-based device channels for the stereo pair, "3,4" (one with mono)
    mono: bool = False  # fold to mono for a single speaker
    device_channels: int | None = None  # channels to open the device with (default: the highest routed)
    device_rate: int | None = None  # None: 48 kHz if the device takes it, else its own rate, resampled
    device_latency: str | float | None = None  # PortAudio's suggested latency: low, high or seconds; null: the latency preset's
    latency: str | float = DEFAULT_LATENCY  # low | balanced | safe, or a margin in ms (e.g. 15): audio kept ahead beyond a step (docs/audio.md)
    jack_ports: list[str] = field(default_factory=list)  # JACK ports for the routed channels, in order
    tempo_source: Literal["internal", "midi", "link"] = "internal"  # internal (scenes, OSC, Tidal) | midi (MIDI clock in) | link (Ableton Link)

    def __post_init__(self) -> None:
        # Checked here, where `mrtd run` and `mrtd check` both build the config: a value the
        # daemon would die on later (lead_frames 1e8 allocated 1.4 TiB) is refused before anything starts.
        if self.lead_frames is not None and (isinstance(self.lead_frames, bool) or not isinstance(self.lead_frames, int)
                                             or not 1 <= self.lead_frames <= MAX_LEAD_FRAMES):
            raise ValueError(f"lead_frames lies in 1-{MAX_LEAD_FRAMES} frames of 40 ms, got {self.lead_frames!r}")
        parse_latency(self.latency)  # a preset's name or a margin in ms, else one clear line
        self.seed = int(PARAMS["seed"].coerce(self.seed))
        if not 1 <= self.fault_limit <= 1000:
            raise ValueError(f"fault_limit lies in 1-1000 failed frames, got {self.fault_limit}")
        if self.prompt is not None:
            text(self.prompt, "prompt")  # the vocabulary's rule, as /mrt/prompt's
        if not 0 <= self.record_min_free_mb < 1e9:
            raise ValueError(f"record_min_free_mb must be 0 or more MB, got {self.record_min_free_mb}")
        if self.record_max_s is not None and not 0 < self.record_max_s <= 366 * 86_400:
            raise ValueError(f"record_max_s must be a number of seconds above 0 (up to a year), got {self.record_max_s}")
        if self.tempo_source not in TEMPO_SOURCES:
            raise ValueError(f"unknown tempo source {self.tempo_source!r}; use {', '.join(TEMPO_SOURCES)}")

    @property
    def latency_preset(self) -> LatencyPreset:
        return parse_latency(self.latency)

    @property
    def margin_s(self) -> float:
        """The pacing's margin: `lead_frames` frames when set (the old form), else the latency's."""
        if self.lead_frames is not None:
            return self.lead_frames * FRAME_SECONDS
        return self.latency_preset.margin_ms / 1000.0

    def device_options(self) -> DeviceOptions:
        return DeviceOptions(
            channel_map=ChannelMap.parse(self.channels, self.mono, self.device_channels),
            sample_rate=self.device_rate,
            latency=self.device_latency if self.device_latency is not None else self.latency_preset.device_latency,
            jack_ports=list(self.jack_ports),
        )


class Daemon:
    def __init__(self, config: DaemonConfig, engine: BaseEngine | None = None, output: Output | None = None,
                 style: StyleChoice | None = None, wall_clock: Callable[[], float] | None = None) -> None:
        """`engine`, `output` and `style` inject ready-made parts instead of building them from `config`;
        `wall_clock` (epoch seconds, default `time.time`) is the clock scenes on the clock play by."""
        self.config = config
        self.wall_clock: Callable[[], float] = wall_clock or time.time
        self.wall_frames = WallFrames(self.wall_clock)
        self.engine: BaseEngine | None = engine
        self._injected_output = output
        # The one place the embedder/quantizer pair is chosen; control and style get it handed down.
        self.style = style if style is not None else choose_style(config.musiccoca_dir, want=config.style_embedder)
        self.control = ControlState(self.style.new_space())
        self.controls = Controls(self.control)  # all an input holds of it: commands in, read-only facts out
        self.journal: Journal | None = None
        self.notifier = Notifier()
        self.advertisement: Advertisement | None = None
        self.generator: Generator[ControlState, BaseEngine] | None = None
        self.playout: Playout | None = None
        self.runner: Runner | None = None
        self.device_watch: DeviceSupervisor | None = None
        self.audio: AudioChain | None = None
        self.osc: OscServer | None = None
        self.web: WebServer | None = None  # when serving the page
        self.pusher = Pusher()
        self.recorder = Recorder(RecordLimits(round(config.record_min_free_mb * 1e6), config.record_max_s))
        self.embedder = CachedEmbedder(self.style.embedder, EmbeddingCache(config.cache_dir))
        # Following an outside tempo: MIDI clock is fed by the MIDI input; Link polls its session.
        self.midi_clock = MidiClock() if config.tempo_source == "midi" else None
        self.scenes = SceneHost(self.control, self.embedder, scene_dir=config.scene_dir, audio_dir=config.audio_dir,
                                publish=self.pusher.publish, parser=SceneParser(), wall_at=self.wall_frames)
        self.midi = MidiHost(self.controls, self.scenes, self.pusher.publish, self.midi_clock)
        self.encoder = EncoderWorker(self.embedder, self._prompt_ready, self._prompt_failed)
        self.snapshot: dict[str, list[Any]] = {}  # published by the generation thread, read by anyone
        self.dialects = Dialects(config.dirt, lambda: self.snapshot.get("/mrt/prompts", [])[::2], lambda: self.control.clock.bpm)
        self._last_weights: dict[str, float] = {}
        self.stopped = threading.Event()
        self.engine_error = ""
        self._last_error_at: float | None = None  # monotonic time of the last engine fault (device losses: device_watch)
        self.health: Progress | None = None  # /health's judge, once the music flows
        self._style_warned = False  # the mrt2-without-MusicCoCa warning is logged once per run
        self.engine_note = ""  # why the engine plays although slow, or why auto did not pick the model
        self.link: "LinkFollower | None" = None
        self._caller_nice: int | None = None  # the starting thread's nice before start raised it
        self._caller_thread = 0
        # What start() has started, in order, as (name, stop); stop() runs it newest first.
        self._stops: list[tuple[str, Callable[[], object]]] = []

    def _started(self, name: str, stop: Callable[[], object]) -> None:
        """Note that a part has started and how to stop it (stop() takes them in reverse)."""
        self._stops.append((name, stop))

    @property
    def started_parts(self) -> list[str]:
        """The parts start() has started and stop() has yet to stop, in the order they started."""
        return [name for name, _ in self._stops]

    def start(self) -> None:
        config = self.config
        short_gil_turns()
        self._caller_nice = raise_priority()  # before any thread starts: they inherit it
        self._caller_thread = threading.get_ident()
        try:
            if self.engine is None:
                self.engine = self._warm_engine(config.engine, config.model)
            else:
                self.engine.warm_up()
        except ModelError as exc:
            if not config.fallback_engine:
                raise
            log.error("engine %s unavailable: %s; falling back to %s", config.engine, exc, config.fallback_engine)
            self.engine_error = str(exc)
            self._last_error_at = time.monotonic()
            self.engine = self._warm_engine(config.fallback_engine, None)
        self.engine, self.engine_note = choose_live_engine(self.engine, config.engine, config.allow_slow,
                                                           lambda: self._warm_engine("synth", None),
                                                           config.margin_s)
        verdict = self.engine.verdict
        # The model, where it came from (random weights say so) and what the doctor would say of it.
        log.info("engine: %s, %s, %s (warm: %d steps, median %.2f ms, p99 %.2f ms per 40 ms frame, on %s)",
                 self.engine.describe(), source_words(self.engine), verdict_word(verdict) or "not measured",
                 verdict.steps if verdict else 0, verdict.p50_ms if verdict else 0.0,
                 verdict.p99_ms if verdict else 0.0, self.engine.hardware())
        log.info("style embedder: %s", self.style.describe())
        self._warn_style_once()

        self.control.set("seed", config.seed)
        if config.prompt:
            embedding = self.embedder.embed_text(config.prompt)
            self.control.apply_now(DefinePrompt("prompt", config.prompt, embedding, 1.0))
            log.info("prompt: %r", config.prompt)
        self.snapshot = snapshot.messages(self.control)

        self.generator = Generator(self.engine, self.control)
        self.generator.after_commands = self._publish_changes
        self.generator.taps.append(self.recorder.tap)
        # A recording an input starts ends after the runner has stopped: it gets every frame.
        self._started("recorder", self.recorder.stop)
        self.generator.on_fault = self._engine_faulted
        if config.lead_frames is not None:
            log.info("lead_frames %d is read as a margin of %.0f ms (latency: %.0f says the same); "
                     "frames are now made just in time, that margin ahead of what a step takes",
                     config.lead_frames, config.margin_s * 1000, config.margin_s * 1000)
        self.audio = AudioChain(
            [config.output, *config.outputs], config.margin_s, config.device_options(), self._injected_output
        )
        self.playout = self.audio.playout
        self.runner = self.audio.runner_for(self.generator)  # starts the sinks (wav, flac, pipe)
        # Started before the runner, so stopped after it: the sinks get every frame it made.
        self._started("sinks", self.audio.stop_sinks)
        fit = self._fit_journal(self._read_journal())
        if config.midi:
            self.midi.start(config.midi_ports)
            self._started("midi", self.midi.stop)
        resumes_scene = fit.music is not None and config.scene is not None
        self.scenes.start(config.scene, position=fit.music.scene_frames if resumes_scene and fit.music else None)  # installs on frame 0
        self._started("scenes", self.scenes.stop)
        self._resume_from_journal(fit)
        if config.web is not None:  # before the music starts: importing aiohttp takes a moment
            from mrtd.app.web_surface import start_web

            osc_allow = config.osc.allow if config.osc is not None else []
            self.web = start_web(self.services(), config.web, osc_allow, self.generator.taps,
                                 frames_made=lambda: self.generator is not None, state_dir=config.state_dir,
                                 audio_health=self.audio_health)
            if self.web is not None:
                self._started("web", self.web.stop)
        self.runner.start()
        self._started("runner", self.runner.stop)

        self.audio.start_master()
        self._started("master", self.audio.stop_master)
        # The master can change (a lost device hands over to the null output): always ask the current one.
        audio = self.audio
        self.control.frame_of = FrameClock(self.playout, lambda: audio.master.time()).frame_of
        # Scenes on the clock map their wall clock (injected in tests) to frames the same way.
        self.wall_frames.heard_frame = FrameClock(self.playout, lambda: audio.master.time(), self.wall_clock).frame_of
        if self.journal is not None:
            # Only now that the music flows: the journal asks the generation thread for the music,
            # which makes frames only while the master drains the ring; its last write, at stop,
            # needs both still running, so it stops before them.
            self.journal.start()
            self._started("journal", self.journal.stop)
        if isinstance(self.audio.master, DeviceOutput):
            self.device_watch = DeviceSupervisor(self.audio, self.audio.reopen_device)
            self.device_watch.start()
            self._started("device watch", self.device_watch.stop)
        if config.tempo_source == "link":
            from mrtd.inputs.link import LinkFollower  # an optional extra: imported only when asked for

            self.link = LinkFollower(self.controls)
            self.link.start()
            self._started("link", self.link.stop)
            log.info("tempo: following Ableton Link")
        self.pusher.start()
        self._started("pusher", self.pusher.stop)
        self.encoder.start()
        self._started("encoder", self.encoder.stop)
        if config.osc is not None:
            self.osc = OscServer(Surface(self.services()), config.osc)
            self.osc.on_message = lambda _address, sender: self.pusher.heard_from(sender[0])
            self.pusher.guard = self.osc.guard  # pushes share each address's UDP budget with replies
            self.osc.start()
            self._started("osc", self.osc.stop)
            log.info("OSC: udp+tcp %s:%d", config.osc.bind, self.osc.port)
            if config.discovery:
                self.advertisement = advertise(self.osc.port, config.osc.bind)
                if self.advertisement is not None:
                    self._started("advertisement", self.advertisement.close)
        pacing = self.audio.pacing_status()
        log.info(
            "output: %s (margin %.1f ms, output latency %.1f ms; control to sound up to %.0f ms for now)",
            self.audio.describe(),
            config.margin_s * 1000,
            audio.master.latency * 1000,
            pacing["control_latency_ms"],
        )
        log.info("folders: scenes %s, recordings %s, state %s, cache %s%s", self.folder("scene_dir"), self.folder("record_dir"),
                 os.path.abspath(config.state_dir) if config.state_dir else "none (no journal)", self.embedder.cache.directory,
                 " (relative to the working directory)" if not all(
                     os.path.isabs(os.path.expanduser(d)) for d in (config.scene_dir, config.record_dir)) else "")
        self.notifier.ready(f"playing {self.engine.describe()} to {self.audio.describe()}")
        self.notifier.start_watchdog(self._audio_judge())
        self.health = self._audio_judge(min_look_s=HEALTH_LOOK_S)
        self._started("notifier", self._notify_stopping)
        freeze_heap()  # last: what start built stays, and the collector need not walk it again

    def _audio_judge(self, min_look_s: float = 0.0) -> Progress:
        """A judge of whether the audio flows (systemd.Progress, the one definition), for one looker."""
        generator = self.generator
        assert generator is not None
        lateness = generator.lateness
        return Progress(lambda: generator.frames, self._underruns,
                        lambda: lateness.last_step_ms / 1000.0 if lateness.sustained else 0.0,
                        device_problem=lambda: "" if self.device_watch is None or self.device_watch.healthy
                        else f"audio device {self.device_watch.state}", min_look_s=min_look_s)

    def audio_health(self) -> str:
        """Any thread: why the audio does not flow ("" while it does), as /health says it."""
        health = self.health
        return "starting" if health is None else health.why()

    def _underruns(self) -> int:
        return (self.playout.underruns if self.playout else 0) + (self.output.device_underruns if self.output else 0)

    def last_error_age_s(self) -> float | None:
        """Seconds since the last engine fault or lost sound card; None if neither happened."""
        times = [t for t in (self._last_error_at, self.device_watch.lost_at if self.device_watch else None) if t is not None]
        return round(time.monotonic() - max(times), 3) if times else None

    def services(self) -> Services:
        """What the inputs (OSC, the web page) may reach: handed to them, never the daemon itself."""
        return Services(
            controls=self.controls, encoder=self.encoder, pusher=self.pusher, scenes=self.scenes,
            learn=self.midi.learn, recorder=self.recorder, dialects=self.dialects, status=self.status,
            snapshot=lambda: self.snapshot, guard=lambda: self.osc.guard if self.osc is not None else None,
            prefill=self.prefill, swap_engine=self.swap_engine,
            audio_dir=self.config.audio_dir, record_dir=self.config.record_dir,
        )

    def folder(self, key: str) -> str:
        """A configured folder as an absolute path (the defaults are relative to the working directory)."""
        return os.path.abspath(os.path.expanduser(getattr(self.config, key)))

    def _warn_style_once(self) -> None:
        warning = self.style_warning
        if warning and not self._style_warned:
            self._style_warned = True
            log.warning("%s", warning)

    @property
    def style_warning(self) -> str:
        """Non-empty while an mrt2 engine plays with the built-in embedder: prompts cannot steer it."""
        engine = self.generator.engine if self.generator else self.engine
        return self.style.mrt2_warning() if engine is not None and engine.name == "mrt2" else ""

    @property
    def output(self) -> Output | None:
        """The clock master now."""
        return self.audio.master if self.audio is not None else None

    def _prompt_ready(self, name: str, embedding) -> None:
        self.control.submit(PromptReady(name, embedding))

    def _prompt_failed(self, name: str, reason: str) -> None:
        log.warning("prompt %r could not be encoded: %s", name, reason)
        self.control.submit(ClearPrompt(name))

    def _publish_changes(self, control: ControlState) -> None:
        """Generation thread, once per frame: fire due cues, refresh the snapshot, push what changed."""
        self.scenes.tick(control)
        changed = control.take_changes()
        weights = control.style.weights()
        if weights != self._last_weights:  # a crossfade moves the mix without a command
            self._last_weights = dict(weights)
            changed.add(Change.MIX)
        if not changed:
            return
        self.snapshot, pushed = snapshot.update(self.snapshot, control, changed)
        self.pusher.publish(pushed)
        if self.web is not None:
            self.web.publish(pushed)

    def _warm_engine(self, name: str, model: str | None) -> BaseEngine:
        engine = create_engine(name, model=model, seed=self.config.seed, keep_warm=self.config.keep_warm)
        try:
            engine.warm_up()
        except BaseException:
            engine.close()
            raise
        return engine

    def _read_journal(self) -> MusicState | None:
        if self.config.state_dir is None:
            return None
        self.journal = Journal(Path(self.config.state_dir) / "journal.json", self._ask_journal)
        return self.journal.load() if self.config.resume else None

    def _fit_journal(self, music: MusicState | None) -> Fit:
        """What of the journal belongs to the scene being started (journal.fit_to_scene), logged."""
        fit = fit_to_scene(music, self.config.scene, file_digest, self.scenes.cue_labels)
        if fit.why:
            log.info("%s", fit.why)
        return fit

    def _resume_from_journal(self, fit: Fit) -> None:
        if self.journal is None:
            return
        music = fit.music
        if music is not None:
            if music.scene_path and not self.config.scene:
                try:
                    self.scenes.load(Path(music.scene_path), position=music.scene_frames)
                except (SceneError, OSError) as exc:
                    log.warning("journal: scene %s not restored: %s", music.scene_path, exc)
            if self.scenes.on_the_clock():
                # A scene on the clock has started where the wall clock says (its last cue, its
                # fade as far along as the time says: ScenePlayer._start_on_clock); the journal's
                # mix, fade and cue, from before the stop, would put back a moment that has passed.
                log.info("scene on the clock: it starts where the clock says, not where %s left it", self.journal.path)
                return
            same_file = fit.same_file
            action = resume_action(music, self.embedder.embed_text,
                                   lambda state, cue: self.scenes.stand_on(state, cue, keep_place=same_file))
            self.control.submit(Call("resume", action))  # after the scene's install, in the same frame
            log.info("resuming from %s (scene %s, cue %s)", self.journal.path, music.scene_path, music.cue or "-")

    def _ask_journal(self) -> None:
        """Journal thread: have the generation thread capture the music at its next frame."""
        journal = self.journal
        if journal is not None:
            self.control.submit(Call("journal", lambda state: journal.offer(
                capture(state, self.scenes.path, self.scenes.position(state), self.scenes.digest))))

    def _scene_position_s(self) -> float:
        """Any thread: seconds into the scene's timeline (its lap), 0 without a scene. Reads two
        ints the generation thread writes; a value one frame old is fine for a status line."""
        frames = self.scenes.position(self.control)
        return round(frames * FRAME_SECONDS, 2) if frames is not None else 0.0

    def _engine_faulted(self, consecutive: int) -> None:
        """Generation thread: after `fault_limit` failed frames in a row, fall back (once)."""
        self._last_error_at = time.monotonic()  # a fault's path, never a good frame's: one float per failed frame
        fallback = self.config.fallback_engine
        if consecutive != self.config.fault_limit or not fallback or self.generator is None:
            return
        if self.generator.engine.name == fallback:
            return  # the fallback itself is failing: keep concealing and resetting
        log.error("engine %s failed %d frames in a row; switching to %s", self.generator.engine.name, consecutive, fallback)
        self.engine_error = self.generator.last_fault
        self.swap_engine(fallback, None, crossfade_frames=0)

    def prefill(self, audio_path: Path | None) -> Future:
        """Warm a second copy of the playing mrt2 model, fill its context with `audio_path`
        (or silence), then crossfade to it. Everything heavy happens off the generation thread."""
        playing = self.generator.engine if self.generator else None
        if not isinstance(playing, Mrt2Engine):
            raise ValueError("prefill needs the mrt2 engine (the synth engine has no context to fill)")
        model = playing.model
        if audio_path is not None:
            probe_audio_file(audio_path)  # the header only: a file it cannot use is refused to the sender now

        def fill(engine: BaseEngine) -> None:
            assert isinstance(engine, Mrt2Engine), "swap_engine('mrt2') makes one"
            audio = None
            if audio_path is not None:  # on the loading thread, decoded in the reader's process, 28 s at most
                audio, _rate = read_audio_isolated(audio_path, PREFILL_AUDIO_NEEDS)
            live = self.generator.last_conditioning if self.generator else None  # as it plays when the fill starts
            frames = engine.prefill_from_audio(audio, live=live) if audio is not None else engine.prefill_silence(live=live)
            log.info("prefilled %s with %s (%d frames)", engine.describe(), audio_path.name if audio_path else "silence", frames)

        return self.swap_engine("mrt2", model, prepare=fill)

    def swap_engine(self, name: str, model: str | None = None, crossfade_frames: int = 4,
                    prepare: Callable[[BaseEngine], None] | None = None) -> Future:
        """Load `name`/`model` off the generation thread, then crossfade to it; the audio never stops.

        The future resolves to the new engine once the old one is closed, or to the
        loading error (the running engine then simply keeps playing).
        """
        result: Future = Future()

        def load() -> None:
            try:
                engine = self._warm_engine(name, model)
                # Judged as at start: a model too slow for live play is refused (and closed)
                # unless allow_slow; no synth stands in, since the one playing already does.
                engine, note = choose_live_engine(engine, "swap", self.config.allow_slow, make_synth=None,
                                                  margin_s=self.config.margin_s)
                if prepare is not None:
                    prepare(engine)
            except Exception as exc:
                log.error("engine swap to %s %s failed: %s; keeping %s", name, model or "", exc,
                          self.engine.describe() if self.engine else "none")
                result.set_exception(exc)
                return
            assert self.generator is not None
            done = self.generator.swap_engine(engine, crossfade_frames)
            done.wait()
            self.engine = engine
            self.engine_note = note
            self._warn_style_once()  # a swap to mrt2 without MusicCoCa: say so, once per run
            result.set_result(engine)

        spawn("mrtd-engine-load", load)
        return result

    def stop(self) -> None:
        """Stop what start() started, newest first; safe after a start that failed half-way
        (only what had started is on the list) and when called again (the list is emptied)."""
        while self._stops:
            _name, stop = self._stops.pop()
            stop()
        # The engine is the daemon's from construction (an injected one too), so it is closed
        # whatever start reached, and last: every part that steps it has stopped. After a swap
        # the live one is the generator's.
        engine = self.generator.engine if self.generator else self.engine
        if engine is not None:
            engine.close()
        # Process-wide settings start() made before any part started: undone after every part.
        thaw_heap()  # the audio has stopped: the collector may walk everything again
        if threading.get_ident() == self._caller_thread:  # nice is per thread on Linux
            restore_priority(self._caller_nice)
        self._caller_nice = None
        self.stopped.set()

    def _notify_stopping(self) -> None:
        """Tell systemd the service is stopping, and end the watchdog pings (first of all at stop)."""
        self.notifier.stopping()
        self.notifier.close()

    def status(self) -> dict[str, Any]:
        engine = self.generator.engine if self.generator else self.engine
        metrics = engine.metrics() if engine else None
        verdict = engine.verdict if engine else None
        return {
            "engine": engine.describe() if engine else "none",
            "engine_error": self.engine_error,  # why the configured engine is not the one playing
            # The engine warns of any step over the frame; a wider margin that carries it (--latency
            # safe, Verdict.fits_margin) plays it without gaps, so there is nothing to warn of.
            "realtime_warning": "" if verdict is not None and verdict.fits_margin(self.config.margin_s * 1000)
            else getattr(engine, "realtime_warning", None) or "",
            "model_source": model_source_of(engine),  # hub | folder | random-weights | unknown | built-in
            "model_verdict": verdict_word(verdict),  # live | live-at-PRESET | offline-only ("" unmeasured)
            "rtf": metrics.realtime_factor if metrics and metrics.steps else 0.0,
            "frames_late": getattr(engine, "frames_late", 0),
            "engine_note": self.engine_note,
            "behind": self.generator.lateness.describe() if self.generator else "",
            "late_steps": self.generator.lateness.late_frames if self.generator else 0,
            "hardware": engine.hardware() if engine else "",
            "output": self.output.describe() if self.output else "none",
            "device": self.device_watch.state if self.device_watch else "",
            "device_losses": self.device_watch.losses if self.device_watch else 0,
            "frames": self.generator.frames if self.generator else 0,
            "underruns": self._underruns(),
            "step_ms": metrics.mean_ms if metrics else 0.0,
            "step_p99_ms": metrics.p99_ms if metrics else 0.0,
            # How far ahead of the listener frames start, in frames (fractional: made just in time).
            "lead_frames": round(self.audio.runner.target_s / FRAME_SECONDS, 2) if self.audio and self.audio.runner else 0.0,
            "engine_faults": self.generator.faults if self.generator else 0,
            "last_fault": self.generator.last_fault if self.generator else "",
            "last_error_age_s": self.last_error_age_s(),  # engine fault or lost device; None: none yet
            "late": self.control.late,
            "mix": dict(self._last_weights),
            "bpm": self.control.clock.bpm,
            "bar": self.control.clock.bar,
            "beat": self.control.clock.beat_in_bar,
            "phase": round(self.control.clock.phase, 3),
            "tempo_source": self.config.tempo_source,
            "scene": self.control.scene,
            "scene_errors": len(self.scenes.last_errors),
            "midi": self.midi.ports(),
            "cue": self.control.cue,
            "scene_position_s": self._scene_position_s(),
            "resting": self.generator.resting if self.generator else False,  # /mrt/stop or closed hours
            "recording": self.recorder.path or "",
            "scene_dir": self.folder("scene_dir"),
            "record_dir": self.folder("record_dir"),
            **(self.audio.status() if self.audio else {}),  # device rate, resampler, channels, sink drops
            **self.dialects.status(),  # /dirt/play events, unknown keys ignored, wrong values
            **(self.osc.status() if self.osc else {}),  # refused, dropped, held replies
            # Last: these hold sentences, which clients that split on spaces (Pd) cannot pair up.
            "embedder": self.style.name,  # musiccoca | builtin
            "embedder_detail": self.style.describe(),
            "style_warning": self.style_warning,
            "hours": self.scenes.hours_text(self.wall_clock()),  # "" without opening hours, else "open until 18:00"
            "record_error": self.recorder.error,  # why the last take ended by itself (full disk, floor, length); "" if it did not
            "margin_widened": self.audio.runner.pacing.reason if self.audio and self.audio.runner else "",  # why the margin is wider than set
        }
