"""docs/config.md lists every config key, explained, and stays in step with the code."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from mrtd.app.config import Settings, load_settings
from mrtd.app.configdoc import config_markdown, undocumented
from mrtd.inputs.osc.server import OscConfig

PAGE = Path(__file__).parent.parent / "docs" / "config.md"


def test_docs_config_md_is_current():
    assert PAGE.read_text() == config_markdown(), "docs/config.md is stale: run `mrtd config-reference > docs/config.md`"


def test_every_key_is_explained():
    assert undocumented() == []


def test_every_key_the_page_names_is_one_a_config_file_may_set(tmp_path):
    keys = re.findall(r"^\| `([a-z_.]+)` \|", PAGE.read_text(), flags=re.M)
    top = [k for k in keys if "." not in k]
    osc = [k.split(".", 1)[1] for k in keys if k.startswith("osc.")]
    assert top == [f.name for f in dataclasses.fields(Settings)]
    assert osc == [f.name for f in dataclasses.fields(OscConfig)]
    config = tmp_path / "mrtd.yaml"
    config.write_text("".join(f"{key}: {value}\n" for key, value in
                              [("engine", "synth"), ("record_dir", str(tmp_path)), ("log_json", "true")]) + "osc: {port: 0, tcp: false}\n")
    settings = load_settings(config, {})
    assert (settings.engine, settings.log_json, settings.osc.tcp) == ("synth", True, False)
