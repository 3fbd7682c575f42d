"""Reading a scene file: YAML in, a validated `Scene` out, or every error at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mrtd.inputs.scene.schema import Scene
from mrtd.yamlcheck import YamlError, load_yaml, parse_yaml


class SceneError(YamlError):
    """A scene file that cannot be played. `errors` holds every problem, one line each."""


def _references(scene: Scene) -> list[tuple[tuple, str]]:
    return scene.check_references()


def load_scene(path: str | Path) -> Scene:
    return load_yaml(path, Scene, _references, SceneError)


def parse_scene(text: str, filename: str = "<scene>") -> Scene:
    return parse_yaml(text, filename, Scene, _references, SceneError)


def json_schema() -> dict[str, Any]:
    """The scene schema for editors (YAML language servers read JSON Schema)."""
    schema = Scene.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mrtd scene"
    return schema
