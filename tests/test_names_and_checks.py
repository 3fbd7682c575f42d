"""Names a performer reads, and `mrtd check` against the daemon: what once got through.

A scene or prompt name with a NUL passed `mrtd check` and loaded, after which /mrt/status and
/mrt/sync replies could not be parsed (an OSC string ends at its first NUL); right-to-left
overrides and zero-width characters made names read backwards or look alike. One rule
(vocabulary/values.py `readable`) now refuses them on every path: OSC, the page, scenes, config.
`mrtd check` crashed with a traceback on a recursive alias or a 5,000-digit number, passed a
config the daemon then died on (lead_frames 100000000), and took seconds to refuse 100,000 cues.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import probed_daemon, wait_for
from mrtd.core.scene.loader import SceneError, load_scene
from mrtd.inputs.web import protocol
from mrtd.vocabulary import requests as q
from mrtd.vocabulary.values import readable

# What a name may not hold, one of each category, and what it may.
UNREADABLE = {
    "NUL": "a\x00b", "escape": "a\x1b[2Jb", "right-to-left override": "evil\u202egnp.exe",
    "isolate": "a\u2066b", "zero-width space": "pad\u200b", "byte order mark": "\ufeffpad",
    "private use": "pad\ue000", "unassigned": "pad\u0378", "surrogate": "pad\ud800",
}
READABLE = ("café au lait", "日本の夜", "Ölfarben", "🎹 keys", "dark-pad_2")


def mrtd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mrtd", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("kind", UNREADABLE)
def test_the_vocabulary_refuses_invisible_and_control_characters_and_says_which(kind):
    with pytest.raises(ValueError, match=r"invisible or control character at \d+: U\+"):
        readable(UNREADABLE[kind], "a name")
    for request, args in ((q.Prompt, [UNREADABLE[kind], "warm pads"]), (q.SceneLoad, [UNREADABLE[kind]]),
                          (q.Cue, [UNREADABLE[kind]]), (q.RecordStart, [UNREADABLE[kind]]),
                          (q.Prompt, ["pad", f"warm {UNREADABLE[kind]} pads"])):
        with pytest.raises(ValueError, match="invisible or control"):
            request.from_args(args)


def test_names_in_any_script_and_texts_with_line_breaks_pass():
    for name in READABLE:
        assert q.Prompt.from_args([name, "warm\npads\tslow"]).name == name


def test_an_osc_name_with_a_bidi_override_is_refused_and_status_and_sync_still_parse(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        start = probe.transcript.mark()
        probe.send("/mrt/prompt", "\u202epad", "warm pads", 1.0)
        error = probe.transcript.wait_for_first("/mrt/error", since=start).args
        assert error[0] == "/mrt/prompt" and "U+202E" in error[1]
        assert dict(zip(*[iter(probe.request("/mrt/status", "/mrt/status"))] * 2))["engine"] == "tone"
        probe.request("/mrt/sync", "/mrt/synced")
        assert "\u202epad" not in str(daemon.snapshot)


def test_the_page_decodes_names_through_the_same_rule():
    class Host:
        submitted: list = []

        def submit(self, command, due, answer=None):
            self.submitted.append(command)

        def mapped(self, address, args, due):
            return False

    host = Host()
    for name in ("pad\u200b", "a\u0000b", "pad\ud800"):
        (reply,) = protocol.dispatch(host, json.dumps({"address": "/mrt/weight", "args": [name, 0.5]}), ("page", 0))
        assert reply["address"] == "/mrt/error" and "invisible or control" in reply["args"][1], reply
    assert host.submitted == []


@pytest.mark.parametrize("field", ["name", "prompt", "cue"])
def test_a_scene_with_a_nul_or_an_override_in_a_name_fails_check_and_load_alike(tmp_path, field):
    for bad in ("a\\0b", "evil\\u202Egnp"):
        names = {"name": "s", "prompt": "a", "cue": "go"} | {field: bad}
        scene = tmp_path / f"{field}.yaml"
        scene.write_text(f'name: "{names["name"]}"\nprompts: {{"{names["prompt"]}": warm pads}}\n'
                         f'cues: [{{name: "{names["cue"]}", mix: {{"{names["prompt"]}": 1}}}}]\n')
        with pytest.raises(SceneError) as refused:
            load_scene(scene)
        checked = mrtd("check", str(scene))
        assert checked.returncode == 1 and "Traceback" not in checked.stderr
        assert checked.stderr.splitlines() == refused.value.errors and "invisible or control" in checked.stderr


def test_a_config_prompt_with_a_nul_is_refused_by_check(tmp_path):
    config = tmp_path / "mrtd.yaml"
    config.write_text('prompt: "warm\\0pads"\n')
    checked = mrtd("check", "--config", str(config))
    assert checked.returncode == 1 and "U+0000" in checked.stderr and "Traceback" not in checked.stderr


# -- mrtd check refuses what the daemon would, in one line, without a traceback ---------------


@pytest.mark.parametrize("text, reason", [
    ("name: r\nprompts: &p {a: *p}\n", "inside what it names"),
    ("name: r\ntempo: " + "1" * 5000 + "\n", "a number of 5000 characters"),
    ("name: big\nprompts: {a: x}\ncues: [" + ",".join(f"{{at: {i}}}" for i in range(100_000)) + "]\n", "more than 2048 entries"),
])
def test_a_hostile_scene_gets_one_line_from_check_and_from_the_daemon(tmp_path, text, reason):
    scene = tmp_path / "hostile.yaml"
    scene.write_text(text)
    started = time.perf_counter()
    checked = mrtd("check", str(scene))
    took = time.perf_counter() - started
    assert checked.returncode == 1 and "Traceback" not in checked.stderr, checked.stderr[-400:]
    assert len(checked.stderr.splitlines()) == 1 and reason in checked.stderr
    with pytest.raises(SceneError, match=reason):
        load_scene(scene)  # the same refusal where the daemon parses (tests/test_scene_isolated.py: in its child)
    assert took < 10, f"check took {took:.1f} s"


@pytest.mark.parametrize("text, reason", [
    ("lead_frames: 100000000\n", "lead_frames lies in 1-250"),
    ("seed: 1.0e+22\n", "seed"),
    ("seed: 3000000000\n", "seed must lie in"),
    ("lead_frames: &x [*x]\n", "inside what it names"),
    ("seed: " + "9" * 5000 + "\n", "a number of 5000 characters"),
])
def test_a_config_the_daemon_would_die_on_fails_check(tmp_path, text, reason):
    config = tmp_path / "mrtd.yaml"
    config.write_text(text)
    checked = mrtd("check", "--config", str(config))
    assert checked.returncode == 1 and reason in checked.stderr and "Traceback" not in checked.stderr, checked.stderr[-400:]
    ran = mrtd("run", "--config", str(config), "--engine", "synth", "--output", "null")
    assert ran.returncode != 0 and reason in ran.stderr and "Traceback" not in ran.stderr, ran.stderr[-400:]


def test_prefill_with_a_name_no_file_system_holds_is_refused_in_words(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        for name in ("x" * 900, "a/" * 100 + "x" * 256 + ".wav"):
            start = probe.transcript.mark()
            probe.send("/mrt/prefill", name)
            error = probe.transcript.wait_for_first("/mrt/error", since=start).args
            assert error[0] == "/mrt/prefill" and "internal error" not in error[1], error
