# Sonic Pi -> mrtd. Paste into a buffer and press Run (mrtd listening on 7400).
use_osc "localhost", 7400

osc "/mrt/prompt", "dark", "dark ambient drone", 1.0   # a prompt point (mrtd encodes it)
osc "/mrt/temperature", 1.3

live_loop :mrtd do
  use_bpm 120
  # SuperDirt-shaped events: s selects what it means (docs/osc.md, Dialects); n 0 = C5 = MIDI 60.
  osc "/dirt/play", "s", "mrt", "n", [0, 3, 7, 10].choose, "sustain", 0.4, "cps", 0.5
  sleep 0.5
  osc "/dirt/play", "s", "cfg_notes", "n", rrand(1.0, 4.0)   # a parameter as the sound
  sleep 0.5
end
