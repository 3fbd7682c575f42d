"""The documents a reader follows point at files in this repository (a clone has nothing else)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "clients").glob("*/README.md"))]


def test_every_link_and_every_named_document_is_in_the_repository():
    in_repo = {p.name for p in ROOT.rglob("*") if ".git" not in p.parts and ".venv" not in p.parts}
    missing = []
    for doc in DOCS:
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or a heading on the same page
            if not (doc.parent / target.split("#")[0]).exists():
                missing.append(f"{doc.relative_to(ROOT)}: link {target}")
        for name in sorted(set(re.findall(r"(?<![\w/.-])([\w.-]+\.md)\b", text))):
            if name not in in_repo:  # a document named in prose, e.g. one that lives outside the clone
                missing.append(f"{doc.relative_to(ROOT)}: names {name}")
    assert missing == []
