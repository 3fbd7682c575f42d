"""What `mrtd render` shows while it works, and how it stops when asked.

A render of the real model on a CPU takes minutes per second of audio, so a
terminal gets a progress bar with an ETA (on stderr, redrawn at most a few
times a second); a pipe or a log file gets nothing. While the bar is on screen,
log lines written to the same stream go through it: the bar's line is cleared,
the log line written, and the bar drawn again below it (else a warning lands in
the middle of the bar). SIGINT/SIGTERM set a flag
that the render loop reads between frames, so it stops on a frame boundary
and the WAV is closed properly: what was rendered stays playable.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from typing import Any, Callable, TextIO

from mrtd.app.logs import writers

from mrtd.frame import FRAMES_PER_SECOND

BAR_WIDTH = 30
CLEAR_LINE = "\x1b[K"  # ANSI: erase from the cursor to the end of the line
REDRAW_S = 0.25


class ProgressBar:
    def __init__(self, total_frames: int, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = max(1, total_frames)
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None
        self._shown = ""  # the bar's text on screen now ("" when none is)
        self._lock = threading.Lock()  # the log writer's thread and the render loop share the line
        self._rerouted: list[logging.StreamHandler] = []
        if self.enabled:
            for handler in writers():
                if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                    handler.setStream(_AroundTheBar(self))
                    self._rerouted.append(handler)

    def line(self, done: int) -> str:
        fraction = min(1.0, done / self.total)
        filled = int(fraction * BAR_WIDTH)
        elapsed = self._clock() - self._started
        eta = elapsed / done * (self.total - done) if done else float("nan")
        eta_text = "--" if eta != eta else _duration(eta)
        return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction * 100:5.1f}% "
                f"{done / FRAMES_PER_SECOND:.1f}/{self.total / FRAMES_PER_SECOND:.1f} s of audio, ETA {eta_text}")

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if done < self.total and self._drawn_at is not None and now - self._drawn_at < REDRAW_S:
            return
        self._drawn_at = now
        with self._lock:
            self._shown = self.line(done)
            self.stream.write("\r" + self._shown)
            self.stream.flush()

    def write_around(self, text: str) -> None:
        """Write `text` (log output) above the bar: clear its line, write, draw it again."""
        with self._lock:
            if self._shown:
                self.stream.write("\r" + CLEAR_LINE)
            self.stream.write(text)
            if self._shown and text.endswith("\n"):
                self.stream.write("\r" + self._shown)
            self.stream.flush()

    def finish(self) -> None:
        for handler in self._rerouted:
            handler.setStream(self.stream)
        self._rerouted = []
        with self._lock:
            if self.enabled and self._drawn_at is not None:
                self.stream.write("\n")
                self.stream.flush()
            self._shown = ""


class _AroundTheBar:
    """The stream a log handler writes to while a bar is shown (see ProgressBar.write_around)."""

    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar

    def write(self, text: str) -> int:
        self.bar.write_around(text)
        return len(text)

    def flush(self) -> None:
        self.bar.stream.flush()


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag while installed (main thread only; elsewhere a plain flag)."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._previous: dict[int, Any] = {}  # what signal.signal gave back: a handler or a constant

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, lambda *_: self.requested.set())
        return self

    def __exit__(self, *_exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
