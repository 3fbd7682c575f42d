"""What the live coders' dialects (SuperDirt events, ORCA) share: their settings, counters and errors.

Live coders send many events a second, most carrying keys meant for SuperDirt's
sampler (`room`, `speed` ...). Refusing each would flood the sender with
errors, so unknown keys are ignored and counted (visible in `/mrt/status`),
and a value of the wrong type gets one error per key per second at most.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

SOUND_MEANINGS = ("note", "param:<name>", "cue", "cue:<name>", "prompt:<name>", "ignore")
TYPE_ERROR_INTERVAL = 1.0  # seconds between two errors about the same key
MAX_REMEMBERED_NAMES = 16  # unknown key names shown in status


@dataclass
class DirtConfig:
    """`dirt:` in the config file. `select` is the key that says what an event means (SuperDirt: `s`);
    `sounds` maps its values to meanings: note, param:NAME, cue, cue:NAME, prompt:NAME or ignore."""

    select: str = "s"
    sounds: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from mrtd.vocabulary.params import PARAMS

        if not isinstance(self.select, str) or not self.select or len(self.select) > 64:
            raise ValueError("dirt.select is the name of an event key, e.g. s")
        if len(self.sounds) > 1000:
            raise ValueError("dirt.sounds holds at most 1000 sounds")
        for sound, meaning in self.sounds.items():
            kind, _, target = str(meaning).partition(":")
            if kind not in ("note", "param", "cue", "prompt", "ignore") or (kind in ("param", "prompt") and not target):
                raise ValueError(f"dirt.sounds.{sound}: {meaning!r} is not one of {', '.join(SOUND_MEANINGS)}")
            if kind == "param" and target not in PARAMS:
                raise ValueError(f"dirt.sounds.{sound}: no parameter {target!r} (one of {', '.join(PARAMS)})")


class Dialects:
    """One per daemon: the dialect settings, counters, and read-only views of the state handlers consult."""

    def __init__(
        self,
        config: DirtConfig | None = None,
        prompt_names: Callable[[], list[str]] = list,
        bpm: Callable[[], float] = lambda: 120.0,
    ) -> None:
        self.config = config or DirtConfig()
        self.prompt_names = prompt_names  # from the published snapshot, sorted by name
        self.bpm = bpm
        self.events = 0
        self.unknown_keys = 0
        self.type_errors = 0
        self._unknown_names: dict[str, None] = {}  # insertion-ordered, bounded
        self._last_error: dict[str, float] = {}
        self._lock = threading.Lock()  # UDP and TCP clients arrive on different threads

    def unknown(self, names: list[str]) -> None:
        with self._lock:
            self.unknown_keys += len(names)
            for name in names:
                self._unknown_names.pop(name[:32], None)
                self._unknown_names[name[:32]] = None
            while len(self._unknown_names) > MAX_REMEMBERED_NAMES:
                self._unknown_names.pop(next(iter(self._unknown_names)))

    def type_error(self, key: str, now: float | None = None) -> bool:
        """Count a wrong value; True when the sender should hear about it (once a second per key)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self.type_errors += 1
            if len(self._last_error) > 1000:
                self._last_error.clear()
            if now - self._last_error.get(key, -1e9) < TYPE_ERROR_INTERVAL:
                return False
            self._last_error[key] = now
            return True

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "dialect_events": self.events,
                "dialect_unknown_keys": self.unknown_keys,
                "dialect_unknown": ",".join(self._unknown_names),
                "dialect_type_errors": self.type_errors,
            }
