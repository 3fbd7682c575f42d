"""Engines by name: `synth` (built in), `mrt2` (MLX or JAX: engines/backends.py), and `auto`."""

from __future__ import annotations

import logging
from typing import Callable

from mrtd.engines.base import BaseEngine, StepMetrics

log = logging.getLogger(__name__)

ENGINE_NAMES = ("auto", "synth", "mrt2")


def _make_synth(**options) -> BaseEngine:
    from mrtd.engines.synth import SynthEngine

    return SynthEngine(seed=options.get("seed", 0))


def _make_mrt2(**options) -> BaseEngine:
    # Imported on first use: the backends import MLX or JAX, which a synth-only install need not load.
    from mrtd.engines.backends import create

    return create(**options)


_FACTORIES: dict[str, Callable[..., BaseEngine]] = {"synth": _make_synth, "mrt2": _make_mrt2}


def register(name: str, factory: Callable[..., BaseEngine]) -> None:
    """Add (or replace) an engine by name: a test's stand-in, or an engine from outside the package."""
    _FACTORIES[name] = factory


def create_engine(name: str = "auto", **options) -> BaseEngine:
    """Build an engine by name. `auto` picks mrt2 when its assets are present for a backend
    (`backend` option: mlx | jax | auto), else synth."""
    if name not in ENGINE_NAMES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
    if name == "auto":
        name = "mrt2" if _mrt2_available(**options) else "synth"
        log.info("engine auto: picked %s", name)
    return _FACTORIES[name](**options)


def _mrt2_available(**options) -> bool:
    try:
        from mrtd.engines import backends
    except ImportError:
        return False
    return bool(backends.ready(options.get("backend") or "auto", options.get("model"), options.get("magenta_home")))


__all__ = ["BaseEngine", "StepMetrics", "create_engine", "register", "ENGINE_NAMES"]
