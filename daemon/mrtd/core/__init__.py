"""What a live run and a render share: the session the composition root builds for both.

`session.py` builds it (the control state, the scene host, the generator, the capture),
`scenes.py` hosts the scenes (loads, watches, installs, cues, mappings), `commands.py`
holds the commands that need the scene host or the engine switch, `music.py` what the
music is doing (the journal's record and its resume), and `capture.py` writes every
command applied to a file that `mrtd render --replay` plays again.
"""
