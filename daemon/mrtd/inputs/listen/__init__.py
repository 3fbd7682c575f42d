"""Listening: the music follows what mrtd hears (`--listen SOURCE`).

The capture (audio/capture.py) only copies the input into a ring; everything here runs on the
analysis thread (`follower.py`) and turns what it hears into commands like any other input:
notes and chords into NoteOn/NoteOff (`notes.py`), beats into the tempo and AlignBeat
(`tempo.py`), and the last bars into the `listen` prompt (`style.py`). `analysis.py` drives
them hop by hop; tests feed it generated signals through the same code.
"""
