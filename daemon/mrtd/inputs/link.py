"""Ableton Link: follow the stage's shared tempo and phase, and offer ours when it changes here.

Link is an optional extra (`pip install 'mrtd[link]'`, the LinkPython-extern
wheel, module `link`). A follower thread polls the session a few times per
frame and submits commands like any other input: the tempo when the session's
changes, and the session's beat so the musical clock's phase (and bars, with
the meter as Link's quantum) line up with every other peer.

Clocks: Link keeps its own microsecond clock (on Linux it reads
CLOCK_MONOTONIC_RAW, which drifts from both time.monotonic() and the wall
clock as NTP slews them), so a Link time is never compared with ours. Each
poll reads Link's clock and the wall clock together, asks Link for the beat
at that instant, and hands `AlignBeat` that beat with the wall time; the
control state maps the wall time to the frame heard then (through the
output's clock) and carries the beat forward to the frame being built.
"""

from __future__ import annotations

import logging
import time
from types import ModuleType
from typing import TYPE_CHECKING

from mrtd.control.commands import AlignBeat, SetParam
from mrtd.vocabulary.values import MAX_BEAT
from mrtd.vocabulary.params import PARAMS
from mrtd.frame import FRAME_SECONDS
from mrtd.lifecycle import Worker

if TYPE_CHECKING:
    from mrtd.control.state import Controls

log = logging.getLogger(__name__)

TEMPO_EPSILON = 0.005  # BPM: Link's own rounding when a tempo goes round the session


def import_link() -> ModuleType:
    try:
        import link
    except ImportError as exc:
        raise RuntimeError(
            "following Ableton Link needs the link extra: pip install 'mrtd[link]' (LinkPython-extern)"
        ) from exc
    return link


class LinkFollower:
    def __init__(self, control: "Controls", poll_s: float = FRAME_SECONDS / 4) -> None:
        link = import_link()
        self._control = control
        self._poll_s = poll_s
        tempo = float(control.values["tempo"])
        self.session = link.Link(tempo)  # joins an existing session's tempo once it finds peers
        self._submitted = tempo  # the tempo we last sent into mrtd or proposed to the session
        self._local_seen = tempo  # mrtd's tempo parameter at the last poll
        self._last_align = float("-inf")
        self._worker = Worker("mrtd-link", self._run)
        self._stop = self._worker.stopping
        self.polls = 0

    @property
    def peers(self) -> int:
        return int(self.session.numPeers())

    def start(self) -> None:
        self.session.enabled = True
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self.session.enabled = False

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                self.poll()
            except Exception:  # a Link hiccup must not end following
                log.exception("Link poll failed")

    def poll(self) -> None:
        link = self.session
        wall = time.time()
        micros = link.clock().micros()  # read together with `wall`: the one bridge between the clocks
        state = link.captureAppSessionState()  # the app-thread variant: we are not an audio callback
        tempo = state.tempo()
        local = float(self._control.values["tempo"])  # a plain read of another thread's float
        quantum = int(self._control.values["meter"])
        if local != self._local_seen and abs(local - self._submitted) > TEMPO_EPSILON:
            # The tempo moved here (OSC, a scene, Tidal): propose it, so the stage follows us.
            state.setTempo(local, micros)
            link.commitAppSessionState(state)
            tempo = self._submitted = local
        elif abs(tempo - self._submitted) > TEMPO_EPSILON:
            low, high = PARAMS["tempo"].low, PARAMS["tempo"].high
            self._control.submit(SetParam.checked("tempo", min(max(tempo, low), high)))
            self._submitted = tempo
        self._local_seen = local
        beat = state.beatAtTime(micros, quantum)
        # A peer's timeline is as untrusted as a packet: a beat past MAX_BEAT would stall the clock.
        if wall - self._last_align >= FRAME_SECONDS * 0.9 and abs(beat) <= MAX_BEAT:  # read once per frame anyway
            self._control.submit(AlignBeat(beat, wall, tempo))
            self._last_align = wall
        self.polls += 1
