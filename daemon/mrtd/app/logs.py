"""Logging for weeks of uptime: one line per event, optional JSON, repeats rate-limited.

A gallery machine that logs the same error every frame fills its disk and
hides the first, useful line. The same message (same logger, same format
string) is written at most once per `window_s`; when it is written again the
line says how many were held back.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RepeatLimiter(logging.Filter):
    def __init__(self, window_s: float = 10.0, clock=time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
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
            record.msg = f"{record.msg} (repeated {held} more times in the last {self.window_s:g} s)"
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


def setup_logging(level: str = "info", as_json: bool = False, window_s: float = 10.0) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(PLAIN))
    handler.addFilter(RepeatLimiter(window_s))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
