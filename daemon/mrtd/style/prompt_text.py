"""What a prompt's text asks for besides words, as the official engine reads it.

The official engine (magenta-realtime 2.0.3, core/src/mlx_engine.cpp
`fetch_musiccoca_tokens`) gives two texts a meaning of their own before any text is encoded:

- `musiccoca:t1,...,t12` names the 12 style tokens outright. The text must start with exactly
  `musiccoca:`; what follows is split at commas, each piece trimmed of spaces, tabs and line
  breaks, empty pieces skipped, and each read as C++'s `std::stoi` reads it (an optional sign
  and the digits that lead it: `12abc` is 12, `abc` fails, a piece of only blanks fails). Twelve
  numbers, and the tokens are those; anything else, and the text is encoded as words. It applies
  only while it is the one prompt with a text (the official front ends' six slots: exactly one
  non-empty), whatever its weight; the tokens are kept whole and, as every style source, only
  levels 0-5 are sent.
- `:name` (compared lower-cased, as the PCA file's centroid names are stored) is the embedding
  of the PCA file's centroid `name`; with no PCA file, or no such centroid, the text is encoded
  as words.

The Jam app's Solo mode sends its prompt to MusicCoCa as "SOLO " and the text
(examples/jam/ui/src/App.tsx `sendPrompt`, examples/jam/JamAppController.mm `textPrompts`):
`encoder_text` is that rule, which the encoder applies to every text prompt it encodes while
Solo is on (style/encoder.py).

mrtd reads both the official way (these functions), in its style space (style/space.py), where
prompt texts meet embeddings and tokens. One difference: the official engine sends whatever
integers the text holds; mrtd takes only tokens the model has (-1 masked to 1023), and a text
with any other number is encoded as words, as one that does not parse is.
"""

from __future__ import annotations

import re

from mrtd.conditioning import MASKED, STYLE_TOKENS
from mrtd.style.quantizer import CODEBOOK_SIZE

MUSICCOCA_PREFIX = "musiccoca:"  # `kMusicCoCaOverridePrefix`
SOLO_PREFIX = "SOLO "  # the Jam app's Solo mode
CENTROID_PREFIX = ":"
_BLANKS = " \t\r\n"  # what the official parser trims from each piece
_STOI = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")  # std::stoi: leading blanks, a sign, the digits
_INT_MAX = 2**31 - 1  # std::stoi throws out_of_range past an int


def musiccoca_tokens(text: str) -> tuple[int, ...] | None:
    """The 12 style tokens a `musiccoca:` text names, or None when it names none (see the module)."""
    if not text.startswith(MUSICCOCA_PREFIX):
        return None
    tokens: list[int] = []
    for piece in text[len(MUSICCOCA_PREFIX):].split(","):
        stripped = piece.strip(_BLANKS)
        item = stripped if stripped else piece  # the official trim leaves a piece of only blanks as it was
        if not item:
            continue  # an empty piece (two commas together, or a trailing comma) is skipped
        number = _STOI.match(item)
        if number is None or abs(int(number.group(1))) > _INT_MAX:
            return None  # std::stoi threw: the text is encoded as words
        tokens.append(int(number.group(1)))
    if len(tokens) != STYLE_TOKENS or not all(MASKED <= token < CODEBOOK_SIZE for token in tokens):
        return None
    return tuple(tokens)


def ascii_lower(text: str) -> str:
    """Lower-cased byte by byte as C's `tolower` does in the C locale: A-Z only."""
    return text.translate(_LOWER)


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def centroid_key(text: str) -> str | None:
    """The PCA centroid a `:name` text names (lower-cased), or None for any other text."""
    lowered = ascii_lower(text)
    return lowered[len(CENTROID_PREFIX):] if lowered.startswith(CENTROID_PREFIX) else None


def encoder_text(text: str, solo: bool) -> str:
    """What MusicCoCa is given for a prompt's `text`: in Solo, "SOLO " and the text, as the Jam app
    sends it (its empty prompt becomes "silence"; an mrtd prompt is never empty)."""
    return SOLO_PREFIX + text if solo else text
