"""The recording controller: takes into the recordings folder, named by the sender or the time.

The recorder (audio/recorder.py) taps the generator's frames and writes off the generation
thread; this says where a take goes: a name checked as untrusted, inside the folder, a taken
name moved aside (`take-2.wav` when `take.wav` exists), and only the file's name said back.
"""

from __future__ import annotations

import time

from mrtd.audio.recorder import Recorder
from mrtd.audio.sinks import SinkError
from mrtd.audio.wavfile import check_name
from mrtd.core.paths import inside


class RecordingController:
    def __init__(self, recorder: Recorder, record_dir: str) -> None:
        self._recorder = recorder
        self._record_dir = record_dir

    def start(self, name: str | None) -> str:
        """Record into a new file; the reply names it (`take-2.wav` when `take.wav` exists)."""
        name = check_name(name) if name else time.strftime("mrtd-%Y%m%d-%H%M%S")
        path = inside(self._record_dir, name, ".wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            written = self._recorder.start(str(path))
        except SinkError as exc:
            raise ValueError(f"cannot record to {path.name}: {exc}") from None
        return written.rsplit("/", 1)[-1]

    def stop(self) -> str | None:
        path = self._recorder.stop()
        return None if path is None else path.rsplit("/", 1)[-1]
