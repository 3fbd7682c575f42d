"""`mrtd` on the command line."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from mrtd import __version__
from mrtd.app.logs import setup_logging
from mrtd.engines import ENGINE_NAMES
from mrtd.engines.backends import BACKENDS

if TYPE_CHECKING:
    from mrtd.core.scene.isolated import SceneParser

log = logging.getLogger("mrtd")

EXIT_TOO_SLOW = 78  # sysexits' EX_CONFIG: the model cannot play live on this machine (see _run)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mrtd", description="Play a real-time music model live.")
    parser.add_argument("--version", action="version", version=f"mrtd {__version__}")
    parser.add_argument("--log-level", default=argparse.SUPPRESS, choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the daemon in the foreground",
                              description="Flags override the config file; the file's keys are in docs/config.md.")
    # Settings flags default to "not given" (SUPPRESS), so only the flags a person typed
    # override the config file. Each dest is the setting's name in the file.
    given = argparse.SUPPRESS
    run.add_argument("--config", default=None, help="YAML config file (see docs/config.md)")
    run.add_argument("--seconds", type=float, default=None, help="stop after this long (default: run until Ctrl-C)")
    run.add_argument("--engine", default=given, choices=ENGINE_NAMES)
    run.add_argument("--model", default=given, help="mrt2 model name (default mrt2_small)")
    run.add_argument("--backend", default=given, choices=BACKENDS,
                     help="what steps mrt2: mlx, jax (the jax extra), auto: the fastest installed here (default)")
    run.add_argument("--output", dest="output_list", action="append", default=given,
                     help="default | device:NAME | wav:PATH | flac:PATH | pipe:[s16le:|f32le:]PATH-or-- | null;"
                     " repeatable: the device (else the first) is the clock master, the rest are sinks")
    run.add_argument("--channels", default=given, help="device channels for the stereo pair, 1-based (e.g. 3,4)")
    run.add_argument("--mono", action="store_const", const=True, default=given, help="fold to mono (on channel 1, or the one --channels names)")
    run.add_argument("--device-channels", type=int, default=given, help="open the device with this many channels")
    run.add_argument("--device-rate", type=int, default=given, help="device sample rate (default: 48000 if it takes it)")
    run.add_argument("--jack-port", dest="jack_ports", action="append", default=given, help="JACK: connect the routed channels here, in order (repeatable)")
    run.add_argument("--latency", default=given, type=_latency, metavar="low|balanced|safe|MS",
                     help="the margin kept ahead of what a step takes, and the device buffer, together (docs/audio.md):"
                     " a preset (default balanced) or a margin in milliseconds, e.g. --latency 15")
    run.add_argument("--lead", dest="lead_frames", type=int, default=given,
                     help="the old form of the margin: N frames of 40 ms (--lead 3 is --latency 120)")
    run.add_argument("--prompt", default=given, help="style prompt text")
    run.add_argument("--seed", type=int, default=given)
    run.add_argument("--allow-slow", action="store_const", const=True, default=given,
                     help="play a model live even when this machine steps it slower than real time (else: mrtd render)")
    run.add_argument("--keep-warm", action="store_const", const=True, default=given, help="mrt2: keep the GPU busy between frames")
    run.add_argument("--no-fallback", dest="fallback_engine", action="store_const", const=None, default=given,
                     help="fail instead of playing synth when the model cannot load")
    run.add_argument("--scene", default=given, help="a scene file to play (watched: saving it reloads it)")
    run.add_argument("--scene-dir", default=given, help="folder /mrt/scene/load may load from")
    run.add_argument("--record-dir", default=given, help="folder /mrt/record/start writes to")
    run.add_argument("--state-dir", default=given, help="keep the state journal here and resume from it after a restart")
    run.add_argument("--fresh", dest="resume", action="store_const", const=False, default=given, help="ignore the journal: start fresh")
    run.add_argument("--midi-port", dest="midi_ports", action="append", default=given, help="open MIDI inputs whose name contains this (repeatable)")
    run.add_argument("--no-midi", dest="midi", action="store_const", const=False, default=given, help="no MIDI input")
    run.add_argument("--tempo-source", default=given, choices=["internal", "midi", "link"],
                     help="follow the tempo of: scenes/OSC/Tidal (internal), MIDI clock in, or Ableton Link (the link extra)")
    run.add_argument("--listen", default=given,
                     help="audio in to follow: default | device:NAME | jack | jack:PORT_L,PORT_R | wav:PATH (looped); the listen extra")
    run.add_argument("--follow", type=_follow_list, default=given,
                     help="what follows --listen from the start: notes,tempo,style (comma separated; each switchable live)")
    run.add_argument("--osc-port", type=int, default=given)
    run.add_argument("--osc-bind", default=given, help="address to listen on; off loopback it needs --osc-allow")
    run.add_argument("--osc-allow", action="append", default=given, help="client network allowed to send (CIDR, repeatable)")
    run.add_argument("--no-osc", dest="osc", action="store_const", const=None, default=given)
    run.add_argument("--web-port", type=int, default=given, help="web control page port (default 7401)")
    run.add_argument("--web-bind", default=given, help="address the web page listens on; off loopback it needs the allow-list, and prints a token URL")
    run.add_argument("--no-web", dest="web", action="store_const", const=None, default=given, help="no web control page")
    run.add_argument("--discovery", action="store_const", const=True, default=given, help="advertise OSC over mDNS (zeroconf extra)")
    run.add_argument("--log-json", action="store_const", const=True, default=given, help="log one JSON object per line")
    run.add_argument("--capture", default=given, metavar="PATH",
                     help="write every change to the music to this new file, for `mrtd render --replay`")

    check = commands.add_parser("check", help="validate scene files and a config file; every error at once")
    check.add_argument("scenes", nargs="*")
    check.add_argument("--audio-dir", help="the daemon's audio folder, where audio prompts are also looked for")
    check.add_argument("--config", help="a config file to check as `mrtd run --config` would read it, folders included")
    render = commands.add_parser("render", help="render a scene's cue timeline, or a captured session, offline to a WAV file")
    render.add_argument("scene", nargs="?", help="the scene file to render (or --replay a capture instead)")
    render.add_argument("--replay", metavar="CAPTURE", default=None,
                        help="play again a session `mrtd run --capture` wrote: with its engine, model and seed "
                             "unless --engine, --model, --seed say otherwise")
    render.add_argument("-o", "--output", required=True,
                        help="WAV file to write: a new name (never a symlink, never the scene or a file it reads)")
    render.add_argument("--overwrite", action="store_true", help="replace the plain file at --output if there is one")
    render.add_argument("--seconds", type=float, default=None,
                        help="length (default: to the last cue's end; a day for a scene on the clock; a replay: to "
                             "where the session stopped; over an hour only when asked for here)")
    render.add_argument("--start", default=None,
                        help='wall-clock time the render starts at, for a scene on the clock: "13:59:55" '
                             "(today, in the scene's zone) or an ISO date and time (default: now)")
    render.add_argument("--seed", type=int, default=None, help="the engine's seed (default 0; a replay: the capture's)")
    render.add_argument("--engine", default=None, choices=ENGINE_NAMES,
                        help="synth, mrt2 (any speed: a slow machine just takes longer), or auto (mrt2 when installed); "
                             "default synth, a replay: the capture's (and its engine swaps)")
    render.add_argument("--model", default=None, help="mrt2 model name under $MAGENTA_HOME (default mrt2_small)")
    render.add_argument("--backend", default="auto", choices=BACKENDS,
                        help="what steps mrt2: mlx, jax (the jax extra), auto: the fastest installed here (default)")
    render.add_argument("--musiccoca-dir", default=None, help="MusicCoCa files (default: under $MAGENTA_HOME)")
    render.add_argument("--state-dir", default=None,
                        help="a replay: the state folder the session ran with, whose banks its /mrt/state/load "
                             "and cue `state:` loads are loaded from again (a bank saved over since, or no folder: "
                             "the replay swaps to a fresh engine there, and says so)")
    commands.add_parser("scene-schema", help="print the scene JSON Schema (for editors)")

    token = commands.add_parser("web-token", help="print the web page's URL with the token kept in the state folder",
                                description="The token a daemon with this state folder serves the page with "
                                "(kept across restarts). --rotate makes a new one: a running mrtd takes it at its next start.")
    where = token.add_mutually_exclusive_group()
    where.add_argument("--config", help="the config file `mrtd run` reads (its state_dir and web settings)")
    where.add_argument("--state-dir", help="the state folder (default: the config's)")
    token.add_argument("--rotate", action="store_true", help="make a new token (the old URL stops working at the next start)")
    _models_parser(commands)
    doctor = commands.add_parser("doctor", help="what this machine can do: models timed, and the commands to run next",
                                 description="Looks at MLX, audio, MIDI, the web page's packages, the installed models "
                                 "and resources; times each model on this device against the 40 ms budget "
                                 "(live, live at a larger latency preset, or offline only); ends with the commands to run.")
    doctor.add_argument("--json", action="store_true", help="print one JSON object (its shape: docs/doctor.md)")
    doctor.add_argument("--seconds", type=float, default=None,
                        help="timed steps per model, in seconds (default 20; a slow model still gets 2 steps)")
    commands.add_parser("devices", help="list audio output devices")
    commands.add_parser("osc-reference", help="print the OSC reference page (docs/osc.md)")
    commands.add_parser("config-reference", help="print the config file reference (docs/config.md)")

    send = commands.add_parser("send", help="send one OSC message to a running mrtd and print its replies")
    send.add_argument("address", help="e.g. /mrt/temperature")
    send.add_argument("args", nargs="*", help="arguments, read as int, then float, else text; s:TEXT, i:INT, f:FLOAT give the type (s:123 sends the text 123)")
    send.add_argument("-q", "--quiet", action="store_true", help="print nothing when the daemon took the message (replies and errors still)")
    status = commands.add_parser("status", help="print a running mrtd's status")
    for client_command in (send, status):
        client_command.add_argument("--host", default="127.0.0.1")
        client_command.add_argument("--port", type=int, default=7400)
        client_command.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the daemon")
    return parser


def _follow_list(value: str) -> list[str]:
    from mrtd.app.listening import check_follow

    try:
        return check_follow([part.strip() for part in value.split(",") if part.strip()])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _latency(text: str) -> str | float:
    """--latency's value: a preset's name as it is, a margin in milliseconds as a number."""
    from mrtd.audio.outputs import LATENCY_PRESETS, parse_latency

    try:
        preset = parse_latency(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip() if text.strip() in LATENCY_PRESETS else preset.margin_ms


def _models_parser(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="the MRT2 models and resources here, and installing them",
                                 description="Assets live under $MAGENTA_HOME/magenta-rt-v2/ (MAGENTA_HOME defaults to "
                                 "~/Documents/Magenta, or the config's magenta_home).")
    what = models.add_subparsers(dest="models_command", required=True)
    listing = what.add_parser("list", help="every known model and resource set: installed or not, where, size, "
                              "whether it loads here")
    listing.add_argument("--hub", action="store_true", help="also ask the hub which models it offers (needs internet)")
    install = what.add_parser("install", help="install a model (or `resources`: MusicCoCa and SpectroStream)",
                              description="Downloads from the hub the official tool uses (google/magenta-realtime-2; "
                              "HF_TOKEN, HF_ENDPOINT and the hub's cache honoured), or copies from --from DIR, or makes "
                              "random weights with the official exporter; checks it on this machine, then puts it in place.")
    install.add_argument("name", help="mrt2_small, mrt2_base, another model the hub lists, or `resources`")
    source = install.add_mutually_exclusive_group()
    source.add_argument("--from", dest="from_dir", metavar="DIR",
                        help="install from a folder (a USB stick): the model's own folder or a whole magenta-rt-v2 tree")
    source.add_argument("--random-weights", action="store_true",
                        help="the real architecture with random weights, from the official exporter (needs magenta-rt)")
    install.add_argument("--revision", default=None, help="the hub revision (branch, tag or commit; default main)")
    install.add_argument("--small", action="store_true", help="--random-weights: one layer each (exports in a minute)")
    install.add_argument("--num-layers", type=int, default=None, help="--random-weights: the exporter's --num-layers")
    install.add_argument("--depth-num-layers", type=int, default=None,
                         help="--random-weights: the exporter's --depth-num-layers")
    install.add_argument("--backend", default="mlx", choices=("mlx", "jax"),
                         help="mlx: the exported model under models/ (default); jax: the checkpoint under checkpoints/ "
                         "(--random-weights only; the official one: `mrt checkpoints download`)")
    for command in (listing, install):
        command.add_argument("--config", default=None, help="the config file `mrtd run` reads (its magenta_home)")
        command.add_argument("--magenta-home", default=None, help="the asset root (default $MAGENTA_HOME)")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)  # it sets logging up from the config file and the flags
    setup_logging(getattr(args, "log_level", "info"))
    if args.command == "devices":
        return _devices()
    if args.command == "doctor":
        return _doctor(args)
    if args.command == "config-reference":
        from mrtd.app.configdoc import config_markdown

        sys.stdout.write(config_markdown())
        return 0
    if args.command == "osc-reference":
        from mrtd.app.configdoc import osc_markdown

        sys.stdout.write(osc_markdown())
        return 0
    if args.command == "check":
        if not args.scenes and args.config is None:
            parser.error("check what? name scene files, or --config FILE")
        config_failed = _check_config(args.config) if args.config is not None else 0
        return max(config_failed, _check(args.scenes, args.audio_dir) if args.scenes else 0)
    if args.command == "render":
        if (args.scene is None) == (args.replay is None):
            parser.error("render what? name a scene file, or --replay a capture (not both)")
        if args.replay is not None and args.start is not None:
            parser.error("--start is for a scene on the clock; a replay starts where its capture did")
        if args.replay is None and args.state_dir is not None:
            parser.error("--state-dir is for a replay (its bank loads); a scene's cues load no banks offline")
        return _render(args)
    if args.command == "web-token":
        return _web_token(args)
    if args.command == "scene-schema":
        import json

        from mrtd.core.scene.loader import json_schema

        print(json.dumps(json_schema(), indent=2))
        return 0
    if args.command == "models":
        return _models(args)
    if args.command in ("send", "status"):
        from mrtd.client import command_send, command_status

        return command_send(args) if args.command == "send" else command_status(args)
    return _run(args)


def _devices() -> int:
    from mrtd.audio.outputs import OutputError, list_devices

    try:
        print(list_devices())
    except OutputError as exc:
        print(f"mrtd: {exc}", file=sys.stderr)
        return 1
    return 0


def _models(args: argparse.Namespace) -> int:
    """`mrtd models list|install`; every failure one line on stderr, never a traceback."""
    from mrtd.app import hub
    from mrtd.app.config import ConfigError, load_settings
    from mrtd.app.models import (RESOURCES, InstallError, format_list, human_size, install_model_from_folder,
                                 install_jax_random_weights, install_model_from_hub, install_random_weights,
                                 install_resources_from_folder,
                                 install_resources_from_hub, list_assets)

    logging.getLogger("httpx2").setLevel(logging.WARNING)  # the hub client's HTTP library: a line per request
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        # The config's magenta_home (else $MAGENTA_HOME) becomes $MAGENTA_HOME, as for `mrtd run`.
        load_settings(args.config, {"magenta_home": args.magenta_home} if args.magenta_home else {})
    except (ConfigError, ValueError, TypeError) as exc:
        print("\n".join(exc.errors) if isinstance(exc, ConfigError) else f"mrtd: {exc}", file=sys.stderr)
        return 2
    try:
        if args.models_command == "list":
            print(format_list(list_assets()))
            if args.hub:
                print(f"on the hub ({hub.REPO_ID}): {', '.join(hub.list_models()) or 'no models'}")
            return 0
        if args.name == RESOURCES:
            if args.random_weights:
                print("mrtd: --random-weights makes models, not resources", file=sys.stderr)
                return 2
            done = install_resources_from_folder(args.from_dir) if args.from_dir else install_resources_from_hub(
                revision=args.revision)
        elif args.backend == "jax" and not args.random_weights:
            print("mrtd: --backend jax installs --random-weights only; the official checkpoint comes with "
                  f"`mrt checkpoints download` (magenta-rt's command, the jax extra), into {args.name}.safetensors "
                  "under $MAGENTA_HOME/magenta-rt-v2/checkpoints/, where the jax backend reads it", file=sys.stderr)
            return 2
        elif args.backend == "jax":
            layers = 1 if args.small else None
            print(f"making {args.name} with random weights through the official JAX model classes "
                  "(a minute or more: it initialises, writes, then loads and steps it)...", file=sys.stderr)
            done = [install_jax_random_weights(args.name, num_layers=args.num_layers or layers,
                                               depth_num_layers=args.depth_num_layers or layers)]
        elif args.from_dir:
            done = [install_model_from_folder(args.name, args.from_dir)]
        elif args.random_weights:
            layers = 1 if args.small else None
            print(f"exporting {args.name} with random weights through the official exporter "
                  "(a minute or more)...", file=sys.stderr)
            done = [install_random_weights(args.name, num_layers=args.num_layers or layers,
                                           depth_num_layers=args.depth_num_layers or layers)]
        else:
            done = [install_model_from_hub(args.name, revision=args.revision)]
    except (InstallError, hub.HubError) as exc:
        print(f"mrtd: {exc}", file=sys.stderr)
        return 1
    for installed in done:
        print(f"{installed.name}: installed at {installed.folder} ({human_size(installed.size)}, "
              f"{installed.source})")
        for line in installed.checks:
            print(f"  {line}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    import json

    from mrtd.app.doctor import SECONDS_PER_MODEL, diagnose, format_report

    seconds = SECONDS_PER_MODEL if args.seconds is None else max(0.0, args.seconds)
    # Progress (what is timed, and for how long) goes to stderr, so --json's stdout stays one object.
    report = diagnose(seconds, say=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(report.as_json(), indent=2) if args.json else format_report(report))
    return 0


def _check_config(path: str) -> int:
    """The checks `mrtd run --config PATH` makes before it starts (the same call), as this user:
    folders on this machine included, and the scene it names as `mrtd check SCENE` checks it."""
    from mrtd.app.config import ConfigError, settings_for_start

    try:
        settings, notes = settings_for_start(path, {})
    except ConfigError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    for note in notes:
        print(f"{path}: {note}", file=sys.stderr)
    if settings.scene is not None and _check([settings.scene], settings.audio_dir):
        return 1
    print(f"{path}: ok")
    return 0


def _web_token(args: argparse.Namespace) -> int:
    """Print the page's URL with the kept token (a new one with --rotate); the address as `mrtd run` picks it."""
    from mrtd.app.config import ConfigError, load_settings
    from mrtd.app.web_surface import machine_addresses, url_host
    from mrtd.app.web_token import kept_token, token_path, write_token
    from mrtd.inputs.web.config import WebConfig

    try:
        settings = load_settings(args.config, {} if args.state_dir is None else {"state_dir": args.state_dir})
    except (ConfigError, ValueError, TypeError) as exc:
        log.error("%s", "\n".join(exc.errors) if isinstance(exc, ConfigError) else exc)
        return 2
    web = settings.web or WebConfig()
    if settings.state_dir is None:
        log.error("no state folder to keep the token in: name one with --state-dir or the config's state_dir")
        return 2
    if web.token is not None:
        log.warning("the config sets the token, which wins over the kept one: that is the one printed")
        token = web.token
    else:
        try:
            token = write_token(settings.state_dir) if args.rotate else kept_token(settings.state_dir)
        except OSError as exc:
            log.error("cannot write %s: %s", token_path(settings.state_dir), exc.strerror or exc)
            return 1
    osc_allow = settings.osc.allow if settings.osc is not None else []
    networks = [ipaddress.ip_network(n, strict=False) for n in (web.allow or osc_allow)]
    host, warning = url_host(web.bind, networks, machine_addresses())
    if warning:
        log.warning("%s", warning)
    where = host or web.bind
    print(f"http://{f'[{where}]' if ':' in where else where}:{web.port}/?token={token}")
    if web.loopback:
        log.info("the page listens on %s, where it asks for no token; the token is for web.bind off loopback", web.bind)
    if args.rotate and web.token is None:
        log.info("new token kept in %s; a running mrtd serves it from its next start (systemctl restart mrtd)",
                 token_path(settings.state_dir))
    return 0


def _check(paths: list[str], audio_dir: str | None = None) -> int:
    from mrtd.core.scene.isolated import SceneParser

    folders = (audio_dir,) if audio_dir else ()
    # The daemon's own parser: the same load in a child bounded in memory and time, which answers
    # any failure as one line, so a check refuses what a load refuses and never prints a traceback.
    parser = SceneParser()
    try:
        failed = sum(_check_one(parser, path, folders) for path in paths)
    finally:
        parser.close()
    return 1 if failed else 0


def _check_one(parser: "SceneParser", path: str, folders: tuple[str, ...]) -> int:
    """1 when loading the scene at `path` would be refused (its errors on stderr), else 0."""
    from pathlib import Path

    from mrtd.core.scene.audio_refs import audio_prompt_report
    from mrtd.core.scene.loader import SceneError

    try:
        scene = parser.load(Path(path), None, folders)
    except SceneError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    audio_errors, audio_warnings = audio_prompt_report(scene, Path(path), folders)  # what loading would say
    if audio_errors:
        print("\n".join(audio_errors), file=sys.stderr)
        return 1
    if audio_warnings:
        print("\n".join(audio_warnings), file=sys.stderr)
    print(f"{path}: ok ({len(scene.prompts)} prompts, {len(scene.cues)} cues, {len(scene.mappings)} mappings)")
    return 0


def _render(args: argparse.Namespace) -> int:
    import time

    from mrtd.app.render import OutputRefused, TooLong, render_replay, render_scene, start_time
    from mrtd.core.capture import CaptureError
    from mrtd.core.scene.loader import SceneError

    setup_logging("info")  # which engine and style render, and the MusicCoCa warning, on stderr
    started = time.perf_counter()
    try:
        if args.replay is not None:
            result = render_replay(args.replay, args.output, args.seconds, args.engine, args.model, args.seed,
                                   musiccoca_folder=args.musiccoca_dir, overwrite=args.overwrite, backend=args.backend,
                                   state_dir=args.state_dir)
        else:
            start = start_time(args.start, args.scene) if args.start is not None else None
            result = render_scene(args.scene, args.output, args.seconds, args.seed or 0, args.engine or "synth",
                                  model=args.model, musiccoca_folder=args.musiccoca_dir, start=start,
                                  overwrite=args.overwrite, backend=args.backend)
    except CaptureError as exc:
        print(f"not rendered: {exc}", file=sys.stderr)
        return 2
    except SceneError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    except TooLong as exc:
        print(f"{args.output}: not written: {exc}", file=sys.stderr)
        return 2
    except OutputRefused as exc:
        print(f"not written: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a missing or broken model (ModelError), a bad engine: one line, no traceback
        log.error("%s", exc)
        return 2
    elapsed = time.perf_counter() - started
    audio_s = result.frames / 25
    print(f"{args.output}: {audio_s:.1f} s of audio in {elapsed:.1f} s ({audio_s / elapsed:.2f}x real time) "
          f"with {result.engine}, {len(result.cues_fired)} cues, peak {result.peak:.3f}"
          + (" (interrupted: the file holds what was rendered)" if result.interrupted else ""))
    return 130 if result.interrupted else 0


def _run(args: argparse.Namespace) -> int:
    from mrtd.app.config import ConfigError, settings_for_start
    from mrtd.app.daemon import Daemon
    from mrtd.core.engine_choice import TooSlowError
    from mrtd.audio.outputs import OutputError

    overrides = {k: v for k, v in vars(args).items() if k not in ("command", "config", "seconds", "output_list")}
    if "output_list" in vars(args):
        overrides["output"], overrides["outputs"] = args.output_list[0], args.output_list[1:]
    try:
        settings, notes = settings_for_start(args.config, overrides)
    except (ConfigError, ValueError, TypeError) as exc:
        setup_logging("info")
        log.error("%s", exc)
        return 2
    setup_logging(settings.log_level, settings.log_json)
    for note in notes:
        log.warning("%s", note)
    daemon = Daemon(settings.daemon_config())
    done = threading.Event()

    def on_signal(signum, _frame):
        log.info("received %s, stopping", signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        daemon.start()
    except TooSlowError as exc:
        # Not a failure a restart mends: the units name this code in RestartPreventExitStatus, so
        # systemd does not warm a too-slow model again and again (each warm-up takes seconds).
        log.error("%s", exc)
        daemon.stop()
        return EXIT_TOO_SLOW
    except (OutputError, ValueError, OSError) as exc:  # SceneError is a ValueError: all its lines show
        log.error("%s", exc)
        daemon.stop()
        return 2
    log.info("ready")
    try:
        wait_for_stop(done, args.seconds)
    finally:
        status = daemon.status()
        daemon.stop()
        log.info("stopped after %d frames, %d underruns", status["frames"], status["underruns"])
    return 0


SIGNAL_CHECK_S = 0.5


def wait_for_stop(done: threading.Event, seconds: float | None) -> None:
    """Wait until a signal handler sets `done`, or `seconds` pass (None: forever).

    In short waits, not one long one: the kernel may hand SIGTERM to any thread that does not
    block it, and then the main thread, asleep on a lock, would never run the Python handler
    (seen once in a full test run: a daemon that outlived its SIGTERM). Each wake runs any
    handler a signal left pending, so a stop is never more than half a second late."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        left = SIGNAL_CHECK_S if deadline is None else min(SIGNAL_CHECK_S, deadline - time.monotonic())
        if left <= 0 or done.wait(left):
            return


if __name__ == "__main__":
    sys.exit(main())
