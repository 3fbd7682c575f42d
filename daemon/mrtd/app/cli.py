"""`mrtd` on the command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from mrtd import __version__
from mrtd.engines import ENGINE_NAMES

log = logging.getLogger("mrtd")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mrtd", description="Play a real-time music model live.")
    parser.add_argument("--version", action="version", version=f"mrtd {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the daemon in the foreground")
    run.add_argument("--engine", default="auto", choices=ENGINE_NAMES)
    run.add_argument("--model", default=None, help="mrt2 model name (default mrt2_small)")
    run.add_argument("--output", default="default", help="default | device:NAME | wav:PATH | null")
    run.add_argument("--seconds", type=float, default=None, help="stop after this long (default: run until Ctrl-C)")
    run.add_argument("--prompt", default=None, help="style prompt text")
    run.add_argument("--lead", type=int, default=3, help="frames generated ahead of the output (40 ms each)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--keep-warm", action="store_true", help="mrt2: keep the GPU busy between frames")
    run.add_argument("--no-fallback", action="store_true", help="fail instead of playing synth when the model cannot load")

    commands.add_parser("devices", help="list audio output devices")
    commands.add_parser("osc-reference", help="print the OSC reference page (docs/osc.md)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "devices":
        return _devices()
    if args.command == "osc-reference":
        from mrtd.inputs.osc.table import reference_markdown

        sys.stdout.write(reference_markdown())
        return 0
    return _run(args)


def _devices() -> int:
    from mrtd.audio.outputs import OutputError, list_devices

    try:
        print(list_devices())
    except OutputError as exc:
        print(f"mrtd: {exc}", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.audio.outputs import OutputError

    config = DaemonConfig(
        engine=args.engine,
        model=args.model,
        output=args.output,
        lead_frames=args.lead,
        prompt=args.prompt,
        seed=args.seed,
        keep_warm=args.keep_warm,
        fallback_engine=None if args.no_fallback else "synth",
    )
    daemon = Daemon(config)
    done = threading.Event()

    def on_signal(signum, _frame):
        log.info("received %s, stopping", signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        daemon.start()
    except (OutputError, ValueError, FileNotFoundError) as exc:
        log.error("%s", exc)
        daemon.stop()
        return 2
    log.info("ready")
    try:
        done.wait(args.seconds)
    finally:
        status = daemon.status()
        daemon.stop()
        log.info("stopped after %d frames, %d underruns", status["frames"], status["underruns"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
