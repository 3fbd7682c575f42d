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
import math
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
from mrtd.feedback.push import Pusher
from mrtd.feedback.snapshot import Snapshot
from mrtd.inputs.jack_transport import JackTransportWatch
from mrtd.inputs.midi_clock import MidiClock
from mrtd.inputs.transport import MidiTransport
from mrtd.inputs.osc.dialect import Dialects, DirtConfig
from mrtd.inputs.osc.server import OscConfig, OscServer
from mrtd.inputs.web.config import WebConfig
from mrtd.audio.clock import FrameClock
from mrtd.core.engine_choice import model_source_of, verdict_word
from mrtd.app.discovery import Advertisement, advertise
from mrtd.inputs.midi_host import MidiHost
from mrtd.app.listening import Listening, check_follow
from mrtd.core.capture import DEFAULT_MAX_MB, MAX_MB, CaptureWriter
from mrtd.core.banks import StateBanks
from mrtd.core.commands import CommandGate
from mrtd.core.journal import Fit, Journal, MusicState, file_digest, fit_to_scene, resume
from mrtd.core.prompts import PromptController
from mrtd.core.recording import RecordingController
from mrtd.core.scenes import WallFrames
from mrtd.core.engines import EngineController, EngineRequests, EngineSettings
from mrtd.core.session import build_session, header_for
from mrtd.core.scene.isolated import SceneParser
from mrtd.app.surface import Services, Surface
from mrtd.app.systemd import Notifier, Progress
from mrtd.control.commands import DefinePrompt
from mrtd.control.transport import TransportReset
from mrtd.control.state import Controls, ControlState
from mrtd.style.cache import CachedEmbedder, EmbeddingCache
from mrtd.app.style_choice import StyleChoice, choose_style
from mrtd.engines import BaseEngine
from mrtd.frame import FRAME_SECONDS
from mrtd.runtime.generator import Generator
from mrtd.runtime.runner import Runner
from mrtd.lifecycle import freeze_heap, raise_priority, restore_priority, short_gil_turns, thaw_heap
from mrtd.vocabulary.params import PARAMS
from mrtd.vocabulary.values import text

if TYPE_CHECKING:
    from mrtd.inputs.link import LinkFollower
    from mrtd.inputs.web.server import WebServer

log = logging.getLogger("mrtd")

TEMPO_SOURCES = ("internal", "midi", "link")
TRANSPORT_RESETS = ("off", "midi", "jack", "both")
MAX_LEAD_FRAMES = 250  # lead_frames (a margin of that many frames) up to 10 s: past any use
HEALTH_LOOK_S = 1.0  # /health judges at most once a second; checks closer together get that answer


@dataclass
class DaemonConfig:
    engine: Literal["auto", "synth", "mrt2"] = "auto"
    model: str | None = None
    backend: Literal["auto", "mlx", "jax"] = "auto"  # what steps mrt2: mlx (.mlxfn), jax (the official JAX system: the jax extra), auto: the fastest installed here (measured at warm-up)
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
    engine_state_interval_s: float = 5.0  # with a state folder: how often the engine's own state (the music itself) is journaled for a restart to continue; 0: never
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
    audio_prompt_read: Literal["first", "average"] = "first"  # MusicCoCa audio prompts: first = the first 10 s, looped if shorter (the official apps); average = the 10 s clips of the first 30 s averaged (the official Python library)
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
    listen: str | None = None  # audio in to follow: default, device:NAME, jack, jack:PORT_L,PORT_R, wav:PATH (looped); the listen extra
    follow: list[str] = field(default_factory=list)  # what follows it from the start: notes, tempo, style (each switchable live)
    listen_bars: int = 4  # the listen prompt is the last N bars heard, renewed every N bars (1-16)
    capture: str | None = None  # write every change to the music to this new file, for `mrtd render --replay`; None: no capture
    capture_max_mb: float = DEFAULT_MAX_MB  # the capture stops (the music goes on) when its file would pass this size
    transport_reset: Literal["off", "midi", "jack", "both"] = "midi"  # reset the model when the host's transport starts, as the official plugin at beat 0: midi (Start, Song Position 0) | jack (JACK transport at frame 0) | both | off

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
        if not 0 < self.capture_max_mb <= MAX_MB:
            raise ValueError(f"capture_max_mb lies in (0, {MAX_MB:g}] MB, got {self.capture_max_mb}")
        if self.tempo_source not in TEMPO_SOURCES:
            raise ValueError(f"unknown tempo source {self.tempo_source!r}; use {', '.join(TEMPO_SOURCES)}")
        if not 1 <= self.listen_bars <= 16:
            raise ValueError(f"listen_bars lies in 1-16 bars, got {self.listen_bars}")
        check_follow(self.follow)
        if self.transport_reset not in TRANSPORT_RESETS:
            raise ValueError(f"unknown transport reset {self.transport_reset!r}; use {', '.join(TRANSPORT_RESETS)}")

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
        # The engine: chosen, warmed and judged at start; swapped (a model, a prefill, the fallback) aside.
        self.engines = EngineController(
            EngineSettings(config.engine, config.model, config.seed, config.keep_warm, config.allow_slow,
                           config.margin_s, config.fallback_engine, config.fault_limit, config.backend),
            engine, on_swapped=self._warn_style_once)
        self._injected_output = output
        # The one place the embedder/quantizer pair is chosen; control and style get it handed down.
        self.style = style if style is not None else choose_style(config.musiccoca_dir, want=config.style_embedder,
                                                                             audio_read=config.audio_prompt_read)
        self.pusher = Pusher()
        self.embedder = CachedEmbedder(self.style.embedder, EmbeddingCache(config.cache_dir))
        # What a live run shares with a render: the control state, the scene host, the generator.
        self.session = build_session(self.style.new_space(), self.embedder, seed=config.seed,
                                     scene_dir=config.scene_dir, audio_dir=config.audio_dir,
                                     publish=self.pusher.publish, parser=SceneParser(), wall_at=self.wall_frames)
        self.control = self.session.control
        self.scenes = self.session.scenes
        self.controls = Controls(self.control)  # all an input holds of it: commands in, read-only facts out
        self.journal: Journal | None = None
        self.banks: StateBanks | None = None  # state banks and the journal's engine state (core/banks.py)
        self.notifier = Notifier()
        self.advertisement: Advertisement | None = None
        self.generator: Generator[ControlState, BaseEngine] | None = None
        self.playout: Playout | None = None
        self.runner: Runner | None = None
        self.device_watch: DeviceSupervisor | None = None
        self.audio: AudioChain | None = None
        self.osc: OscServer | None = None
        self.web: WebServer | None = None  # when serving the page
        self.recorder = Recorder(RecordLimits(round(config.record_min_free_mb * 1e6), config.record_max_s))
        # Following an outside tempo: MIDI clock is fed by the MIDI input; Link polls its session.
        self.midi_clock = MidiClock() if config.tempo_source == "midi" else None
        self.capture: CaptureWriter | None = None  # --capture: what the session applies, to a file
        self.midi = MidiHost(self.controls, self.scenes, self.pusher.publish, self.midi_clock,
                             MidiTransport() if config.transport_reset in ("midi", "both") else None)
        self.jack_transport: JackTransportWatch | None = None  # when following JACK's transport
        # The core's controllers the inputs call (through `services()`), one per domain.
        self.prompts = PromptController(self.controls, self.scenes, self.embedder)
        self.encoder = self.prompts.encoder
        self.commands = CommandGate(self.controls, self.prompts, self.scenes)
        self.recording = RecordingController(self.recorder, config.record_dir)
        self.engine_requests = EngineRequests(self.engines, self.controls, config.audio_dir)
        # Listeners of the session, each frame: the prompts (Solo's encoding), the state shown
        # (published by the generation thread, read by anyone; pushed and sent to the page), the journal.
        self.feedback = Snapshot()
        self.feedback.publishers.append(self.pusher.publish)
        self.session.listen(self.prompts)
        self.session.listen(self.feedback)
        self.dialects = Dialects(config.dirt, lambda: self.snapshot.get("/mrt/prompts", [])[::2], lambda: self.control.clock.bpm)
        self.stopped = threading.Event()
        self.health: Progress | None = None  # /health's judge, once the music flows
        self._style_warned = False  # the mrt2-without-MusicCoCa warning is logged once per run
        self.link: "LinkFollower | None" = None
        self.listening: Listening | None = None  # --listen: the capture and the analysis following it
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
        if config.capture is not None:  # first: a capture path that is taken refuses the start at once
            self.capture = CaptureWriter(config.capture, round(config.capture_max_mb * 1e6))
            self._started("capture", self._stop_capture)
        engine = self.engines.start()
        log.info("style embedder: %s", self.style.describe())
        self._warn_style_once()

        self.generator = self.session.play(engine)
        self.engines.drive(self.generator)
        self.generator.taps.append(self.recorder.tap)
        # A recording an input starts ends after the runner has stopped: it gets every frame.
        self._started("recorder", self.recorder.stop)
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
        if self.capture is not None:  # before the first command applies (the prompt, the scene)
            self.session.record_to(self.capture, header_for(
                # Frame 0 is heard about a step and the margin after it is made (the pacing's target).
                self.session, engine, self.style.name, config.seed, max(1, math.ceil(config.margin_s / FRAME_SECONDS + 1)),
                self.generator.ducks_ahead, self.wall_clock()))
            log.info("capture: %s", self.capture.path)
        if config.prompt:
            embedding = self.embedder.embed_text(config.prompt)
            self.control.apply_now(DefinePrompt("prompt", config.prompt, embedding, 1.0))
            log.info("prompt: %r", config.prompt)
        self.feedback.show(self.control)
        fit = self._fit_journal(self._read_journal())
        if config.midi:
            self.midi.start(config.midi_ports)
            self._started("midi", self.midi.stop)
        if config.transport_reset in ("jack", "both"):  # its start resets the model (control/transport.py)
            self.jack_transport = JackTransportWatch(lambda: self.control.submit(TransportReset()))
            self.jack_transport.start()
            self._started("jack transport", self.jack_transport.stop)
        resumes_scene = fit.music is not None and config.scene is not None
        self.scenes.start(config.scene, position=fit.music.scene_frames if resumes_scene and fit.music else None)  # installs on frame 0
        self._started("scenes", self.scenes.stop)
        if self.journal is not None:
            resume(fit, config.scene is not None, self.scenes, self.control, self.embedder.embed_text, self.journal.path)
        # State banks, and the engine's own state: continued from where it was (after the
        # journal's controls, before the first frame), then journaled while the music plays.
        self.banks = StateBanks(self.control, config.state_dir, self.engines, config.engine_state_interval_s)
        if config.resume:
            self.banks.continue_saved(engine)
        if config.web is not None:  # before the music starts: importing aiohttp takes a moment
            from mrtd.app.web_surface import start_web

            osc_allow = config.osc.allow if config.osc is not None else []
            self.web = start_web(self.services(), config.web, osc_allow, self.generator.taps,
                                 frames_made=lambda: self.generator is not None, state_dir=config.state_dir,
                                 audio_health=self.audio_health)
            if self.web is not None:
                self.feedback.publishers.append(self.web.publish)
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
        if config.state_dir is not None:  # after the journal: its engine state is journaled while the music flows
            self.banks.start()
            self._started("state banks", self.banks.stop)
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
        if config.listen:  # after the encoder: the listen prompt is embedded there
            self._start_listening(config.listen)
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
        self.notifier.ready(f"playing {engine.describe()} to {self.audio.describe()}")
        self.notifier.start_watchdog(self._audio_judge())
        self.health = self._audio_judge(min_look_s=HEALTH_LOOK_S)
        self._started("notifier", self._notify_stopping)
        freeze_heap()  # last: what start built stays, and the collector need not walk it again

    def _start_listening(self, spec: str) -> None:
        """Listen to `spec`; one that cannot be opened (or no listen extra) is logged, and the music plays on."""
        try:
            self.listening = Listening(spec, self.controls, self.encoder, self.config.listen_bars)
            self.listening.start(self.config.follow, self.controls)
        except (RuntimeError, OSError) as exc:  # CaptureError, the missing extra
            log.error("not listening to %s: %s", spec, exc)
            self.listening = None
            return
        self._started("listen", self.listening.stop)

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
        times = [t for t in (self.engines.last_error_at, self.device_watch.lost_at if self.device_watch else None) if t is not None]
        return round(time.monotonic() - max(times), 3) if times else None

    def services(self) -> Services:
        """What the inputs (OSC, the web page) may reach: handed to them, never the daemon itself."""
        return Services(
            controls=self.controls, commands=self.commands, pusher=self.pusher, scenes=self.scenes,
            learn=self.midi.learn, recording=self.recording, engine=self.engine_requests, dialects=self.dialects,
            status=self.status, snapshot=lambda: self.snapshot,
            guard=lambda: self.osc.guard if self.osc is not None else None,
            state_banks=lambda: self.banks,
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
        engine = self.engines.playing
        return self.style.mrt2_warning() if engine is not None and engine.name == "mrt2" else ""

    @property
    def snapshot(self) -> dict[str, list[Any]]:
        """The state shown now (the feedback's, replaced each frame that changed something)."""
        return self.feedback.messages

    @property
    def output(self) -> Output | None:
        """The clock master now."""
        return self.audio.master if self.audio is not None else None

    def _read_journal(self) -> MusicState | None:
        if self.config.state_dir is None:
            return None
        self.journal = Journal(Path(self.config.state_dir) / "journal.json")
        self.session.listen(self.journal)  # it reads the music on the frame after it asks
        return self.journal.load() if self.config.resume else None

    def _fit_journal(self, music: MusicState | None) -> Fit:
        """What of the journal belongs to the scene being started (journal.fit_to_scene), logged."""
        fit = fit_to_scene(music, self.config.scene, file_digest, self.scenes.cue_labels)
        if fit.why:
            log.info("%s", fit.why)
        return fit

    def _scene_position_s(self) -> float:
        """Any thread: seconds into the scene's timeline (its lap), 0 without a scene. Reads two
        ints the generation thread writes; a value one frame old is fine for a status line."""
        frames = self.scenes.position(self.control)
        return round(frames * FRAME_SECONDS, 2) if frames is not None else 0.0

    def swap_engine(self, name: str, model: str | None = None, crossfade_frames: int = 4,
                    backend: str | None = None) -> Future:
        """Load `name`/`model` aside and crossfade to it (EngineController.swap); `backend`: mrt2's
        (None: the config's)."""
        return self.engines.swap(name, model, crossfade_frames, backend=backend)

    def _stop_capture(self) -> None:
        """After the runner: every frame it made has its commands in the capture."""
        if self.session.capture is not None:
            self.session.stop_recording()
        elif self.capture is not None:  # a start that failed before the music: the file, closed
            self.capture.stop(0)

    def prefill(self, audio_path: Path | None) -> Future:
        """Prefill aside and crossfade to it (core's EngineRequests.prefill)."""
        return self.engine_requests.prefill(audio_path)

    def stop(self) -> None:
        """Stop what start() started, newest first; safe after a start that failed half-way
        (only what had started is on the list) and when called again (the list is emptied)."""
        while self._stops:
            _name, stop = self._stops.pop()
            stop()
        # The engine is the daemon's from construction (an injected one too), so it is closed
        # whatever start reached, and last: every part that steps it has stopped. After a swap
        # the live one is the generator's.
        engine = self.engines.playing
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
        engine = self.engines.playing
        metrics = engine.metrics() if engine else None
        verdict = engine.verdict if engine else None
        return {
            "engine": engine.describe() if engine else "none",
            "engine_error": self.engines.error,  # why the configured engine is not the one playing
            # The engine warns of any step over the frame; a wider margin that carries it (--latency
            # safe, Verdict.fits_margin) plays it without gaps, so there is nothing to warn of.
            "realtime_warning": "" if verdict is not None and verdict.fits_margin(self.config.margin_s * 1000)
            else getattr(engine, "realtime_warning", None) or "",
            "model_source": model_source_of(engine),  # hub | folder | random-weights | unknown | built-in
            "model_verdict": verdict_word(verdict),  # live | live-at-PRESET | offline-only ("" unmeasured)
            "rtf": metrics.realtime_factor if metrics and metrics.steps else 0.0,
            "frames_late": getattr(engine, "frames_late", 0),
            "engine_note": self.engines.note,
            "behind": self.generator.lateness.describe() if self.generator else "",
            "late_steps": self.generator.lateness.late_frames if self.generator else 0,
            "hardware": engine.hardware() if engine else "",
            "backend": getattr(engine, "backend", ""),  # mlx | jax for mrt2 ("" for the synth); why: backend_note
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
            "mix": dict(self.session.mix),
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
            "state_banks": self.config.state_dir is not None,  # /mrt/state/save, load, factory can work (a state folder)
            "recording": self.recorder.path or "",
            "scene_dir": self.folder("scene_dir"),
            "record_dir": self.folder("record_dir"),
            **(self.audio.status() if self.audio else {}),  # device rate, resampler, channels, sink drops
            **(self.listening.status() if self.listening else {}),  # level, chord, tempo heard; latency, cost
            **self.dialects.status(),  # /dirt/play events, unknown keys ignored, wrong values
            **(self.osc.status() if self.osc else {}),  # refused, dropped, held replies
            # Last: these hold sentences, which clients that split on spaces (Pd) cannot pair up.
            "embedder": self.style.name,  # musiccoca | builtin
            "embedder_detail": self.style.describe(),
            "style_warning": self.style_warning,
            "hours": self.scenes.hours_text(self.wall_clock()),  # "" without opening hours, else "open until 18:00"
            "backend_note": getattr(engine, "backend_note", ""),  # why this backend plays (auto: the warm-up figures)
            "record_error": self.recorder.error,  # why the last take ended by itself (full disk, floor, length); "" if it did not
            # --capture: its file, the commands written, and writing | full | lost | failed | stopped
            **(self.capture.status() if self.capture is not None else {"capture": "", "capture_records": 0, "capture_state": ""}),
            "margin_widened": self.audio.runner.pacing.reason if self.audio and self.audio.runner else "",  # why the margin is wider than set
        }
