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

from mrtd.audio.outputs import DEFAULT_LATENCY, LATENCY_PRESETS
from mrtd.engines.base import BaseEngine
from mrtd.engines.mrt2 import SOURCE_WORDS
from mrtd.engines.realtime import REALTIME_HARDWARE, RENDER_HINT, Verdict

log = logging.getLogger("mrtd")


class TooSlowError(ValueError):
    """The chosen model cannot play live here; the message says how fast it is and what to do."""


DEFAULT_PRESET = DEFAULT_LATENCY
DEFAULT_MARGIN_S = LATENCY_PRESETS[DEFAULT_PRESET].margin_ms / 1000.0
LIVE, LIVE_AT, OFFLINE_ONLY = "live", "live-at", "offline-only"


def live_verdict(verdict: Verdict) -> tuple[str, str | None]:
    """What a measured model can do here, as the doctor, the start log and /status say it:
    (LIVE, None) at the default latency; (LIVE_AT, preset) at the first latency preset with a
    wider margin that carries it (`--latency PRESET`); or (OFFLINE_ONLY, None): `mrtd render`."""
    default_margin = LATENCY_PRESETS[DEFAULT_PRESET].margin_ms
    if verdict.fits_margin(default_margin):
        return LIVE, None
    for name, preset in sorted(LATENCY_PRESETS.items(), key=lambda item: item[1].margin_ms):
        if preset.margin_ms > default_margin and verdict.fits_margin(preset.margin_ms):
            return LIVE_AT, name
    return OFFLINE_ONLY, None


def verdict_word(verdict: Verdict | None) -> str:
    """The verdict as one token for /status (no spaces: Pd splits on them): live, live-at-safe,
    offline-only, or "" when nothing was measured."""
    if verdict is None:
        return ""
    word, preset = live_verdict(verdict)
    return f"{word}-{preset}" if preset else word


BUILT_IN = "built-in"


def model_source_of(engine: BaseEngine | None) -> str:
    """Where the engine's model came from: the mrt2 folder's marker, or "built-in" (the synth)."""
    return str(getattr(engine, "source", BUILT_IN)) if engine is not None else ""


def source_words(engine: BaseEngine | None) -> str:
    """The source in words for the log: "random weights", "downloaded", "built-in"."""
    source = model_source_of(engine)
    return SOURCE_WORDS.get(source, source)


def model_line(status: dict) -> str:
    """The model's source, backend and verdict in words, from /status's tokens, for the page's
    header: "random weights · jax · offline only"; "" for the built-in synth, which needs none."""
    source, verdict = str(status.get("model_source") or ""), str(status.get("model_verdict") or "")
    backend = str(status.get("backend") or "")  # mlx | jax: what steps the model (engines/backends.py)
    if source in ("", BUILT_IN):
        return ""
    if verdict.startswith(LIVE_AT + "-"):
        verdict_text = f"live at --latency {verdict[len(LIVE_AT) + 1:]}"
    else:
        verdict_text = verdict.replace("-", " ")
    return " · ".join(part for part in (SOURCE_WORDS.get(source, source), backend, verdict_text) if part)


def too_slow_message(engine: BaseEngine, margin_s: float | None = None) -> str | None:
    """Why `engine` cannot play live on this machine with `margin_s` of margin, or None when it
    keeps up (or was never measured). A wider margin (--latency safe) carries a model whose p99
    step overruns the frame but whose median keeps up (Verdict.fits_margin)."""
    verdict = engine.verdict
    margin = DEFAULT_MARGIN_S if margin_s is None else margin_s
    if verdict is None or verdict.fits_margin(margin * 1000.0) or engine.name == "synth":
        return None
    word, preset = live_verdict(verdict)
    hint = f"; it plays live at --latency {preset}" if word == LIVE_AT else ""
    return f"{engine.describe()} cannot keep up: {verdict.describe()} ({REALTIME_HARDWARE}){hint}"


def choose_live_engine(engine: BaseEngine, requested: str, allow_slow: bool,
                       make_synth: Callable[[], BaseEngine] | None,
                       margin_s: float | None = None) -> tuple[BaseEngine, str]:
    """The engine to play live, and a note for the log and /status ("" when there is nothing to say).

    `requested` is the engine the user asked for ("auto" lets the synth stand in through
    `make_synth`); anything else, a swap included, is refused with TooSlowError. `margin_s`:
    the run's margin (None: the default preset's).
    """
    reason = too_slow_message(engine, margin_s)
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
