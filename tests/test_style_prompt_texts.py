"""`musiccoca:t1,...,t12` and `:centroid` prompt texts, as the official engine reads them.

Expected values come from the official parser (magenta-realtime 2.0.3, core/src/mlx_engine.cpp
`fetch_musiccoca_tokens`): the text starts with exactly `musiccoca:`; pieces split at commas,
trimmed of " \\t\\r\\n", empty ones skipped, each read by `std::stoi` (leading digits, a sign);
twelve of them, or the text is words; the override holds only while one prompt has a text,
whatever its weight; levels 6-11 are masked where the tokens are written into `cond`. A `:name`
text, lower-cased, is the PCA file's centroid of that lower-cased name, else words.
"""

from __future__ import annotations

import numpy as np
import pytest

from mrtd.style.pca import PCAFile
from mrtd.style.prompt_text import centroid_key, musiccoca_tokens
from style_fakes import builtin_control, unit

PIANO = (325, 98, 979, 657, 802, 453, 475, 622, 729, 934, 567, 782)  # kDefaultMusicCoCaTokensPiano
PIANO_TEXT = "musiccoca:" + ",".join(map(str, PIANO))
SENT = list(PIANO[:6]) + [-1] * 6  # cond keeps levels 0-5 (kMusicCoCaMaskedTailLevels = 6)


@pytest.mark.parametrize("text, tokens", [
    (PIANO_TEXT, PIANO),
    ("musiccoca: 325 ,\t98,979 ,657,802,453,475,622,729,934,567,782\n", PIANO),  # each piece trimmed
    ("musiccoca:325,98,,979,657,802,453,475,622,729,934,567,782,", PIANO),  # empty pieces skipped
    ("musiccoca:325abc,98,979,657,802,453,475,622,729,934,567,+782", PIANO),  # std::stoi: leading digits, a sign
    ("musiccoca:-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1", (-1,) * 12),  # masked is a token too
    ("musiccoca:1,2,3,4,5,6,7,8,9,10,11", None),  # eleven
    ("musiccoca:1,2,3,4,5,6,7,8,9,10,11,12,13", None),  # thirteen
    ("musiccoca:1,2,3,4,5,six,7,8,9,10,11,12", None),  # std::stoi throws
    ("musiccoca:1,2,3,4,5, ,6,7,8,9,10,11,12", None),  # a piece of blanks is not trimmed away: it throws
    ("musiccoca:1,2,3,4,5,6,7,8,9,10,11,99999999999", None),  # out of an int: std::stoi throws
    ("MusicCoCa:" + PIANO_TEXT[10:], None), (" " + PIANO_TEXT, None),  # the prefix, exactly, first
    ("musiccoca:1,2,3,4,5,6,7,8,9,10,11,1024", None),  # mrtd: past the codebook, words (officially sent as is)
])
def test_musiccoca_texts_parse_as_the_official_engine_parses_them(text, tokens):
    assert musiccoca_tokens(text) == tokens


def test_the_named_tokens_are_the_style_while_theirs_is_the_only_prompt():
    state = builtin_control()
    state.define_prompt("raw", PIANO_TEXT, unit(1), weight=0.0)  # weight 0: the override ignores it
    _embedding, tokens = state.style.advance()
    assert list(tokens) == SENT
    state.define_prompt("warm", "warm pads", unit(2), weight=1.0)  # two texts: the override is off...
    _embedding, tokens = state.style.advance()
    blended = state.style.quantizer.quantize(unit(2))  # ...and the blend is the words' (weight 0 for raw)
    assert list(tokens) == list(blended)
    state.clear_prompt("warm")
    assert list(state.style.advance()[1]) == SENT
    state.define_prompt("raw", "musiccoca:1,2,3", unit(3), weight=1.0)  # no longer twelve: words
    assert list(state.style.advance()[1]) == list(state.style.quantizer.quantize(unit(3)))


def test_raw_tokens_still_come_first():
    state = builtin_control()
    state.define_prompt("raw", PIANO_TEXT, unit(1))
    state.style.set_raw_tokens(np.arange(12))
    assert list(state.style.advance()[1]) == list(range(6)) + [-1] * 6


def test_a_colon_name_is_the_pca_centroid_of_that_name_lower_cased():
    state = builtin_control()
    jazz, words = unit(10), unit(11)
    assert centroid_key(":Smooth Jazz") == "smooth jazz"
    state.define_prompt("a", ":JAZZ", None, weight=1.0)  # no PCA file: the words, when encoded
    state.prompt_ready("a", words)
    assert np.allclose(state.style.advance()[0], words)
    state.style.apply_pca(PCAFile([unit(20)], {"Jazz": jazz}))  # names stored lower-cased
    state.define_prompt("a", ":JAZZ", None, weight=1.0)  # sent again with the file loaded: the centroid
    assert np.allclose(state.style.advance()[0], jazz)
    state.prompt_ready("a", words)  # the encoder's embedding of the words arrives late: not it
    assert np.allclose(state.style.advance()[0], jazz)
    state.define_prompt("a", ":blues", None, weight=1.0)  # no such centroid: the words
    state.prompt_ready("a", words)
    assert np.allclose(state.style.advance()[0], words)
