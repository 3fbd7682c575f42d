"""A second JACK client that plays a WAV file, looped, on ports `feeder:out_0/1` (PortAudio's
JACK host API, as any JACK program would): what the listening tests connect mrtd to.

Run as `python listen_feeder.py FILE.wav`; prints `ready` once its ports exist, plays until
stdin closes."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import wave

import numpy as np

NAME = ctypes.create_string_buffer(b"feeder")  # PortAudio keeps the pointer


def main(path: str) -> None:
    portaudio = ctypes.CDLL(ctypes.util.find_library("portaudio"))
    portaudio.PaJack_SetClientName(NAME)  # before PortAudio initialises (importing sounddevice)
    import sounddevice as sd

    with wave.open(path) as wav:
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2).astype(np.float32) / 32768
    where = [0]

    def callback(outdata, frames, time_info, status):
        start = where[0]
        index = (start + np.arange(frames)) % len(audio)
        outdata[:] = audio[index]
        where[0] = (start + frames) % len(audio)

    device = next(i for i, d in enumerate(sd.query_devices())
                  if "JACK" in sd.query_hostapis(d["hostapi"])["name"] and d["max_output_channels"] >= 2)
    with sd.OutputStream(samplerate=48000, channels=2, dtype="float32", device=device, callback=callback):
        print("ready", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main(sys.argv[1])
