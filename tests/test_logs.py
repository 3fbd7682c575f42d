"""One logging path: never waits on a stuck terminal, limits repeats by what they say, cuts long lines."""

from __future__ import annotations

import io
import logging
import threading

from mrtd.app.logs import MAX_MESSAGE_CHARS, QUEUE_RECORDS, setup_logging, stop_logging


class GatedStream(io.StringIO):
    """A terminal or journal that stops taking lines until `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def write(self, text: str) -> int:
        self.gate.wait(30)
        return super().write(text)


def _lines(stream: io.StringIO) -> list[str]:
    stop_logging()  # writes out what is queued
    return [line for line in stream.getvalue().splitlines() if line]


def test_different_messages_from_one_format_string_are_all_written_and_repeats_are_counted():
    stream = GatedStream()
    stream.gate.set()
    setup_logging(stream=stream)
    log = logging.getLogger("mrtd.scene")
    for name in ("dawn", "noon", "dusk"):
        log.info("scene loaded: %s", name)
    for frame in range(100):
        log.error("engine failed on frame %d", frame)
    lines = _lines(stream)
    assert [line.split(": ", 1)[1] for line in lines[:3]] == ["scene loaded: dawn", "scene loaded: noon", "scene loaded: dusk"]
    assert len(lines) == 4 and lines[3].endswith("engine failed on frame 0"), "the 99 later frames are held back"


def test_a_huge_value_is_cut_to_one_readable_line():
    stream = GatedStream()
    stream.gate.set()
    setup_logging(stream=stream)
    logging.getLogger("mrtd.scene").warning("no scene %r", "x" * 5_000_132)
    (line,) = _lines(stream)
    assert len(line) < MAX_MESSAGE_CHARS + 200 and line.endswith("more characters)")


def test_logging_never_waits_for_a_stuck_writer_it_drops_and_counts():
    stream = GatedStream()
    handler = setup_logging(stream=stream, window_s=0)
    log = logging.getLogger("mrtd.flood")
    sent = QUEUE_RECORDS * 2
    done = threading.Event()

    def flood() -> None:  # stands for the generation thread
        for i in range(sent):
            log.warning("line %d", i)
        done.set()

    threading.Thread(target=flood, daemon=True).start()
    assert done.wait(20), "a logging call waited on the stuck writer"
    # One record is in the writer's hands, QUEUE_RECORDS wait in the queue, the rest were dropped.
    assert handler.dropped in (sent - QUEUE_RECORDS - 1, sent - QUEUE_RECORDS)
    stream.gate.set()
    assert len(_lines(stream)) == sent - handler.dropped
