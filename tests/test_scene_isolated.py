"""Scenes are parsed in a helper process: what it refuses, and that it comes back after a kill."""

from __future__ import annotations

import os
import signal

import pytest

from mrtd.core.scene.isolated import SceneParser
from mrtd.core.scene.loader import SceneError, load_scene

GOOD = "name: good\nprompts: {a: warm pads, b: cold rain}\naxes: {t: {from: a, to: b}}\ncues:\n  - {name: one, at: 0, mix: {a: 1}}\n"


@pytest.fixture
def parser():
    parser = SceneParser()
    yield parser
    parser.close()


def test_the_child_returns_what_loading_here_returns(tmp_path, parser):
    (tmp_path / "good.yaml").write_text(GOOD)
    assert parser.load(tmp_path / "good.yaml") == load_scene(tmp_path / "good.yaml")
    assert parser.pid is not None and parser.pid != os.getpid()


def test_errors_come_back_all_at_once_as_a_load_here_gives_them(tmp_path, parser):
    (tmp_path / "bad.yaml").write_text("promts: {}\ntempo: fast\n")
    with pytest.raises(SceneError) as here:
        load_scene(tmp_path / "bad.yaml")
    with pytest.raises(SceneError) as there:
        parser.load(tmp_path / "bad.yaml")
    assert there.value.errors == here.value.errors and len(there.value.errors) == 2


def test_a_parse_past_its_time_is_refused_and_the_next_load_starts_a_new_child(tmp_path):
    vector = "[" + ", ".join("0.5" for _ in range(768)) + "]"
    # A valid scene (64 prompts, the most a scene may have) that takes longer than 0.05 s to parse.
    (tmp_path / "big.yaml").write_text("prompts:\n" + "".join(f"  p{i}: {{embedding: {vector}}}\n" for i in range(64)))
    (tmp_path / "good.yaml").write_text(GOOD)
    parser = SceneParser(timeout_s=0.05)
    try:
        with pytest.raises(SceneError) as refused:
            parser.load(tmp_path / "big.yaml")
        assert refused.value.errors == [f"{tmp_path / 'big.yaml'}: took longer than 0.05 s (the scene parser was stopped)"]
        parser.timeout_s = 30.0
        assert parser.load(tmp_path / "good.yaml").prompts["a"].text == "warm pads"
        assert parser.starts == 2
    finally:
        parser.close()


def test_a_child_killed_from_outside_is_replaced(tmp_path, parser):
    (tmp_path / "good.yaml").write_text(GOOD)
    parser.load(tmp_path / "good.yaml")
    os.kill(parser.pid, signal.SIGKILL)
    assert parser.load(tmp_path / "good.yaml").name == "good", "the next load works"
    assert parser.starts == 2
