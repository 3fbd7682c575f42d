"""The real-time analysis library, an optional extra (`pip install 'mrtd[listen]'`).

aubio, not librosa: aubio is made for this (its pitch and onset objects take one 10 ms hop at
a time, in C: about 20 us a hop here), while librosa is built for whole recordings: used hop by
hop it pays its Python overhead on every call, and its beat tracker JIT-compiles with numba on
first use (47 s on this machine) and then costs about 50 ms a call. aubio has no wheels: pip
builds its sdist with the C compiler and Python's headers (build-essential, python3-dev, which
.ci/run installs), against numpy 2 as well. The tempo is our own (tempo.py): aubio's beat
tracker missed beats of plain click tracks and read them 1-2 BPM off.
"""

from __future__ import annotations

from types import ModuleType

MISSING = ("listening needs the listen extra: pip install 'mrtd[listen]' (aubio; pip builds it with a C"
           " compiler and Python's headers: apt-get install build-essential python3-dev)")


def import_aubio() -> ModuleType:
    """aubio, or RuntimeError with the one line that says how to install it."""
    try:
        import aubio
    except ImportError as exc:
        raise RuntimeError(MISSING) from exc
    return aubio
