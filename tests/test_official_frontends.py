"""The official front ends' remaining controls, read from the official code (magenta-realtime 2.0.3).

Expected values come from the official rules, not from mrtd: the externals' six prompt slots
count from 0 and clamp their weights to [0, 1] (examples/max/mrt_tilde.mm and
examples/pd/mrt_tilde.mm `mrt_prompt`, examples/sc/MRT2.mm `MRT2_cmd_prompt`); `buffersize`
(the same files, `mrt_buffersize`) is a ring of samples that mrtd maps onto its latency presets.
"""

from __future__ import annotations

import pytest

from conftest import probed_daemon, wait_for
from mrtd.vocabulary import requests as q


@pytest.fixture
def rig(tmp_path):
    with probed_daemon(tmp_path) as rig:
        yield rig


def prompts_of(daemon) -> dict[str, float]:
    """The prompts defined and their raw weights, as the style space holds them."""
    return dict(daemon.control.style.weights())


# -- 1. the official slots and weights ---------------------------------------------------------


def test_official_slots_count_from_0_and_are_mrtds_slots_counted_from_1(rig):
    daemon, _engine, probe = rig
    probe.send("/prompt", 0, "warm analog pads", 0.5)  # official slot 0 ...
    wait_for(lambda: prompts_of(daemon) == {"1": 0.5}, 5, "official slot 0 as mrtd's prompt 1")
    probe.send("/mrt/prompt", 1, "cold rain", 0.25)  # ... is the prompt mrtd's own address calls 1
    wait_for(lambda: daemon.control.prompt_texts.get("1") == "cold rain" and prompts_of(daemon) == {"1": 0.25}, 5,
             "the same prompt, re-defined through mrtd's address")
    probe.send("/prompt", 5, "dusty drums")  # the last official slot; no weight: 1, as the externals
    wait_for(lambda: prompts_of(daemon) == {"1": 0.25, "6": 1.0}, 5, "official slot 5 as mrtd's prompt 6")
    assert probe.exchange("/prompt", 6, "too far") == [("/mrt/error", ["/prompt", "an official prompt slot lies in [0, 5], got 6"])]
    assert probe.exchange("/prompt", "pads", "by name")[0][1][1].startswith("an official prompt slot is a number 0-5")


def test_official_weights_clamp_to_0_1_and_say_so(rig):
    daemon, _engine, probe = rig
    assert probe.exchange("/prompt", 1, "bright fast techno", 2.5) == [("/mrt/clamped", ["weight", 1.0, "the official range is 0-1"])]
    wait_for(lambda: prompts_of(daemon) == {"2": 1.0}, 5, "2.5 clamped to 1")
    probe.exchange("/prompt", 1, "bright fast techno", -3.0)
    wait_for(lambda: prompts_of(daemon) == {"2": 0.0}, 5, "-3 clamped to 0")
    probe.send("/mrt/weight", 2, 2.5)  # mrtd's own address keeps its range (0-100)
    wait_for(lambda: prompts_of(daemon) == {"2": 2.5}, 5, "mrtd's own weight, not clamped")


def test_pd_words_are_the_text_and_a_slot_alone_empties_it(rig):
    daemon, _engine, probe = rig
    probe.send("/prompt", 2, "warm", "analog", "pads", 0.75)  # Pd cannot quote: the words are joined
    wait_for(lambda: daemon.control.prompt_texts.get("3") == "warm analog pads" and prompts_of(daemon) == {"3": 0.75}, 5,
             "the words joined, the trailing number the weight")
    probe.send("/prompt", 2)  # `prompt N` alone clears the slot
    wait_for(lambda: prompts_of(daemon) == {}, 5, "slot 2 emptied")
    probe.send("/prompt", 0, "strings")
    wait_for(lambda: prompts_of(daemon) == {"1": 1.0}, 5, "slot 0")
    probe.send("/prompt_clear", 0)  # the SuperCollider class's form
    wait_for(lambda: prompts_of(daemon) == {}, 5, "slot 0 emptied by prompt_clear")


def test_the_official_forms_decode_as_the_externals_read_them():
    assert q.decode("/prompt", [3, "lofi", "hip", "hop"]) == q.OfficialPrompt(3, "lofi hip hop", 1.0)
    assert q.decode("/prompt", [0]) == q.OfficialPrompt(0)
    with pytest.raises(ValueError, match="at most one number"):
        q.decode("/prompt", [0, "tempo", 120, "funk", 0.5])  # Pd would drop the 120; mrtd says why
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        q.decode("/prompt_clear", [-1])


# -- 2. buffersize -----------------------------------------------------------------------------


@pytest.mark.parametrize("sent, held", [
    (2048, 2048), (4096, 4096), (8192, 8192),  # the AU plugin's three
    (100, 1920),  # below one frame: clamped up to 1920, as `mrt_buffersize`
    (65536, 8192),  # past the ring: `set_virtual_capacity` caps at RingBuffer::kCapacity
])
def test_a_buffer_size_is_the_margin_it_holds(sent, held):
    from mrtd.app import official_buffer

    assert official_buffer.official_samples(sent) == held
    assert official_buffer.margin_ms_for(sent) == round(held / 48.0, 1)  # samples at 48 kHz, in ms
    assert official_buffer.latency_for(official_buffer.margin_ms_for(sent)) == f"{round(held / 48.0, 1):g}"


def test_a_buffer_size_that_is_a_presets_margin_names_the_preset():
    from mrtd.app import official_buffer
    from mrtd.audio.outputs import LATENCY_PRESETS

    safe = LATENCY_PRESETS["safe"].margin_ms  # 120 ms: 5,760 samples
    assert official_buffer.latency_for(official_buffer.margin_ms_for(round(safe * 48))) == "safe"


def test_buffersize_answers_with_the_margin_and_when_it_applies(rig):
    _daemon, _engine, probe = rig  # started at the default margin (balanced)
    assert probe.exchange("/buffersize", 8192) == [("/mrt/buffersize", [8192, "170.7", 171, "at start: --latency 170.7"])]
    assert probe.exchange("/mrt/buffersize", 1000) == [("/mrt/buffersize", [1920, "40", 40, "at start: --latency 40"])]
    assert probe.exchange("/buffersize", 5760) == [("/mrt/buffersize", [5760, "safe", 120, "at start: --latency safe"])]


# -- 3. musiccoca: prompt texts through the front ends -------------------------------------------


def test_a_musiccoca_text_sent_to_an_official_slot_sets_the_tokens(rig):
    _daemon, engine, probe = rig
    piano = (325, 98, 979, 657, 802, 453, 475, 622, 729, 934, 567, 782)  # kDefaultMusicCoCaTokensPiano
    probe.send("/prompt", 0, "musiccoca:" + ",".join(map(str, piano)))
    wait_for(lambda: engine.seen and list(engine.seen[-1].style_tokens) == list(piano[:6]) + [-1] * 6, 5,
             "the named tokens, levels 6-11 masked as the official cond")
