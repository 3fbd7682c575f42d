"""`mrtd render`: play a scene offline, as fast as the engine allows.

The same parts as a live run, built the same way: the control state and its
command schedule, the style space, the generator, and the `SceneHost` that
installs the scene, fires its cues and owns its mappings. What is left out is
only what paces a live run: the ring, the playout and the device clock. Frame
k is simply the k-th frame made, so a render is deterministic for a scene,
seed and engine, and sample for sample what a live run with no live input
makes (tests/test_render_live.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mrtd.app.render_progress import ProgressBar, StopRequest
from mrtd.app.scenes import SceneHost
from mrtd.app.style_choice import choose_style
from mrtd.audio.sinks import open_wav, write_pcm16
from mrtd.control.state import ControlState
from mrtd.engines import create_engine
from mrtd.frame import FRAMES_PER_SECOND
from mrtd.inputs.scene.player import ScenePlayer
from mrtd.runtime.generator import Generator
from mrtd.style.cache import CachedEmbedder, EmbeddingCache

log = logging.getLogger(__name__)

TAIL_S = 4.0  # after the last cue's fade, so it is heard to the end


@dataclass(frozen=True)
class Rendered:
    frames: int
    cues_fired: list[tuple[int, str]]  # (frame, cue)
    peak: float
    interrupted: bool = False  # stopped by SIGINT/SIGTERM: the WAV holds the frames made so far
    engine: str = ""


def default_seconds(player: ScenePlayer, state: ControlState) -> float:
    scene = player.scene
    if scene.loop and scene.length:
        return scene.length
    ends = [
        at + player.fade_seconds(cue, state)
        for cue in scene.cues
        if (at := player.cue_seconds(cue, state)) is not None
    ]
    return (max(ends) if ends else 0.0) + TAIL_S


def render_scene(scene_path: str | Path, out_path: str | Path, seconds: float | None = None, seed: int = 0,
                 engine_name: str = "synth", cache_dir: str | None = None, progress: bool | None = None,
                 model: str | None = None, musiccoca_folder: str | None = None) -> Rendered:
    """Render to a WAV. `progress`: draw a bar on stderr (None: only when it is a terminal).
    SIGINT/SIGTERM stop it between frames, leaving a valid WAV of what was made."""
    scene_path = Path(scene_path)
    style = choose_style(musiccoca_folder)  # the same pair a live run picks: MusicCoCa where installed
    embedder = CachedEmbedder(style.embedder, EmbeddingCache(cache_dir))
    state = ControlState(style.new_space())
    state.set("seed", seed)
    scenes = SceneHost(state, embedder, scene_dir=str(scene_path.parent), audio_dir=str(scene_path.parent),
                       publish=lambda messages: log.error("%s", messages))
    scenes.load(scene_path)  # SceneError when invalid; installs on frame 0, as live
    engine = create_engine(engine_name, seed=seed, model=model)
    log.info("render: %s, style %s", engine.describe(), style.describe())
    if engine.name == "mrt2" and style.mrt2_warning():
        log.warning("%s", style.mrt2_warning())
    engine.reset()  # the seed takes effect at reset (mrt2 rotates its RNG key then); live, warm-up does this
    generator = Generator(engine, state)
    generator.after_commands = scenes.tick  # what the daemon's per-frame hook does for the music
    peak = 0.0
    made = 0
    with StopRequest() as stop, open_wav(str(out_path)) as wav:
        frame = generator.next_frame()  # frame 0 installs the scene (and its tempo)
        player = scenes.player
        assert player is not None, "the scene installs on frame 0"
        length = seconds if seconds is not None else default_seconds(player, state)
        total = max(1, round(length * FRAMES_PER_SECOND))
        bar = ProgressBar(total, enabled=progress)
        for index in range(total):
            if index:
                if stop.requested.is_set():
                    break
                frame = generator.next_frame()
            peak = max(peak, float(abs(frame).max()))
            write_pcm16(wav, frame)
            made += 1
            bar.update(made)
        bar.finish()
    engine.close()
    return Rendered(made, list(player.fired), peak, made < total, engine.describe())
