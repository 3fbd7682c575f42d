"""Which warm engine plays live: a model that cannot keep up does not, unless the user says so.

A step slower than the 40 ms frame means 40 ms of music and then silence,
over and over; nobody wants that by accident. So after warm-up:
- `engine: auto` plays the synth instead and says why;
- an explicit `mrt2` refuses to start, pointing to `mrtd render`;
- `allow_slow` (--allow-slow) plays it anyway, with a warning.
"""

from __future__ import annotations

import logging
from typing import Callable

from mrtd.engines.base import BaseEngine
from mrtd.engines.realtime import REALTIME_HARDWARE, RENDER_HINT

log = logging.getLogger("mrtd")


class TooSlowError(ValueError):
    """The chosen model cannot play live here; the message says how fast it is and what to do."""


def too_slow_message(engine: BaseEngine) -> str | None:
    """Why `engine` cannot play live on this machine, or None when it keeps up (or was never measured)."""
    verdict = engine.verdict
    if verdict is None or verdict.keeps_up or engine.name == "synth":
        return None
    return f"{engine.describe()} cannot keep up: {verdict.describe()} ({REALTIME_HARDWARE})"


def choose_live_engine(engine: BaseEngine, requested: str, allow_slow: bool,
                       make_synth: Callable[[], BaseEngine] | None) -> tuple[BaseEngine, str]:
    """The engine to play live, and a note for the log and /status ("" when there is nothing to say).

    `requested` is the engine the user asked for ("auto" lets the synth stand in through
    `make_synth`); anything else, a swap included, is refused with TooSlowError.
    """
    reason = too_slow_message(engine)
    if reason is None:
        return engine, ""
    if allow_slow:
        note = f"{reason}; playing it live anyway (--allow-slow): expect gaps"
        log.warning("%s", note)
        return engine, note
    if requested == "auto" and make_synth is not None:
        engine.close()
        note = f"engine auto: {reason}, so the synth plays instead; {RENDER_HINT}"
        log.warning("%s", note)
        return make_synth(), note
    engine.close()
    raise TooSlowError(f"refusing live playback: {reason}; {RENDER_HINT}, or pass --allow-slow to play it live anyway")
