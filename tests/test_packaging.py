"""What `pip install` brings: on Linux exactly one MLX backend per extra, never two in one venv."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
BACKENDS = {"cpu", "cuda", "cuda12", "cuda13"}  # mlx's extras; each installs mlx/lib/libmlx.so


def _mlx_backends(requirements: list[str], extra: str = "") -> set[str]:
    """The MLX backends these requirements pull on Linux (with `extra` asked for)."""
    found: set[str] = set()
    for line in requirements:
        req = Requirement(line)
        env = {"sys_platform": "linux", "platform_system": "Linux", "extra": extra}
        if req.name == "mlx" and (req.marker is None or req.marker.evaluate(env)):
            found |= req.extras & BACKENDS
    return found


def test_a_plain_install_brings_no_mlx_backend_on_linux():
    assert _mlx_backends(PYPROJECT["project"]["dependencies"]) == set(), \
        "a backend in the base dependencies lands beside cuda12/cuda13 and one libmlx.so overwrites the other"


def test_each_backend_extra_brings_exactly_its_own_backend():
    extras = PYPROJECT["project"]["optional-dependencies"]
    for extra in ("cpu", "cuda12", "cuda13"):
        assert _mlx_backends(extras[extra], extra) == {extra}, extra


def test_mlx_is_new_enough_for_the_thread_unsafe_stream_mrt2_uses():
    for line in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["cpu"]:
        req = Requirement(line)
        if req.name == "mlx":
            assert req.specifier.contains("0.32.0") and not req.specifier.contains("0.31.9"), line


def test_a_plain_install_brings_the_web_page():
    """The README's first command (`pip install -e '.[cpu]'`) and the service recipe (`'.[cpu]'`) name
    no `web` extra, yet both advertise the page: aiohttp serves it, qrcode prints its URL as a code."""
    names = {Requirement(line).name for line in PYPROJECT["project"]["dependencies"]}
    assert {"aiohttp", "qrcode"} <= names
    assert "web" in PYPROJECT["project"]["optional-dependencies"], "`pip install '.[web]'` in old notes still works"


def test_the_jax_extra_and_the_tests_bring_the_official_jax_system_and_no_mlx_backend():
    """`.[jax]` sits beside any one MLX extra (it brings no libmlx.so); it and `.[test]` ask for magenta-rt
    with its own `jax` extra (jax, flax, optax: what `magenta_rt.jax.system` imports), so neither relies
    on another package happening to pull JAX."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert _mlx_backends(extras["jax"], "jax") == set()
    for extra in ("jax", "test"):
        magenta = [Requirement(line) for line in extras[extra] if Requirement(line).name == "magenta-rt"]
        assert magenta and "jax" in magenta[0].extras, extra
        assert magenta[0].specifier.contains("2.0.3") and not magenta[0].specifier.contains("2.1.0"), extra
