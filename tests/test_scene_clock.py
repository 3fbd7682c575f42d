"""Scenes on the wall clock: cues at times of day, weekdays, time zones, daylight saving, opening
hours, a start mid-fade, and /mrt/stop and /mrt/start. Every clock here is injected: a render
starts at a given wall time, and a live daemon gets a wall clock set to the moment under test
(the real clock shifted, so it still runs at real speed with the audio); nothing waits for 05:30."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from conftest import probed_daemon, running_daemon, wait_for
from mrtd.app.render import render_scene, start_time
from mrtd.audio.clock import FrameClock
from mrtd.frame import FRAME_SECONDS
from mrtd.core.scene.wallclock import machine_zone

GALLERY = Path(__file__).parent.parent / "scenes" / "gallery-day-night.yaml"
BERLIN = ZoneInfo("Europe/Berlin")
FPS = 25


def _at(*fields: int, tz=None) -> float:
    return datetime(*fields, tzinfo=tz or machine_zone()).timestamp()


def _render(tmp_path: Path, scene: str, start: float, seconds: float) -> list[tuple[int, str]]:
    path = tmp_path / "clock.yaml"
    path.write_text(scene)
    return render_scene(path, tmp_path / "out.wav", seconds=seconds, start=start, cache_dir=str(tmp_path / "cache"),
                        overwrite=True).cues_fired  # one output, rendered again


def _shifted_clock(wall_start: float):
    """A wall clock that reads `wall_start` now and runs on with the real one."""
    offset = wall_start - time.time()
    return lambda: time.time() + offset


# -- the timetable: midnight, days, zones, daylight saving (offline, frame-exact) -------------------

def test_a_cue_at_midnight_fires_in_the_frame_heard_at_midnight(tmp_path):
    scene = 'prompts: {a: alpha, b: beta}\ncues:\n  - {name: late, at: "23:00", mix: {a: 1}}\n  - {name: midnight, at: "00:00", mix: {b: 1}}\n'
    fired = _render(tmp_path, scene, _at(2026, 6, 10, 23, 59, 55), 10)
    assert fired == [(0, "late"), (5 * FPS, "midnight")]


def test_days_limit_a_cue_to_its_weekdays(tmp_path):
    scene = ('prompts: {a: alpha, b: beta}\ncues:\n  - {name: every, at: "12:00", mix: {a: 1}}\n'
             '  - {name: thursdays, at: "00:00", days: [thu], mix: {b: 1}}\n')
    assert _render(tmp_path, scene, _at(2026, 6, 10, 23, 59, 58), 4) == [(0, "every"), (2 * FPS, "thursdays")]  # Wed -> Thu
    assert _render(tmp_path, scene, _at(2026, 6, 11, 23, 59, 58), 4) == [(0, "every")]  # Thu -> Fri: no midnight cue


def test_the_scenes_timezone_overrides_the_machines(tmp_path):
    new_york = ZoneInfo("America/New_York")
    start = _at(2026, 6, 10, 8, 59, 58, tz=new_york)
    scene = 'timezone: {zone}\nprompts: {{a: alpha}}\ncues:\n  - {{name: nine, at: "09:00", mix: {{a: 1}}}}\n'
    assert _render(tmp_path, scene.format(zone="America/New_York"), start, 4) == [(0, "nine"), (2 * FPS, "nine")]
    assert _render(tmp_path, scene.format(zone="Asia/Tokyo"), start, 4) == [(0, "nine")], "09:00 in Tokyo is another moment"


SPRING_AUTUMN = ('timezone: Europe/Berlin\nprompts: {a: alpha, b: beta}\ncues:\n'
                 '  - {name: one, at: "01:00", mix: {a: 1}}\n  - {name: half-past-two, at: "02:30", mix: {b: 1}}\n')


def test_spring_forward_a_time_that_does_not_exist_fires_once_when_the_clocks_jump(tmp_path):
    # Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST; there is no 02:30 that night.
    fired = _render(tmp_path, SPRING_AUTUMN, _at(2026, 3, 29, 1, 59, 50, tz=BERLIN), 30)
    assert fired == [(0, "one"), (10 * FPS, "half-past-two")]  # at 03:00 CEST, ten seconds on


def test_fall_back_a_time_that_happens_twice_fires_once(tmp_path):
    # Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 comes round twice.
    first = datetime(2026, 10, 25, 2, 29, 50, tzinfo=BERLIN).timestamp()  # fold 0: CEST
    second = datetime(2026, 10, 25, 2, 29, 50, fold=1, tzinfo=BERLIN).timestamp()  # an hour later, CET
    assert second - first == 3600
    assert _render(tmp_path, SPRING_AUTUMN, first, 20) == [(0, "one"), (10 * FPS, "half-past-two")]
    assert _render(tmp_path, SPRING_AUTUMN, second, 20) == [(0, "half-past-two")], "the second 02:30 fires nothing"


def test_render_start_takes_a_time_of_day_or_an_iso_date(tmp_path):
    today = date(2026, 3, 29)
    scene = tmp_path / "z.yaml"
    scene.write_text("timezone: Europe/Berlin\nprompts: {a: alpha}\ncues:\n  - {at: \"05:00\", mix: {a: 1}}\n")
    assert start_time("13:59:55", scene, today) == datetime(2026, 3, 29, 13, 59, 55, tzinfo=BERLIN).timestamp()
    assert start_time("2026-03-29T01:59:00", scene) == datetime(2026, 3, 29, 1, 59, tzinfo=BERLIN).timestamp()
    with pytest.raises(ValueError, match="--start wants"):
        start_time("tea time", scene)


# -- mrtd check and mrtd render ------------------------------------------------------------------

def test_check_names_bad_times_days_and_zones_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "timezone: Europe/Berln\n"  # 1
        "prompts: {a: alpha}\n"
        "hours: {open: \"10:00\", close: \"24:00\"}\n"  # 3
        "cues:\n"
        "  - {at: \"05:70\", mix: {a: 1}}\n"  # 5
        "  - {at: \"06:00\", days: [tues], mix: {a: 1}}\n"  # 6
    )
    check = subprocess.run([sys.executable, "-m", "mrtd", "check", str(bad)], capture_output=True, text=True, timeout=60)
    assert check.returncode != 0
    lines = check.stderr + check.stdout
    assert f"{bad}:1: timezone: unknown time zone 'Europe/Berln'" in lines
    assert f"{bad}:3: hours.close: '24:00' is not a time of day" in lines
    assert f"{bad}:5: cues[0].at: '05:70' is not a time of day" in lines
    assert f"{bad}:6: cues[1].days: unknown day 'tues' (did you mean 'tue'?)" in lines


@pytest.mark.parametrize("name", ["Europe", "../../etc/passwd", "/etc/localtime", "Mars/Olympus_Mons"])
def test_a_zone_name_is_looked_up_only_as_a_zone(name):
    from mrtd.core.scene.loader import SceneError, parse_scene

    with pytest.raises(SceneError) as refused:
        parse_scene(f"timezone: {name}\nprompts: {{a: alpha}}\n", "z.yaml")
    assert refused.value.errors == [f"z.yaml:1: timezone: unknown time zone {name!r} (an IANA name such as Europe/Berlin)"]


def test_check_refuses_a_scene_that_mixes_the_clock_with_seconds(tmp_path):
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text('prompts: {a: alpha}\ncues:\n  - {at: "05:30", mix: {a: 1}}\n  - {at: 30, mix: {a: 0.5}}\nloop: true\n')
    check = subprocess.run([sys.executable, "-m", "mrtd", "check", str(mixed)], capture_output=True, text=True, timeout=60)
    assert check.returncode != 0
    assert f"{mixed}:4: cues[1].at: this scene's cues are on the clock" in check.stderr
    assert f"{mixed}:5: loop: loop is for cues in seconds or bars" in check.stderr


def test_render_of_a_day_long_scene_asks_for_seconds_before_writing(tmp_path):
    out = tmp_path / "day.wav"
    done = subprocess.run([sys.executable, "-m", "mrtd", "render", str(GALLERY), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "16,588,800,044 bytes" in done.stderr and "--seconds" in done.stderr, done.stderr
    assert not out.exists(), "nothing is written"


def test_a_clocked_render_from_a_given_start_is_deterministic(tmp_path):
    runs = []
    for name in ("a.wav", "b.wav"):
        done = subprocess.run([sys.executable, "-m", "mrtd", "render", str(GALLERY), "-o", str(tmp_path / name),
                               "--start", "2026-06-10T13:59:58", "--seconds", "4"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs.append((tmp_path / name).read_bytes())
    assert runs[0] == runs[1]


# -- live: the daemon on an injected wall clock --------------------------------------------------

def test_the_daemon_started_at_135955_fires_the_1400_cue_in_the_frame_heard_at_1400(tmp_path):
    two_pm = _at(2026, 6, 10, 14, 0, 0)  # a Wednesday: the gallery is open
    wall = _shifted_clock(two_pm - 5.0)
    with running_daemon(tmp_path, scene=str(GALLERY), wall_clock=wall) as (daemon, engine):
        wait_for(lambda: daemon.control.cue == "day", 10, "the scene to start on the clock's cue")
        assert daemon.status()["hours"] == "open until 22:00"
        wait_for(lambda: daemon.control.cue == "afternoon", 15, "the 14:00 cue")
        player = daemon.scenes.player
        frame = next(f for f, cue in player.fired if cue == "afternoon")
        heard = FrameClock(daemon.playout, daemon.output.time, wall).wall_time_of_frame(frame)
    assert abs(heard - two_pm) <= FRAME_SECONDS + 0.005, f"frame {frame} is heard {heard - two_pm:+.3f} s from 14:00"


def _mix_at(weights: dict[str, float]) -> dict[str, float]:
    return {name: round(weight, 2) for name, weight in weights.items() if weight > 0.001}


SCENE_FADE = ('prompts: {a: alpha, b: beta}\ncues:\n  - {name: morning, at: "13:00", mix: {a: 1}}\n'
              '  - {name: turn, at: "14:00", mix: {b: 1}, fade: {seconds: 1800}}\n')


def test_a_restart_mid_fade_continues_the_fade_where_the_clock_says(tmp_path):
    scene = tmp_path / "fade.yaml"
    scene.write_text(SCENE_FADE)
    state = tmp_path / "state"
    # First run at 14:05 (a sixth of the fade), stopped, so the journal holds that moment.
    with running_daemon(tmp_path, scene=str(scene), state_dir=str(state), wall_clock=_shifted_clock(_at(2026, 6, 10, 14, 5))) as (daemon, _):
        wait_for(lambda: daemon.control.cue == "turn", 10, "the scene on its cue")
        assert _mix_at(daemon.control.style.weights()) == {"a": 0.83, "b": 0.17}
    # Back at 14:10: a third of the fade is gone. The clock, not the journal, says where it stands.
    with running_daemon(tmp_path, scene=str(scene), state_dir=str(state), wall_clock=_shifted_clock(_at(2026, 6, 10, 14, 10))) as (daemon, _):
        wait_for(lambda: daemon.control.cue == "turn", 10, "the scene on its cue")
        assert _mix_at(daemon.control.style.weights()) == {"a": 0.67, "b": 0.33}
        target, frames_left, _curve = daemon.control.style.fade_in_flight()
        assert target["b"] == 1.0 and abs(frames_left - 20 * 60 * FPS) < 5 * FPS, "the rest of the fade goes on"


# -- opening hours, /mrt/stop, /mrt/start ------------------------------------------------------------

HOURS = 'hours: {open: "10:00", close: "18:00", fade: 0.6}\nprompts: {a: alpha}\ncues:\n  - {name: morning, at: "09:00", mix: {a: 1}}\n'


def _levels(daemon) -> list[float]:
    """The RMS of every frame the daemon makes from now on, in order."""
    levels: list[float] = []
    daemon.generator.taps.append(lambda frame: levels.append(float(np.sqrt(np.mean(frame * frame)))))
    return levels


def test_closing_time_fades_out_and_rests_the_engine(tmp_path):
    scene = tmp_path / "hours.yaml"
    scene.write_text(HOURS)
    with running_daemon(tmp_path, scene=str(scene), wall_clock=_shifted_clock(_at(2026, 6, 10, 17, 59, 58))) as (daemon, engine):
        levels = _levels(daemon)
        assert daemon.status()["hours"] == "open until 18:00"
        wait_for(lambda: daemon.status()["resting"], 10, "the engine to rest after closing")
        steps = len(engine.seen)
        wait_for(lambda: len(levels) > 200, 10, "more frames")
        assert len(engine.seen) == steps, "a resting engine is not stepped"
        assert daemon.status()["hours"] == "closed until 10:00"
    loud = max(levels)
    assert loud > 0.1 and levels[-1] == 0.0
    fading = [x for x in levels if 0.05 * loud < x < 0.95 * loud]
    assert len(fading) >= 8, "closing fades out over the scene's fade (0.6 s), not in one frame"


def test_opening_time_fades_in_from_a_silent_start(tmp_path):
    scene = tmp_path / "hours.yaml"
    scene.write_text(HOURS)
    with running_daemon(tmp_path, scene=str(scene), wall_clock=_shifted_clock(_at(2026, 6, 10, 9, 59, 57))) as (daemon, engine):
        levels = _levels(daemon)
        assert daemon.status()["resting"] and daemon.status()["hours"] == "closed until 10:00"
        wait_for(lambda: not daemon.status()["resting"] and len(levels) and levels[-1] > 0.3, 10, "opening")
        wait_for(lambda: len(levels) > 150, 10, "more frames")
    assert levels[0] == 0.0, "closed at start: silent from the first frame"
    loud = max(levels)
    assert [x for x in levels if 0.05 * loud < x < 0.95 * loud], "opening fades in"


def test_stop_fades_out_to_a_resting_engine_and_start_fades_back_in(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        wait_for(lambda: daemon.generator.frames > 10, 5, "music")
        levels = _levels(daemon)
        probe.send("/mrt/stop", 0.5)
        wait_for(lambda: daemon.status()["resting"], 5, "rest")
        steps = len(engine.seen)
        stopped_at = len(levels)
        wait_for(lambda: len(levels) > stopped_at + 25, 5, "a second of rest")
        assert len(engine.seen) == steps and levels[-1] == 0.0
        probe.send("/mrt/start", 0.5)
        wait_for(lambda: levels[-1] > 0.3, 5, "the music back")
        wait_for(lambda: len(levels) > stopped_at + 60, 5, "more frames")
    loud = max(levels)
    out = levels[:stopped_at]
    back = levels[stopped_at:]
    assert out[0] > 0.9 * loud and [x for x in out if 0.1 * loud < x < 0.9 * loud], "stop fades out over 0.5 s"
    assert [x for x in back if 0.1 * loud < x < 0.9 * loud] and back[-1] > 0.9 * loud, "start fades in over 0.5 s"


def test_a_scene_without_hours_ends_the_rest_of_one_that_closed(tmp_path):
    closed = tmp_path / "hours.yaml"
    closed.write_text(HOURS)
    plain = tmp_path / "plain.yaml"
    plain.write_text("prompts: {a: alpha}\ncues:\n  - {at: 0, mix: {a: 1}}\n")
    with running_daemon(tmp_path, scene=str(closed), wall_clock=_shifted_clock(_at(2026, 6, 10, 20, 0))) as (daemon, engine):
        wait_for(lambda: daemon.status()["resting"], 5, "the closed scene to rest")
        daemon.scenes.load(plain)
        wait_for(lambda: not daemon.status()["resting"] and daemon.status()["hours"] == "", 5, "the plain scene to play")
