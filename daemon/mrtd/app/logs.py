"""Logging for weeks of uptime: one line per event, optional JSON, repeats rate-limited.

A gallery machine that logs the same error every frame fills its disk and
hides the first, useful line. The same message (same logger, same text once
its numbers are set aside, so "frame 41" and "frame 42" are one message but
three different scene names are three) is written at most once per
`window_s`; when it is written again the line says how many were held back.
A message is cut at MAX_MESSAGE_CHARS (one 5 MB scene name made one 5 MB line).

The threads that log include the generation thread and the OSC loop, which
must never wait on a slow terminal or journal: records go through a bounded
queue (logging.handlers.QueueHandler) to one listener thread that writes
them; when the queue is full a record is dropped and counted, not waited for.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import re
import sys
import threading
import time

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_MESSAGE_CHARS = 2000
QUEUE_RECORDS = 10000
_NUMBERS = re.compile(r"\d+")


def cut(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


class MessageCutter(logging.Filter):
    """Merges the arguments into the message and cuts it to MAX_MESSAGE_CHARS."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must still log something
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = cut(message), None
        return True


class RepeatLimiter(logging.Filter):
    def __init__(self, window_s: float = 10.0, clock=time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        key = (record.name, _NUMBERS.sub("#", text[:MAX_MESSAGE_CHARS]))
        now = self._clock()
        with self._lock:
            last, held = self._seen.get(key, (-1e18, 0))
            if now - last < self.window_s:
                self._seen[key] = (last, held + 1)
                return False
            if len(self._seen) > 5000:
                self._seen.clear()
            self._seen[key] = (now, 0)
        if held:
            record.msg, record.args = f"{text} (repeated {held} more times in the last {self.window_s:g} s)", None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class DroppingQueueHandler(logging.handlers.QueueHandler):
    """Enqueue without ever waiting: a full queue drops the record and counts it."""

    def __init__(self, records: queue.Queue) -> None:
        super().__init__(records)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class Listener(logging.handlers.QueueListener):
    def enqueue_sentinel(self) -> None:
        # At shutdown only, wait for room: a full queue must still be written out, then stop.
        # (typeshed's QueueListener knows neither the queue's put nor the stdlib's own sentinel.)
        self.queue.put(self._sentinel, timeout=10)  # type: ignore[attr-defined]


_listener: Listener | None = None


def stop_logging() -> None:
    """Write out what is queued and stop the writer thread."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


def writers() -> list[logging.Handler]:
    """The handlers that write records out: setup_logging's writer, else the root logger's own."""
    if _listener is not None:
        return list(_listener.handlers)
    return list(logging.getLogger().handlers)


def setup_logging(level: str = "info", as_json: bool = False, window_s: float = 10.0, stream=None) -> DroppingQueueHandler:
    """Route every logger through one non-blocking, repeat-limited, length-capped path."""
    global _listener
    stop_logging()
    writer = logging.StreamHandler(stream or sys.stderr)
    writer.setFormatter(JsonFormatter() if as_json else logging.Formatter(PLAIN))
    handler = DroppingQueueHandler(queue.Queue(QUEUE_RECORDS))
    handler.addFilter(RepeatLimiter(window_s))  # before the queue: held-back repeats cost nothing more
    handler.addFilter(MessageCutter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    _listener = Listener(handler.queue, writer, respect_handler_level=False)
    _listener.start()
    return handler


atexit.register(stop_logging)
