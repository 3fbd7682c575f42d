"""`mrtd render`: play a scene's cue timeline offline, as fast as the engine allows.

The same control state, style space, generator and scene player as the live
daemon, minus the ring and the clock: frame k is simply the k-th frame made,
so a render is deterministic for a given scene, seed and engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mrtd.audio.sinks import open_wav, write_pcm16
from mrtd.control.commands import Call
from mrtd.control.state import ControlState
from mrtd.engines import create_engine
from mrtd.frame import FRAMES_PER_SECOND
from mrtd.inputs.scene.loader import load_scene
from mrtd.inputs.scene.player import ScenePlayer, prepare_scene
from mrtd.runtime.generator import Generator
from mrtd.style.cache import CachedEmbedder, EmbeddingCache
from mrtd.style.embedder import BuiltinEmbedder

TAIL_S = 4.0  # after the last cue's fade, so it is heard to the end


@dataclass(frozen=True)
class Rendered:
    frames: int
    cues_fired: list[tuple[int, str]]  # (frame, cue)
    peak: float


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
                 engine_name: str = "synth", cache_dir: str | None = None) -> Rendered:
    scene_path = Path(scene_path)
    scene = load_scene(scene_path)
    embedder = CachedEmbedder(BuiltinEmbedder(), EmbeddingCache(cache_dir))
    player = ScenePlayer(prepare_scene(scene, scene_path, embedder.embed_text, embedder.embed_audio_file))
    state = ControlState()
    state.set("seed", seed)
    engine = create_engine(engine_name, seed=seed)
    generator = Generator(engine, state)
    generator.after_commands = lambda control: player.tick(control, control.frame)
    state.submit(Call("scene", lambda s: player.install(s, 0)))
    peak = 0.0
    with open_wav(str(out_path)) as wav:
        frame = generator.next_frame()  # frame 0 installs the scene (and its tempo)
        length = seconds if seconds is not None else default_seconds(player, state)
        total = max(1, round(length * FRAMES_PER_SECOND))
        for index in range(total):
            if index:
                frame = generator.next_frame()
            peak = max(peak, float(abs(frame).max()))
            write_pcm16(wav, frame)
    engine.close()
    return Rendered(total, list(player.fired), peak)
