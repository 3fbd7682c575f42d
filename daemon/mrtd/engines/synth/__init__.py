"""The built-in `synth` engine: an instrument to rehearse on when MRT2 is not installed.

It honours the same conditioning as the real model, in its own simple way:

- Style: the embedding is read as musical descriptors (`mrtd.engines.descriptors`):
  brightness picks the harmonic content of band-limited wavetables, density
  how often the improviser plays, tempo the feel of its pulse, harmony the
  mode, attack the envelopes, drums the beat, register the octave, swing the
  off-beats. Issue 17 added rhythm families (four-on-the-floor, breaks,
  half-time, jazz ride, double kick; blended by softmax weights against the
  plain pattern), instrument voices (piano, pluck, bowed, bell, pad, organ,
  distorted lead: each its own wavetable set, envelope, brightness decay and
  vibrato, drawn per note or chord from softmax weights, so a blend of two
  prompts alternates between their voices), the kit's weight, a pulse (free
  time for ambient and drones), sevenths and ninths, open fifths, and a bass
  line that walks, slaps, sits on the off-beat or holds a sub under a break.
  The descriptors are smoothed frame by frame, so crossfades morph.
- Notes: held (1), onset (2) and on (3) slots sound their pitch with a
  sustained voice, 2 re-triggers; masked (-1) slots are the improviser's to
  play (melody, pad chords and bass in the style's key and mode); 0 is
  silent. cfg_notes sets how far the improvisation steps back while notes
  are held.
- Drums: 1 a beat, 0 none, -1 the style decides; cfg_drums how strictly.
- Sampling: temperature divides the logits of every random choice (note,
  chord, voice, whether to play a step) and scales timing/velocity
  humanisation; top_k limits the candidate notes and the next chords. cfg_style scales the descriptor logits.

Everything is vectorised per 40 ms frame (at most 12 voices rendered as one
[voices, 1920] array by wavetable lookup; envelopes in closed form; drums as
precomputed one-shots; a feedback delay whose delay exceeds a frame; a DC
blocker as a scaled cumulative sum), which keeps a frame around 1.3 ms on one
core (benchmarks/bench_synth.py; the budget is 2 ms). Output passes an AGC, a soft-knee limiter with a -1 dBFS ceiling,
and a DC blocker, and it is bit-for-bit reproducible from the seeds (tests/test_synth_golden.py
holds a varied session to its recorded digest).

The parts, each owning its state (`SynthEngine.reset` resets each):

- `patterns`: the drum patterns of each rhythm family, the accents on the step grid, and the
  `Pulse` that walks the grid in step with the musical clock;
- `sounds`: the instruments' wavetables and shapes and the drum one-shots (built once, read-only);
- `composer`: reads the style and the notes and decides what plays (`RandomChoices` holds the
  seeded randomness that temperature and top-k shape);
- `voices`: the `VoiceBank` of twelve voices and the `DrumHits` ringing, rendered per frame;
- `output`: echo, DC blocker, AGC and limiter;
- `engine`: `SynthEngine`, which joins them.
"""

from mrtd.engines.synth.engine import SynthEngine
from mrtd.engines.synth.output import OUTPUT_CEILING

__all__ = ["OUTPUT_CEILING", "SynthEngine"]
