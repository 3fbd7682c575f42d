"""Which backend steps the mrt2 engine: MLX (the exported `.mlxfn`) or JAX (the official JAX system).

- `mlx`: engines/mrt2.py, `models/<name>/<name>.mlxfn` (Apple Silicon; MLX's CPU and CUDA backends
  on Linux);
- `jax`: engines/mrt2_jax.py, `checkpoints/<name>.safetensors` (the `jax` extra; NVIDIA with
  `jax[cuda12]`);
- `auto` (the default): what is installed here. When both are (the library and the model's
  files), both are built and warmed up, and the fastest that keeps up with real time here plays
  (the lower median warm-up step); when neither keeps up, the faster. The other is closed.

Whichever plays, `engine.backend_note` says why, the log says it with the device, and /mrt/status
shows `backend` and `backend_note`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from mrtd.engines.base import BaseEngine
from mrtd.engines.realtime import Verdict

log = logging.getLogger(__name__)

# Importing this module imports neither MLX nor JAX (the command line names the backends): each
# backend's module is imported when it is asked about.
BACKENDS = ("auto", "mlx", "jax")


def mlx_ready(model: str | None, home: str | os.PathLike | None) -> bool:
    """MLX imports and the model's two exported files are there."""
    from mrtd.engines.mrt2 import assets_present

    return assets_present(model, home)


def jax_ready(model: str | None, home: str | os.PathLike | None) -> bool:
    """JAX and magenta-rt are installed and the model's checkpoint is there (neither imported)."""
    from mrtd.engines.jax_checkpoint import checkpoint_path, jax_installed
    from mrtd.engines.mrt2 import DEFAULT_MODEL

    return jax_installed() and checkpoint_path(model or DEFAULT_MODEL, home).is_file()


def ready(backend: str, model: str | None, home: str | os.PathLike | None) -> list[str]:
    """The backends among `backend` (auto: both) that could play `model` here."""
    wanted = ("mlx", "jax") if backend == "auto" else (backend,)
    checks = {"mlx": mlx_ready, "jax": jax_ready}
    return [name for name in wanted if checks[name](model, home)]


def _build(backend: str, warm: bool, options: dict[str, Any]) -> BaseEngine:
    if backend == "jax":
        from mrtd.engines.mrt2_jax import create as create_jax

        engine: BaseEngine = create_jax(**options)
    else:
        from mrtd.engines.mrt2 import create as create_mlx

        engine = create_mlx(**options)
    if warm:
        try:
            engine.warm_up()
        except BaseException:
            engine.close()
            raise
    return engine


def pick(verdicts: dict[str, Verdict]) -> tuple[str, str]:
    """The backend to keep of measured ones, and why: the lowest median warm-up step among those that
    keep up with real time here, else the lowest median step (the doctor judges the same way)."""
    live = {name: v for name, v in verdicts.items() if v.keeps_up}
    pool = live or verdicts
    best = min(pool, key=lambda name: pool[name].p50_ms)
    figures = ", ".join(f"{name} {v.p50_ms:.1f} ms" for name, v in verdicts.items())
    if live:
        return best, f"the fastest real-time backend here (median warm-up step: {figures})"
    return best, f"the faster backend, neither is real time here (median warm-up step: {figures})"


def create(backend: str = "auto", **options: Any) -> BaseEngine:
    """The mrt2 engine on `backend` (mlx | jax | auto), from the daemon's engine options; ModelError when
    it cannot be built (a missing jax extra names the extra). `auto` with both backends installed
    returns an engine already warmed up (its verdict set), the other one closed."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    model, home = options.get("model"), options.get("magenta_home")
    if backend != "auto":
        engine, why = _build(backend, False, options), f"asked for (backend {backend})"
    else:
        found = ready("auto", model, home)
        if len(found) < 2:
            # One backend, or none: the MLX engine's own error names the missing files, as before the jax backend.
            only = found[0] if found else "mlx"
            engine, why = _build(only, False, options), f"the only backend installed here for this model ({only})"
        else:
            engine, why = _choose_between(found, options)
    engine.backend_note = f"{engine.backend}: {why}"
    log.info("mrt2 backend %s on %s: %s", engine.backend, engine.hardware(), why)
    return engine


def _choose_between(found: list[str], options: dict[str, Any]) -> tuple[BaseEngine, str]:
    """Build and warm each installed backend; keep the faster (ModelError only when none loads)."""
    from mrtd.engines.mrt2 import ModelError

    engines: list[BaseEngine] = []
    failures: list[str] = []
    for name in found:
        try:
            engines.append(_build(name, True, options))
        except ModelError as exc:
            failures.append(f"{name} did not load: {exc}")
            log.warning("backend auto: %s did not load: %s", name, exc)
    if not engines:
        raise ModelError("; ".join(failures))
    chosen, why = pick({e.backend: e.verdict for e in engines if e.verdict is not None})
    best = next(e for e in engines if e.backend == chosen)
    for engine in engines:
        if engine is not best:
            engine.close()
    return best, "; ".join([why, *failures])
