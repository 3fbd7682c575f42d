"""Records what the generator makes to a WAV file, off the generation thread.

The generator's tap only copies the frame onto a queue; a writer thread does
the disk I/O. If the disk cannot keep up, frames are dropped and counted
rather than ever slowing the music down.
"""

from __future__ import annotations

import logging
import queue
import threading
import wave

import numpy as np

from mrtd.frame import CHANNELS, SAMPLE_RATE

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 250  # 10 s of audio


def write_pcm16(file: wave.Wave_write, block: np.ndarray) -> None:
    """Append float samples in [-1, 1] as 16-bit PCM."""
    pcm = np.clip(np.rint(block * 32767.0), -32768, 32767).astype("<i2")
    file.writeframesraw(pcm.tobytes())


def open_wav(path: str) -> wave.Wave_write:
    file = wave.open(path, "wb")
    file.setnchannels(CHANNELS)
    file.setsampwidth(2)
    file.setframerate(SAMPLE_RATE)
    return file


class Recorder:
    def __init__(self) -> None:
        self.path: str | None = None
        self.dropped = 0
        self.frames = 0
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(MAX_QUEUED_FRAMES)
        self._thread: threading.Thread | None = None

    @property
    def recording(self) -> bool:
        return self.path is not None

    def start(self, path: str) -> None:
        if self.recording:
            raise ValueError(f"already recording to {self.path}")
        file = open_wav(path)  # fail here, on the caller's thread, with a clear OSError
        self.path, self.dropped, self.frames = path, 0, 0
        self._thread = threading.Thread(target=self._write, args=(file,), name="mrtd-recorder", daemon=True)
        self._thread.start()
        log.info("recording to %s", path)

    def stop(self) -> str | None:
        path = self.path
        if path is None:
            return None
        self.path = None
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(5.0)
        log.info("recorded %s (%d frames, %d dropped)", path, self.frames, self.dropped)
        return path

    def tap(self, frame: np.ndarray) -> None:
        """Generation thread: hand over a copy, never wait."""
        if self.path is None:
            return
        try:
            self._queue.put_nowait(frame.copy())
        except queue.Full:
            self.dropped += 1

    def _write(self, file: wave.Wave_write) -> None:
        with file:
            while True:
                frame = self._queue.get()
                if frame is None:
                    return
                write_pcm16(file, frame)
                self.frames += 1
