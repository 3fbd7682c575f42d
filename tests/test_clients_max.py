"""clients/max/mrtd.maxpat cannot run here (no Max on Linux): check it is a valid patcher speaking the daemon's addresses."""

from __future__ import annotations

import json

from clients_rig import CLIENTS
from mrtd.inputs.osc.table import TABLE


def test_the_max_patch_is_valid_and_covers_the_surface():
    patcher = json.loads((CLIENTS / "max" / "mrtd.maxpat").read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    for line in patcher["lines"]:
        source, destination = line["patchline"]["source"], line["patchline"]["destination"]
        assert source[0] in boxes and destination[0] in boxes
        assert source[1] < boxes[source[0]]["numoutlets"] and destination[1] < boxes[destination[0]]["numinlets"]
    texts = [b.get("text", "") for b in boxes.values() if b["maxclass"] in ("message", "newobj")]
    sent = {t.split()[0] for t in texts if t.startswith("/mrt/")} | {t.split()[1] for t in texts if t.startswith("prepend /mrt/")}
    routed = {row.path for row in TABLE if row.path.startswith("/mrt/")}
    assert sent <= routed, sent - routed
    assert routed <= sent, f"addresses without a message box: {routed - sent}"
    assert any(t.startswith("udpsend ") for t in texts) and any(t.startswith("udpreceive ") for t in texts)
