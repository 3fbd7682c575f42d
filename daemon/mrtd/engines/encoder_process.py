"""SpectroStream encoding for prefill, in a helper process.

The exported encoder is one MLX function traced for exactly 28 s of audio: it
cannot be called in pieces. Run in the daemon, that call would hold the MLX
lock the playing engine steps under for its whole length (the official C++
engine encodes on its own thread beside the step; MLX in Python is one lock
per process). In a child process it has its own MLX and the lock stays free:
the playing engine waits for nothing, and the prefill's own steps take the lock
one step at a time as before.

The child is a warm `HelperProcess`: the audio goes over as base64 float32, the
tokens come back as [1, T, levels] int32 lists, an encoder it cannot import or
that refuses the input comes back as one line of error.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from mrtd.helper_process import HelperFailed, HelperProcess, HelperTimeout, serve

TIMEOUT_S = 300.0  # one 28 s encode; minutes on a slow CPU with the full encoder, milliseconds on a GPU
CHANNELS = 2


class EncodeError(Exception):
    """The encoder could not be imported, refused the audio, or its process stopped."""


class EncoderProcess:
    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self._helper = HelperProcess("mrtd.engines.encoder_process", timeout_s)

    def encode(self, encoder: Path, audio: np.ndarray, input_samples: int) -> np.ndarray:
        """Tokens [1, T, levels] int32 for `audio` [n, 2] zero-padded to `input_samples`."""
        samples = np.ascontiguousarray(audio, dtype=np.float32)
        request = {"encoder": str(encoder), "samples": input_samples,
                   "audio": base64.b64encode(samples.tobytes()).decode("ascii")}
        try:
            reply = self._helper.ask(request)
        except HelperTimeout as exc:
            raise EncodeError(f"SpectroStream encoder {encoder.name}: {exc} (its process was stopped)") from None
        except HelperFailed as exc:
            raise EncodeError(f"SpectroStream encoder {encoder.name}: {exc}") from None
        if "tokens" not in reply:
            raise EncodeError(reply.get("error") or f"SpectroStream encoder {encoder.name} failed ({reply.get('failed')})")
        return np.asarray(reply["tokens"], dtype=np.int32)

    @property
    def pid(self) -> int | None:
        return self._helper.pid

    def close(self) -> None:
        self._helper.close()


_imported: dict[str, Any] = {}


def _encode(request: dict[str, Any]) -> dict[str, Any]:
    """In the child: one encode."""
    import mlx.core as mx

    path = request["encoder"]
    name = Path(path).name
    if path not in _imported:
        try:
            _imported[path] = mx.import_function(path)
        except Exception as exc:  # noqa: BLE001 - any import failure is one line back
            return {"error": f"cannot import the SpectroStream encoder {path}: {str(exc).splitlines()[0]}"}
    audio = np.frombuffer(base64.b64decode(request["audio"]), dtype=np.float32).reshape(-1, CHANNELS)
    samples = int(request["samples"])
    waveform = np.zeros((1, samples, CHANNELS), dtype=np.float32)
    waveform[0, : min(len(audio), samples)] = audio[:samples]
    try:
        (tokens,) = _imported[path](mx.array(waveform))[:1]
        tokens = np.array(tokens.astype(mx.int32))
    except ValueError as exc:
        return {"error": f"SpectroStream encoder {name} refused [1,{samples},2] float32: {str(exc).splitlines()[0]}"}
    return {"tokens": tokens.tolist()}


if __name__ == "__main__":
    serve(_encode)
