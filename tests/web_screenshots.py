"""Regenerate the README's screenshots of the web page (tablet landscape, phone portrait).

    .venv/bin/python tests/web_screenshots.py

A synth-engine daemon plays the tablet-xy scene (and then the therapy scene);
Debian's chromium opens the page at each size after a few gestures.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import running_daemon, wait_for  # noqa: E402
from mrtd.engines.synth import SynthEngine  # noqa: E402
from mrtd.inputs.web.config import WebConfig  # noqa: E402
from web_rig import PHONE, SCENES, TABLET, chromium, open_page  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"


def shoot(scene: str, names: tuple[str, str], setup=None) -> None:
    with tempfile.TemporaryDirectory() as folder, chromium() as browser:
        with running_daemon(Path(folder), engine=SynthEngine(seed=1), web=WebConfig(port=0), midi=False,
                            scene=str(SCENES / f"{scene}.yaml")) as (daemon, _):
            wait_for(lambda: daemon.scenes.player is not None, 10, "the scene")
            if setup:
                setup(daemon)
            for viewport, name in zip((TABLET, PHONE), names):
                page = open_page(browser, daemon.web.url(), viewport)
                page.wait_for_function("window.mrtd.frames > 25")  # a second of pushes: meter and status filled in
                page.screenshot(path=str(DOCS / name), full_page=name.endswith("phone.png"))
                print(DOCS / name)


def tablet_setup(daemon) -> None:
    from mrtd.control import commands as c

    daemon.control.submit(c.SetXY(0.3, 0.35))
    daemon.control.submit(c.NoteOn.checked(60, 100))
    daemon.control.submit(c.NoteOn.checked(64, 100))
    daemon.control.submit(c.NoteOn.checked(67, 100))
    wait_for(lambda: set(daemon.control.notes.held) == {60, 64, 67} and daemon.control.xy == (0.3, 0.35), 5,
             "the chord and the XY point")


if __name__ == "__main__":
    shoot("tablet-xy", ("web-tablet.png", "web-phone.png"), tablet_setup)
    shoot("therapy-two-buttons", ("web-therapy-tablet.png", "web-therapy-phone.png"))
