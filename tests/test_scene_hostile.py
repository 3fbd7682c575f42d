"""Hostile scene files: each is refused within 1 s and 50 MB while the music plays on.

Real files in a real scene folder, sent over a real UDP socket to a running
daemon (null output paced by its clock). `pytest -s` prints the figures per
case (see also benchmarks/bench_hostile_scenes.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import probed_daemon, wait_for
from mrtd.control.state import MAX_PROMPTS
from mrtd.core.scene.schema import MAX_NAME_CHARS, MAX_PROMPT_NAME_CHARS, MAX_PROMPT_TEXT_CHARS
from osc_probe import OscProbe, bundle, message

SECRET = "s3cr3t-line-that-must-never-show"
LIMIT_CASES = ("crowd", "hugename", "longtext", "elsewhere")  # valid YAML, refused for what it holds or where it is


def billion_laughs() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(8):
        here, previous = chr(98 + i), chr(97 + i)
        text += f"{here}: &{here} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    return text


def hostile_cases(folder: Path, outside: Path) -> dict[str, str]:
    """name -> the scene name to load; the files are made in `folder`."""
    secret = outside / "shadow"
    secret.write_text(f"root:{SECRET}:19000:0:99999:7:::\n")
    (folder / "laughs.yaml").write_text(billion_laughs())
    (folder / "deep.yaml").write_text("name: deep\ndefaults: " + "[" * 5000 + "]" * 5000 + "\n")
    (folder / "deepmap.yaml").write_text("name: deep\nprompts:\n" + "".join("  " * (i + 1) + "k:\n" for i in range(200)))
    (folder / "big.yaml").write_text("name: big\n" + "# padding\n" * 1_100_000)  # 11 MB
    os.mkfifo(folder / "fifo.yaml")
    (folder / "zero.yaml").symlink_to("/dev/zero")
    (folder / "secret.yaml").symlink_to(secret)
    (folder / "pca.yaml").write_text(f"name: p\npca: ../{outside.name}/shadow\n")
    (folder / "pca_abs.yaml").write_text("name: p\npca: ../../../../../../etc/passwd\n")
    (folder / "audio.yaml").write_text("name: a\nprompts: {x: {audio: ../../../../../../etc/passwd}}\n")
    (folder / "dupes.yaml").write_text("name: d\nprompts: {a: alpha}\nprompts: {b: beta}\n")
    (folder / "crowd.yaml").write_text(prompts_scene(MAX_PROMPTS + 1))
    (folder / "hugename.yaml").write_text("name: " + "n" * 1_000_000 + "\nprompts: {a: alpha}\n")  # 1 MB, under the 4 MB cap
    (folder / "longtext.yaml").write_text("name: t\nprompts:\n  a: " + "t" * 100_000 + "\n")  # a hundred times what OSC takes
    (outside / "valid.yaml").write_text("name: valid\nprompts: {a: alpha}\n")  # fine, but not in the scene folder
    (folder / "elsewhere.yaml").symlink_to(outside / "valid.yaml")
    return {name: name for name in ("laughs", "deep", "deepmap", "big", "fifo", "zero", "secret", "pca", "pca_abs", "audio", "dupes",
                                    *LIMIT_CASES)}


def prompts_scene(count: int, text: str = "warm pads") -> str:
    return "name: crowd\nprompts:\n" + "".join(f"  p{i}: {text} {i}\n" for i in range(count))


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):  # the peak: growth during a case cannot hide between samples
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def test_hostile_scenes_are_refused_fast_small_and_silent_about_files_while_music_plays(tmp_path):
    folder, outside = tmp_path / "scenes", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    cases = hostile_cases(folder, outside)
    (folder / "good.yaml").write_text("name: good\nprompts: {a: alpha}\ncues:\n  - {name: one, at: 0, mix: {a: 1}}\n")
    with probed_daemon(tmp_path, scene=str(folder / "good.yaml"), scene_dir=str(folder)) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.scene == "good", 5, "the good scene")
        # The sender is not subscribed: what the load worker refuses comes back to it all the same.
        # Another surface, subscribed, hears it too.
        watcher = OscProbe(daemon.osc.port)
        watcher.request("/mrt/subscribe", "/mrt/subscribed")
        figures = []
        for case, name in cases.items():
            frames, underruns = len(engine.seen), daemon.status()["underruns"]
            reset_peak()
            before = rss_bytes()
            start = probe.transcript.mark()
            sent = time.perf_counter()
            probe.send("/mrt/scene/load", name)
            reason = probe.transcript.wait_for_first("/mrt/error", since=start, timeout=5.0).args
            seconds = time.perf_counter() - sent
            grown = rss_bytes() - before
            figures.append((case, seconds, grown, reason[1]))
            assert reason[0] == "/mrt/scene/load", reason
            assert len(reason[1]) < 1000, f"{case}: an error of {len(reason[1])} characters"
            if case == "elsewhere":
                assert "outside" in reason[1], reason
            assert SECRET not in reason[1] and "root:" not in reason[1], f"{case} leaked file content: {reason}"
            assert seconds < 1.0, f"{case} took {seconds:.2f} s to refuse"
            assert grown < 50 * 1024 * 1024, f"{case} grew RSS by {grown / 1e6:.0f} MB"
            wait_for(lambda: len(engine.seen) > frames + 5, 5, f"music after {case}")
            assert daemon.control.scene == "good", f"{case} replaced the scene"
            assert daemon.status()["underruns"] == underruns, f"{case} caused an underrun"
        assert probe.transcript.count("/mrt/error") == len(cases), f"one error per refused load\n{probe.transcript}"
        pushed = watcher.transcript.args_of("/mrt/error")
        watcher.close()
        assert len(pushed) >= 7 and all(args[0] == "/mrt/scene/load" for args in pushed), "worker-side refusals are pushed"
        for case, seconds, grown, reason in figures:
            print(f"hostile scene {case:8s} refused in {seconds * 1000:6.1f} ms, RSS +{grown / 1e6:5.1f} MB: {reason[:90]}")
        assert daemon.scenes._watcher.running and daemon.scenes._worker.running


@pytest.mark.parametrize("case", ["laughs", "deep", "big", "fifo", "zero", "secret", "pca", "pca_abs", "audio", "dupes", *LIMIT_CASES])
def test_check_refuses_what_a_load_refuses_without_hanging_or_leaking(tmp_path, case):
    folder, outside = tmp_path / "scenes", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    hostile_cases(folder, outside)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mrtd", "check", str(folder / f"{case}.yaml")],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "ok" not in result.stdout
    assert SECRET not in result.stdout + result.stderr and "root:" not in result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert time.perf_counter() - started < 10


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mrtd", "check", str(path)], capture_output=True, text=True, timeout=20)


def test_a_scene_may_hold_as_many_prompts_as_osc_allows_and_no_more(tmp_path):
    from mrtd.core.scene.loader import SceneError, load_scene

    full, crowd = tmp_path / "full.yaml", tmp_path / "crowd.yaml"
    full.write_text(prompts_scene(MAX_PROMPTS))
    crowd.write_text(prompts_scene(MAX_PROMPTS + 1))
    assert check(full).returncode == 0
    assert len(load_scene(full).prompts) == MAX_PROMPTS
    result = check(crowd)
    said = f"{crowd}:2: prompts: at most {MAX_PROMPTS} prompts (as many as OSC allows at once), not {MAX_PROMPTS + 1}"
    assert result.returncode == 1 and result.stderr.splitlines() == [said], result.stderr
    with pytest.raises(SceneError) as refused:
        load_scene(crowd)
    assert refused.value.errors == [said]


def test_a_megabyte_scene_name_is_refused_without_being_echoed(tmp_path):
    from mrtd.core.scene.loader import SceneError, load_scene

    scene = tmp_path / "hugename.yaml"
    scene.write_text("name: " + "n" * 1_000_000 + "\nprompts:\n  " + "p" * 1000 + ": alpha\ncues:\n  - {name: " + "c" * 500 + "}\n")
    result = check(scene)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{scene}:1", f"{scene}:3", f"{scene}:5"], "every error at once, each with its line"
    assert f"at most {MAX_NAME_CHARS} characters" in lines[0] and f"at most {MAX_PROMPT_NAME_CHARS} characters" in lines[1]
    assert all(len(line) < len(str(scene)) + 150 for line in lines), [len(line) for line in lines]
    with pytest.raises(SceneError) as refused:
        load_scene(scene)
    assert refused.value.errors == lines
    assert len(str(refused.value)) < 1000


def test_an_error_quoting_a_long_file_name_is_cut_short(tmp_path):
    from mrtd.core.scene.loader import MAX_ERROR_LINE_CHARS, SceneError, load_scene

    scene = tmp_path / "far.yaml"
    far = "../" * 300 + "x.pca"  # 905 characters: a name the schema allows, quoted by the error
    scene.write_text(f"name: far\npca: {far}\n")
    with pytest.raises(SceneError) as refused:
        load_scene(scene)
    [line] = refused.value.errors
    assert line.startswith(f"{scene}:2: pca: '../../") and line.endswith(f"characters in all)")
    assert len(line) <= MAX_ERROR_LINE_CHARS
    assert check(scene).stderr.splitlines() == [line]


def test_a_scene_built_past_the_schema_still_cannot_install_more_prompts_than_osc_allows(tmp_path):
    from mrtd.core.scene.loader import load_scene
    from mrtd.core.scene.player import PreparedScene, ScenePlayer, prepare_scene
    from mrtd.style.embedder import BuiltinEmbedder
    from style_fakes import builtin_control

    path = tmp_path / "full.yaml"
    path.write_text(prompts_scene(MAX_PROMPTS))
    scene = load_scene(path)
    state = builtin_control()
    embed = BuiltinEmbedder().embed_text
    ScenePlayer(prepare_scene(scene, path, embed)).install(state, 0)
    playing = dict(state.prompt_texts)
    one_more = scene.model_copy(update={"prompts": {**scene.prompts, "extra": scene.prompts["p0"]}})  # no validation
    with pytest.raises(ValueError, match=f"at most {MAX_PROMPTS} prompts"):
        prepare_scene(one_more, path, embed)
    prepared = PreparedScene(one_more, path, {name: embed(name) for name in one_more.prompts})
    with pytest.raises(ValueError, match=f"at most {MAX_PROMPTS} prompts"):
        ScenePlayer(prepared).install(state, 0)
    assert state.prompt_texts == playing, "the refused scene changed nothing"


def test_a_prompt_text_longer_than_osc_takes_is_refused(tmp_path):
    from mrtd.vocabulary.values import prompt_name as _name
    from mrtd.vocabulary.values import text

    scene = tmp_path / "longtext.yaml"
    scene.write_text("name: t\nprompts:\n  a: " + "t" * MAX_PROMPT_TEXT_CHARS + "\n  b: {text: " + "t" * (MAX_PROMPT_TEXT_CHARS + 1) + "}\n")
    result = check(scene)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"{scene}:4: prompts.b.text: String should have at most {MAX_PROMPT_TEXT_CHARS} characters"]
    # The scene's limits are /mrt/prompt's: what one refuses, the other refuses too.
    assert text("t" * MAX_PROMPT_TEXT_CHARS, "prompt text") and _name("n" * MAX_PROMPT_NAME_CHARS)
    with pytest.raises(ValueError):
        text("t" * (MAX_PROMPT_TEXT_CHARS + 1), "prompt text")
    with pytest.raises(ValueError):
        _name("n" * (MAX_PROMPT_NAME_CHARS + 1))


def test_a_symlink_to_a_valid_scene_outside_the_folder_is_refused_as_outside(tmp_path):
    from mrtd.core.scene.loader import SceneError, load_scene

    folder, outside = tmp_path / "scenes", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "valid.yaml").write_text("name: valid\nprompts: {a: alpha}\n")
    link = folder / "elsewhere.yaml"
    link.symlink_to(outside / "valid.yaml")
    assert check(outside / "valid.yaml").returncode == 0, "the scene itself is fine"
    result = check(link)
    assert result.returncode == 1 and result.stderr.splitlines() == [f"{link}: leads outside the scene folder (a symlink?)"]
    with pytest.raises(SceneError) as refused:
        load_scene(link, folder)
    assert refused.value.errors == [f"{link}: leads outside the scene folder (a symlink?)"]


def test_duplicate_keys_are_named_with_their_lines(tmp_path):
    from mrtd.core.scene.loader import SceneError, load_scene

    scene = tmp_path / "d.yaml"
    scene.write_text("name: d\nprompts:\n  a: alpha\n  a: beta\n")
    with pytest.raises(SceneError) as refused:
        load_scene(scene)
    assert refused.value.errors == [f"{scene}:4: key 'a' given twice (first on line 3)"]


def test_a_cue_after_a_load_in_one_bundle_is_checked_against_the_new_scene(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "old.yaml").write_text("name: old\nprompts: {a: alpha}\ncues:\n  - {name: first, mix: {a: 1}}\n")
    (folder / "new.yaml").write_text("name: new\nprompts: {b: beta}\ncues:\n  - {name: intro, mix: {b: 1}}\n  - {name: finale, mix: {b: 0.5}}\n")
    with probed_daemon(tmp_path, scene=str(folder / "old.yaml"), scene_dir=str(folder)) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.scene == "old", 5, "the old scene")
        start = probe.transcript.mark()
        probe.send_raw(bundle(None, message("/mrt/scene/load", "new"), message("/mrt/cue", "finale")))
        wait_for(lambda: daemon.control.cue == "finale", 5, "finale, a cue only the new scene has")
        assert daemon.control.scene == "new"
        probe.send("/mrt/scene/load", "old")  # plain, one after the other
        probe.send("/mrt/cue", "first")
        wait_for(lambda: daemon.control.scene == "old" and daemon.control.cue == "first", 5, "first, in old")
        probe.request("/mrt/ping", "/mrt/pong", "fence")  # every answer to what came before is in
        assert probe.transcript.since(start).count("/mrt/error") == 0, probe.transcript.since(start)
        wall = time.time() + 0.3  # timetagged, both at once
        probe.send_raw(bundle(wall, message("/mrt/scene/load", "new"), message("/mrt/cue", "intro")))
        wait_for(lambda: daemon.control.scene == "new" and daemon.control.cue == "intro", 5, "intro, in new")
        assert probe.transcript.since(start).count("/mrt/error") == 0, probe.transcript.since(start)


def test_saving_the_playing_scene_keeps_its_cue_and_place(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    scene = folder / "live.yaml"
    text = "name: live\nprompts: {a: alpha, b: beta}\ncues:\n  - {name: one, at: 0, mix: {a: 1}}\n  - {name: two, mix: {b: 1}}\n"
    scene.write_text(text)
    with probed_daemon(tmp_path, scene=str(scene), scene_dir=str(folder)) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.scene == "live", 5, "the scene")
        probe.send("/mrt/cue", "two")
        wait_for(lambda: daemon.control.cue == "two", 5, "cue two")
        scene.write_text(text + "# a comment\n")
        wait_for(lambda: daemon.scenes.reloads == 1, 5, "the reload")
        frames = len(engine.seen)
        wait_for(lambda: len(engine.seen) > frames + 10, 5, "music after the reload")
        assert daemon.control.cue == "two", "saving a comment jumped back to the first cue"
        assert list(daemon.scenes.player.fired) == [], "no cue fired again (the fade would restart)"
