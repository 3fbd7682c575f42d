"""Listening wired up: the capture (audio/) joined to the analysis thread (inputs/listen/).

It lives in app/ because it joins two parts: audio's capture ring and the input that reads it.
`--listen SOURCE` names the capture (audio/capture.py's spellings, plus `wav:PATH`, read here
with the audio prompt reader, at most `MAX_FILE_S`, and played in real time, looped);
`--follow notes,tempo,style` turns the three switches on at start (they are parameters:
OSC, the web page and scenes switch them live).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mrtd.audio.capture import Capture, CaptureError, LoopCapture, open_device_capture
from mrtd.control.commands import SetParam
from mrtd.frame import SAMPLE_RATE
from mrtd.inputs.listen.follower import ListenFollower
from mrtd.style.audio_prompt import AudioNeeds, read_audio_file

if TYPE_CHECKING:
    from mrtd.control.state import Controls
    from mrtd.style.encoder import EncoderWorker

log = logging.getLogger(__name__)

MAX_FILE_S = 120.0  # a wav: source is a rehearsal loop: its first two minutes (46 MB in memory)
FOLLOW = {"notes": "listen_notes", "tempo": "listen_tempo", "style": "listen_style"}
STYLE_WEIGHT = 1.0  # --follow style: the listen prompt's weight (as a prompt's default)


def check_follow(follow: list[str]) -> list[str]:
    """`--follow` values, checked: notes, tempo, style (ValueError names what is unknown)."""
    unknown = [f for f in follow if f not in FOLLOW]
    if unknown:
        raise ValueError(f"unknown --follow {', '.join(unknown)}; use notes, tempo, style (comma separated)")
    return follow


def open_capture(spec: str) -> Capture:
    """The capture `spec` names: wav:PATH, default, device:NAME, jack, jack:PORT_L,PORT_R."""
    if spec.startswith("wav:"):
        path = spec[len("wav:"):]
        try:
            samples, rate = read_audio_file(path, AudioNeeds(MAX_FILE_S, channels=2, rate=SAMPLE_RATE))
        except (OSError, ValueError) as exc:
            raise CaptureError(f"cannot listen to {path}: {exc}") from exc
        return LoopCapture(samples, rate, name=spec)
    return open_device_capture(spec)


class Listening:
    """The capture and its analysis thread, started and stopped together."""

    def __init__(self, spec: str, controls: "Controls", encoder: "EncoderWorker | None", bars: int,
                 capture: Capture | None = None) -> None:
        self.capture = capture or open_capture(spec)
        embed = encoder.submit_audio if encoder is not None else None
        self.follower = ListenFollower(self.capture, controls, embed, bars)

    def start(self, follow: list[str], controls: "Controls") -> None:
        for what in check_follow(follow):
            name = FOLLOW[what]
            controls.submit(SetParam.checked(name, STYLE_WEIGHT if name == "listen_style" else True))
        self.capture.start()
        self.follower.start()
        log.info("listening to %s (following: %s)", self.capture.describe(), ", ".join(follow) or "nothing yet")

    def stop(self) -> None:
        self.follower.stop()
        self.capture.stop()

    def status(self) -> dict[str, Any]:
        return self.follower.status()
