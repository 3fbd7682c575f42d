"""`mrtd doctor`: what this machine can do, measured, and the next command to run.

It looks (platform, Python, MLX and its device, JAX and magenta-rt, audio, MIDI, the web page's
packages, the installed models, JAX checkpoints and resources), times each installed model on
this device the way the daemon's warm-up does (`realtime.judge`, `engine_choice.live_verdict`),
on each backend it is installed for (MLX's export, JAX's checkpoint), says which backend
`backend: auto` plays where a model has both (`backends.pick`, the daemon's rule), and ends with
the commands for this machine: what to install, how to play, how to render.

Bounded in time: each model gets one first step (it compiles), then as many timed steps as fit
`seconds_per_model` (at least MIN_STEPS, at most MAX_STEPS), and the doctor says how long that
will take before it starts them. A broken model is named with its file, never a traceback.

`--json` prints `DoctorReport.as_json()`: the shape is documented in docs/doctor.md and holds
`"doctor": JSON_VERSION`; keys are only ever added.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from mrtd.core.engine_choice import DEFAULT_PRESET, LIVE, LIVE_AT, OFFLINE_ONLY, live_verdict
from mrtd.audio.outputs import LATENCY_PRESETS
from mrtd.conditioning import Conditioning
from mrtd.engines.backends import pick
from mrtd.engines.base import BaseEngine
from mrtd.engines.jax_checkpoint import INSTALL_JAX, checkpoint_path, checkpoint_source, installed_checkpoints, jax_installed
from mrtd.engines.mrt2 import (
    ASSETS_DIR,
    SMALLEST_MODEL,
    SOURCE_WORDS,
    ModelError,
    Mrt2Engine,
    device_description,
    encoder_path,
    installed_models,
    mlx_core,
    model_paths,
    model_source,
    resolve_magenta_home,
)
from mrtd.engines.realtime import FRAME_BUDGET_MS, Verdict, judge
from mrtd.runtime.runner import control_latency_s
from mrtd.style.musiccoca_assets import EMBEDDER_FILES, QUANTIZER_FILE, musiccoca_dir

JSON_VERSION = 1
SECONDS_PER_MODEL = 20.0  # timed steps after the first, per model (a fast model stops at MAX_STEPS)
MIN_STEPS = 2  # a model that takes seconds per step still gets this many timed steps
MAX_STEPS = 50  # enough for a p99 worth the name at 40 ms a step (2 s)
BROKEN = "broken"
NOT_TIMED = "not-timed"  # the model's backend (MLX, JAX) does not import here: the files are listed, not stepped
EXAMPLE_SCENE = "scenes/live-coding.yaml"
NVIDIA_SMI_TIMEOUT_S = 5.0
SYNTH_STEPS = 50  # the built-in synth's steps timed for its control latency (about 0.1 s)

Say = Callable[[str], None]


@dataclass
class ModelCheck:
    """One installed model, measured (or why it could not be)."""

    name: str
    folder: str
    source: str  # hub | folder | random-weights | unknown
    size_mb: float
    verdict: str = BROKEN  # live | live-at | offline-only | broken
    preset: str | None = None  # the latency preset for live-at
    error: str = ""  # a broken model: what is wrong, naming the file
    load_s: float = 0.0
    first_step_s: float = 0.0  # compiles the function: not judged
    steps: int = 0  # timed steps the figures come from
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    device: str = ""
    would_change_it: list[str] = field(default_factory=list)
    backend: str = "mlx"  # mlx (the export under models/) | jax (the checkpoint under checkpoints/)
    control_latency_ms: dict[str, float] = field(default_factory=dict)  # per latency preset, the device's buffer estimated


@dataclass
class DoctorReport:
    platform: dict[str, str]
    mlx: dict[str, Any]
    audio: dict[str, Any]
    midi: dict[str, Any]
    web: dict[str, Any]
    magenta_home: str
    resources: dict[str, Any]
    models: list[ModelCheck]
    next: dict[str, list[str]]  # install, play, render: commands to run, in order
    jax: dict[str, Any] = field(default_factory=dict)  # installed, version, magenta_rt, cuda_plugin, device, error
    auto_backend: dict[str, dict[str, str]] = field(default_factory=dict)  # model -> backend, why (both installed)
    latency: dict[str, Any] = field(default_factory=dict)  # the presets' margins, and what they give with the synth

    def as_json(self) -> dict[str, Any]:
        return {"doctor": JSON_VERSION, **asdict(self)}


# -- looking -------------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def check_platform() -> dict[str, str]:
    return {"system": platform.system(), "machine": platform.machine(), "release": platform.release(),
            "python": platform.python_version(), "executable": sys.executable}


def nvidia_gpu() -> dict[str, str]:
    """The NVIDIA driver and GPU name from nvidia-smi, or {} when there is none (bounded in time)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {}
    try:
        done = subprocess.run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    first = done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else ""
    name, _, driver = first.partition(",")
    return {"gpu": name.strip(), "driver": driver.strip()} if name else {}


def check_mlx() -> dict[str, Any]:
    """MLX's version and backend (metal, cuda, cpu) and the device mrt2 steps on."""
    found: dict[str, Any] = {"version": _version("mlx"), "backend": "", "device": "", "error": "",
                             "cuda_package": _version("mlx-cuda-12") or _version("mlx-cuda-13") or _version("mlx-cuda"),
                             "nvidia": nvidia_gpu()}
    try:
        mx = mlx_core()
    except ModelError as exc:
        found["error"] = str(exc)
        return found
    found["device"] = device_description()
    if mx.default_device() == mx.gpu:
        found["backend"] = "cuda" if "(cuda" in found["device"] else "metal"
    else:
        found["backend"] = "cpu"
    return found


def check_jax() -> dict[str, Any]:
    """JAX's and magenta-rt's versions, without importing JAX (seconds): the device is the one the
    first JAX checkpoint timed here steps on."""
    installed = jax_installed()
    return {"installed": installed, "version": _version("jax"), "magenta_rt": _version("magenta-rt"),
            "cuda_plugin": _version("jax-cuda12-plugin") or _version("jax-cuda13-plugin"), "device": "",
            "error": "" if installed else INSTALL_JAX}


def check_audio() -> dict[str, Any]:
    """PortAudio's output devices (as `mrtd devices` lists them) and whether a JACK server runs."""
    from mrtd.audio.outputs import OutputError, import_sounddevice

    found: dict[str, Any] = {"portaudio": "", "outputs": [], "default_output": "", "jack_running": False, "error": "",
                             "low_latency_ms": 0.0, "high_latency_ms": 0.0}
    try:
        sd = import_sounddevice()
        found["portaudio"] = str(sd.get_portaudio_version()[1])
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except (OutputError, OSError, Exception) as exc:  # PortAudio missing or failing: say so, go on
        found["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return found
    found["outputs"] = [f"{d['name']} ({hostapis[d['hostapi']]['name']}, {d['max_output_channels']} ch)"
                        for d in devices if d["max_output_channels"] > 0]
    # PortAudio's JACK host API lists devices only while a server runs.
    found["jack_running"] = any("JACK" in api["name"] and api["devices"] for api in hostapis)
    try:
        default = sd.query_devices(kind="output")
        found["default_output"] = str(default["name"])
        # What PortAudio suggests for `low` and `high` device latency there: the presets' device buffers.
        found["low_latency_ms"] = round(float(default["default_low_output_latency"]) * 1000, 1)
        found["high_latency_ms"] = round(float(default["default_high_output_latency"]) * 1000, 1)
    except Exception:  # no default device: PortAudio's "Error querying device -1"
        found["default_output"] = ""
    return found


def check_midi(jack_running: bool) -> dict[str, Any]:
    """Which MIDI system mrtd would use (ALSA's sequencer, JACK, CoreMIDI), as inputs/midi.py picks it."""
    found: dict[str, Any] = {"rtmidi": _version("python-rtmidi"), "api": "", "note": ""}
    if not found["rtmidi"]:
        found["note"] = "python-rtmidi is not installed: no MIDI input"
        return found
    import rtmidi

    if os.path.exists("/dev/snd/seq"):
        found["api"] = "alsa"
    elif jack_running and rtmidi.API_UNIX_JACK in rtmidi.get_compiled_api():
        found["api"] = "jack"
    elif rtmidi.API_MACOSX_CORE in rtmidi.get_compiled_api():
        found["api"] = "coremidi"
    else:
        found["note"] = "no ALSA sequencer (/dev/snd/seq) and no JACK server: MIDI is off, the rest plays"
    return found


def check_web() -> dict[str, Any]:
    found = {"aiohttp": _version("aiohttp"), "prometheus_client": _version("prometheus-client")}
    missing = [name for name, version in found.items() if not version]
    return {**found, "note": f"the web page needs {', '.join(missing)}: pip install {' '.join(missing)}" if missing else ""}


def check_resources(home: Path) -> dict[str, Any]:
    """MusicCoCa's files and SpectroStream's encoder, where the engines look for them."""
    folder = musiccoca_dir()
    wanted = (*EMBEDDER_FILES, QUANTIZER_FILE)
    missing = [name for name in wanted if not (folder / name).is_file()]
    encoder = encoder_path(home)
    return {"musiccoca": {"folder": str(folder), "present": not missing, "missing": missing},
            "spectrostream": {"file": str(encoder), "present": encoder.is_file()}}


# -- measuring -----------------------------------------------------------------------------


def _size_mb(paths: tuple[Path, ...]) -> float:
    return round(sum(p.stat().st_size for p in paths if p.is_file()) / 1e6, 1)


def _model_files(name: str, home: Path, backend: str) -> tuple[Path, ...]:
    return (checkpoint_path(name, home),) if backend == "jax" else model_paths(name, home)


def _load(name: str, home: Path, backend: str) -> BaseEngine:
    if backend == "jax":
        from mrtd.engines.mrt2_jax import Mrt2JaxEngine

        return Mrt2JaxEngine(model=name, magenta_home=home)
    return Mrt2Engine(model=name, magenta_home=home)


def time_model(name: str, home: Path, seconds: float, say: Say, backend: str = "mlx") -> ModelCheck:
    """Load one model on `backend`, step it once (compiling), then time as many steps as fit `seconds`."""
    paths = _model_files(name, home, backend)
    source = checkpoint_source(paths[0]) if backend == "jax" else model_source(paths[0].parent)
    check = ModelCheck(name=name, folder=str(paths[0] if backend == "jax" else paths[0].parent), source=source,
                       size_mb=_size_mb(paths), backend=backend)
    say(f"timing {name} on {backend} ({check.size_mb:.0f} MB): loading, one first step, then up to {seconds:.0f} s "
        "of timed steps")
    started = time.perf_counter()
    try:
        engine = _load(name, home, backend)
    except ModelError as exc:  # the message names the file
        check.error = str(exc)
        return check
    except Exception as exc:  # whatever else MLX or JAX says of a damaged file: one line, the file named
        check.error = f"mrt2 model {name!r} ({paths[0]}): {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return check
    try:
        check.load_s = round(time.perf_counter() - started, 2)
        check.device = engine.hardware()
        # As BaseEngine.warm_up does: timed throw-away steps on empty conditioning, the first
        # (compiling) one left out by `judge`; here the first one also sets how many follow.
        durations = [_timed_step(engine)]
        check.first_step_s = round(durations[0], 3)
        count = max(MIN_STEPS, min(MAX_STEPS, int(seconds / max(durations[0], 1e-3))))
        say(f"  first step {durations[0]:.2f} s; {count} timed steps follow, about {count * durations[0]:.0f} s")
        durations += [_timed_step(engine) for _ in range(count)]
        engine.reset()
    except Exception as exc:
        check.error = f"mrt2 model {name!r} ({paths[0]}) failed a step: {type(exc).__name__}: {exc}".splitlines()[0]
        return check
    finally:
        engine.close()
    verdict = judge(durations, check.device)
    check.steps, check.p50_ms, check.p99_ms = verdict.steps, round(verdict.p50_ms, 2), round(verdict.p99_ms, 2)
    check.verdict, check.preset = live_verdict(verdict)
    return check


def _timed_step(engine: BaseEngine) -> float:
    started = time.perf_counter()
    engine.step(Conditioning())
    return time.perf_counter() - started


def control_latencies(step_p99_ms: float, audio: dict[str, Any]) -> dict[str, float]:
    """The longest a command would wait to be heard at each latency preset, with this step, on the
    default output: its suggested latency stands for both the device's latency and its block."""
    found = {}
    for name, preset in LATENCY_PRESETS.items():
        device_ms = audio.get("low_latency_ms" if preset.device_latency == "low" else "high_latency_ms") or 0.0
        found[name] = round(control_latency_s(preset.margin_ms / 1000, step_p99_ms / 1000, device_ms / 1000,
                                              device_ms / 1000) * 1000, 1)
    return found


def check_latency(audio: dict[str, Any]) -> dict[str, Any]:
    """The presets' margins, and the control latency each gives with the built-in synth, timed here."""
    from mrtd.engines import create_engine

    synth = create_engine("synth")
    try:
        synth.warm_up(SYNTH_STEPS)
    finally:
        synth.close()
    p99 = synth.verdict.p99_ms if synth.verdict is not None else 0.0
    return {"default": DEFAULT_PRESET, "margin_ms": {name: p.margin_ms for name, p in LATENCY_PRESETS.items()},
            "synth_p99_ms": round(p99, 2), "synth_control_latency_ms": control_latencies(p99, audio)}


# -- advising ------------------------------------------------------------------------------


def _install_extra(mlx: dict[str, Any]) -> str:
    return "pip install -e '.[cuda12]'" if mlx["nvidia"] else "pip install -e '.[cpu]'"


def would_change(check: ModelCheck, mlx: dict[str, Any]) -> list[str]:
    """What would make this model play live (or at the default latency) here."""
    if check.verdict in (LIVE, BROKEN, NOT_TIMED):
        return []
    changes = []
    if not check.name.startswith(SMALLEST_MODEL):
        changes.append(f"the smaller model: mrtd models install {SMALLEST_MODEL}")
    if check.backend == "jax":
        if check.device.startswith("JAX cpu") and mlx["nvidia"]:
            changes.append(f"JAX's CUDA backend, for the {mlx['nvidia']['gpu']} here (driver "
                           f"{mlx['nvidia']['driver']}): pip install 'jax[cuda12]'")
        elif check.device.startswith("JAX cpu"):
            changes.append("a GPU: an NVIDIA GPU with JAX's CUDA backend (pip install 'jax[cuda12]'); "
                           f"a CPU steps it {check.p50_ms / FRAME_BUDGET_MS:.0f}x slower than real time")
        return changes
    if mlx["backend"] == "cpu" and mlx["nvidia"]:
        changes.append(f"the CUDA extra, for the {mlx['nvidia']['gpu']} here (driver {mlx['nvidia']['driver']}): "
                       "pip install -e '.[cuda12]' in a venv without the cpu extra")
    elif mlx["backend"] == "cpu":
        changes.append("a GPU: Apple Silicon (Metal), or an NVIDIA GPU with the cuda12 extra; "
                       f"a CPU steps it {check.p50_ms / FRAME_BUDGET_MS:.0f}x slower than real time")
    else:
        # On a GPU the 8-bit export steps faster; on a CPU it is slower (DESIGN: ~11 s against ~2.5 s).
        changes.append("the 8-bit export of the model (mrtd models list names it)")
    return changes


def auto_backends(checks: list[ModelCheck]) -> dict[str, dict[str, str]]:
    """For each model measured on both backends: the one `backend: auto` plays, and why (the daemon's rule)."""
    by_name: dict[str, dict[str, Verdict]] = {}
    for check in checks:
        if check.verdict not in (BROKEN, NOT_TIMED):
            by_name.setdefault(check.name, {})[check.backend] = Verdict(check.steps, check.p50_ms, check.p99_ms,
                                                                        check.device)
    picked = {}
    for name, verdicts in by_name.items():
        if len(verdicts) > 1:
            backend, why = pick(verdicts)
            picked[name] = {"backend": backend, "why": why}
    return picked


def _run_command(check: ModelCheck, auto: dict[str, dict[str, str]], preset: str | None = None) -> str:
    both = f" --backend {check.backend}" if check.name in auto else ""  # what auto picks, said outright
    return f"mrtd run --engine mrt2 --model {check.name}{both}" + (f" --latency {preset}" if preset else "")


def next_commands(report_models: list[ModelCheck], resources: dict[str, Any], mlx: dict[str, Any],
                  jax: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """The commands to run next on this machine: install, play, render."""
    install: list[str] = []
    jax = jax or {}
    if mlx["error"]:
        install.append(_install_extra(mlx))
    elif mlx["backend"] == "cpu" and mlx["nvidia"]:
        install.append("pip install -e '.[cuda12]'  # in a venv without the cpu extra: MLX on the GPU")
    if any(m.backend == "jax" for m in report_models) and jax.get("error"):
        install.append("pip install -e '.[jax]'  # the JAX checkpoints here need JAX and magenta-rt")
    elif jax.get("device", "").startswith("JAX cpu") and mlx["nvidia"]:
        install.append("pip install 'jax[cuda12]'  # JAX on the GPU")
    auto = auto_backends(report_models)
    # Per model, what `backend: auto` would play: the other backend's figures are in the report.
    usable = [m for m in report_models if m.verdict not in (BROKEN, NOT_TIMED)
              and (m.name not in auto or auto[m.name]["backend"] == m.backend)]
    for broken in (m for m in report_models if m.verdict == BROKEN):
        install.append(f"mrtd models install {broken.name}  # again: {broken.name} is broken")
    if not usable:
        install.append(f"mrtd models install {SMALLEST_MODEL}  # from the hub; offline: --from DIR; "
                       "a rehearsal: --random-weights")
    if not resources["musiccoca"]["present"]:
        install.append("mrtd models install resources  # MusicCoCa (text prompts) and SpectroStream")
    play: list[str] = []
    render: list[str] = []
    live = [m for m in usable if m.verdict == LIVE]
    at_preset = [m for m in usable if m.verdict == LIVE_AT]
    if live:
        play.append(_run_command(live[0], auto))
    elif at_preset:
        play.append(_run_command(at_preset[0], auto, at_preset[0].preset))
    else:
        play.append("mrtd run  # the built-in synth: no model here plays live")
    if usable:
        # A second of audio is 25 steps: say what it costs here, so a slow machine is no surprise.
        per_second = 25 * usable[0].p50_ms / 1000.0
        backend = f" --backend {usable[0].backend}" if usable[0].name in auto else ""
        render.append(f"mrtd render {EXAMPLE_SCENE} -o out.wav --engine mrt2 --model {usable[0].name}{backend} "
                      f"--seconds 1  # about {max(per_second, 0.1):.1f} s here per second of audio")
    else:
        render.append(f"mrtd render {EXAMPLE_SCENE} -o out.wav  # the synth until a model is installed")
    return {"install": install, "play": play, "render": render}


def diagnose(seconds_per_model: float = SECONDS_PER_MODEL, say: Say = lambda line: None) -> DoctorReport:
    """Look, measure every installed model, advise. `say` hears progress as it happens."""
    home = resolve_magenta_home()
    plat = check_platform()
    mlx = check_mlx()
    jax = check_jax()
    audio = check_audio()
    midi = check_midi(audio["jack_running"])
    web = check_web()
    resources = check_resources(home)
    names = installed_models(home)
    if names and not mlx["error"]:
        say(f"{len(names)} model(s) under {home / ASSETS_DIR / 'models'}: each loads, steps once, "
            f"then steps for up to {seconds_per_model:.0f} s")
    checks = []
    for name in names:
        if mlx["error"]:
            paths = model_paths(name, home)
            checks.append(ModelCheck(name, str(paths[0].parent), model_source(paths[0].parent), _size_mb(paths),
                                     verdict=NOT_TIMED, error=f"not timed: {mlx['error']}"))
            continue
        check = time_model(name, home, seconds_per_model, say)
        check.would_change_it = would_change(check, mlx)
        if check.verdict not in (BROKEN, NOT_TIMED):
            check.control_latency_ms = control_latencies(check.p99_ms, audio)
        checks.append(check)
    for name in installed_checkpoints(home):
        if jax["error"]:
            path = checkpoint_path(name, home)
            checks.append(ModelCheck(name, str(path), checkpoint_source(path), _size_mb((path,)), verdict=NOT_TIMED,
                                     error=f"not timed: {jax['error']}", backend="jax"))
            continue
        check = time_model(name, home, seconds_per_model, say, backend="jax")
        jax["device"] = jax["device"] or check.device
        check.would_change_it = would_change(check, mlx)
        checks.append(check)
    return DoctorReport(plat, mlx, audio, midi, web, str(home), resources, checks,
                        next_commands(checks, resources, mlx, jax), jax, auto_backends(checks),
                        check_latency(audio))


# -- telling -------------------------------------------------------------------------------


def verdict_text(check: ModelCheck) -> str:
    if check.verdict == LIVE:
        return "live"
    if check.verdict == LIVE_AT:
        return f"live at a larger latency preset: --latency {check.preset}"
    if check.verdict == OFFLINE_ONLY:
        return "offline only (mrtd render)"
    return "broken"


def format_report(report: DoctorReport) -> str:
    """The report as people read it."""
    p, mlx, audio, midi, web = report.platform, report.mlx, report.audio, report.midi, report.web
    lines = [f"platform   {p['system']} {p['release']} {p['machine']}, Python {p['python']}"]
    if mlx["error"]:
        lines.append(f"MLX        not usable: {mlx['error']}")
    else:
        lines.append(f"MLX        {mlx['version']}, backend {mlx['backend']}: {mlx['device']}")
    jax = report.jax
    if jax.get("installed"):
        lines.append(f"JAX        {jax['version']}, magenta-rt {jax['magenta_rt']}"
                     + (f": {jax['device']}" if jax["device"] else " (no checkpoint here to step)"))
    elif jax:
        lines.append(f"JAX        not installed: {jax['error']}")
    if mlx["nvidia"]:
        lines.append(f"NVIDIA     {mlx['nvidia']['gpu']}, driver {mlx['nvidia']['driver']}"
                     + ("" if mlx["backend"] == "cuda" else " (MLX is not using it: the cuda12 extra does)"))
    if audio["error"]:
        lines.append(f"audio      {audio['error']}")
    else:
        outputs = audio["outputs"]
        lines.append(f"audio      PortAudio: {len(outputs)} output device(s)"
                     + (f", default {audio['default_output']}" if audio["default_output"] else ", no default")
                     + f"; JACK server {'running' if audio['jack_running'] else 'not running'} (mrtd devices lists them)")
    lines.append(f"MIDI       {midi['api'] or 'off'}" + (f": {midi['note']}" if midi["note"] else ""))
    lines.append("web page   " + (web["note"] or f"aiohttp {web['aiohttp']}, prometheus-client {web['prometheus_client']}"))
    latency = report.latency
    if latency:
        names = " / ".join(latency["margin_ms"])
        margins = " / ".join(f"{ms:g}" for ms in latency["margin_ms"].values())
        heard = " / ".join(f"{ms:.0f}" for ms in latency["synth_control_latency_ms"].values())
        device = ("" if audio["low_latency_ms"] else
                  " + the device's buffer (no default output here)")
        lines.append(f"latency    margin {margins} ms ({names}; default {latency['default']}); control to sound "
                     f"with the synth (step p99 {latency['synth_p99_ms']:.1f} ms) up to {heard} ms{device}")
    musiccoca, spectro = report.resources["musiccoca"], report.resources["spectrostream"]
    lines.append(f"MusicCoCa  {'installed' if musiccoca['present'] else 'missing ' + ', '.join(musiccoca['missing'])}"
                 f" ({musiccoca['folder']})")
    lines.append(f"SpectroStream {'installed' if spectro['present'] else 'missing'} ({spectro['file']})")
    if not report.models:
        lines.append(f"models     none under {report.magenta_home}/{ASSETS_DIR}/models")
    for check in report.models:
        on = " on jax" if check.backend == "jax" else ""
        lines.append(f"model      {check.name}{on} ({SOURCE_WORDS.get(check.source, check.source)}, {check.size_mb:.0f} MB, "
                     f"{check.folder})")
        if check.verdict in (BROKEN, NOT_TIMED):
            lines.append(f"  {check.verdict}: {check.error}")
            continue
        lines.append(f"  {check.steps} timed steps on {check.device}: median {check.p50_ms:.1f} ms, "
                     f"p99 {check.p99_ms:.1f} ms against the {FRAME_BUDGET_MS:.0f} ms budget "
                     f"(load {check.load_s:.1f} s, first step {check.first_step_s:.2f} s)")
        lines.append(f"  verdict: {verdict_text(check)}")
        if check.control_latency_ms:
            lines.append("  control to sound up to " + " / ".join(f"{ms:.0f}" for ms in check.control_latency_ms.values())
                         + f" ms ({' / '.join(check.control_latency_ms)})")
        lines.extend(f"  would change it: {change}" for change in check.would_change_it)
    for name, chosen in report.auto_backend.items():
        lines.append(f"backend    auto plays {name} on {chosen['backend']} here: {chosen['why']}")
    lines.append("next:")
    for what in ("install", "play", "render"):
        lines.extend(f"  {what:8s} {command}" for command in report.next[what])
    return "\n".join(lines)
