"""mrtd: keep a real-time music model warm and let people play it."""

__version__ = "0.1.0"

import os as _os

# OpenBLAS's worker threads spin while they wait for work; on a small machine they
# steal the core the generator or the audio callback needs (measured: quantizer
# p99 went from 1.5 ms to 48 ms). Our matrices are small: one thread is faster.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
