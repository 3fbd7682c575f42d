"""The daemon's health in Prometheus' text format, for /metrics on the web port.

A technician watching several rooms from one Prometheus scrapes each daemon. Every figure
is read from the daemon's status dict when Prometheus asks (a custom Collector on a registry
of its own, never the process-wide one): nothing is counted per frame for it, so the
generation thread pays nothing, and a scrape costs one status() call (figures in
docs/benchmarks.md). Totals are counters, figures that go up and down are gauges, times are
in seconds; names and text that are no number (engine, scene, cue) are info labels.

Scene and cue names come from scene files and OSC, so they are untrusted: cut to
`MAX_LABEL` characters (prometheus_client escapes quotes, backslashes and newlines), which
also bounds the series a hostile scene could make a Prometheus keep.

Needs prometheus-client (the `web` extra): app/web_surface.py imports this module only
inside a try, and serves /metrics without it as one clear line.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector


MAX_LABEL = 64  # characters of an engine, scene or cue name kept in a label
CONTENT_TYPE = CONTENT_TYPE_LATEST

# status key -> (metric name without _total, help): totals since the daemon started
COUNTERS = {
    "frames": ("mrtd_frames", "40 ms frames the generator has made"),
    "underruns": ("mrtd_underruns", "Gaps the output concealed because no frame was ready (ring and device)"),
    "engine_faults": ("mrtd_engine_faults", "Engine steps that failed or made NaN/inf, each concealed"),
    "late": ("mrtd_late_commands", "Timed commands that arrived after their frame was made"),
    "late_steps": ("mrtd_late_steps", "Engine steps that took longer than a 40 ms frame"),
    "device_losses": ("mrtd_device_losses", "Times the sound card went away"),
}


def label(value: Any) -> str:
    """A label value from untrusted text: at most MAX_LABEL characters."""
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


class StatusCollector(Collector):
    """Reads the status at scrape time. `status`: the daemon's status dict; `audio_health`: why the
    audio does not flow ("" while it does; /health's answer); `clients`: connected clients by kind."""

    def __init__(self, status: Callable[[], dict[str, Any]], audio_health: Callable[[], str],
                 clients: Callable[[], dict[str, int]]) -> None:
        self._status, self._audio_health, self._clients = status, audio_health, clients

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        flowing = GaugeMetricFamily("mrtd_audio_flowing", "1 while frames flow without underruns and the device is "
                                    "in place (what /health answers 200 to), else 0")
        flowing.add_metric([], 0.0 if self._audio_health() else 1.0)
        yield flowing
        for key, (name, text) in COUNTERS.items():
            yield CounterMetricFamily(name, text, value=float(status.get(key) or 0))
        step = GaugeMetricFamily("mrtd_engine_step_seconds", "Engine step time over the last 1000 steps (40 s): "
                                 "the mean and the 99th percentile; a frame's budget is 0.04 s", labels=["stat"])
        step.add_metric(["mean"], status["step_ms"] / 1000.0)
        step.add_metric(["p99"], status["step_p99_ms"] / 1000.0)
        yield step
        # Silence on purpose (closed hours, /mrt/stop) is not an outage: an alert on a quiet room
        # can leave these rooms out.
        yield GaugeMetricFamily("mrtd_resting", "1 while the output rests on purpose (outside the scene's opening "
                                "hours, or after /mrt/stop), else 0", value=1.0 if status.get("resting") else 0.0)
        yield GaugeMetricFamily("mrtd_realtime_factor", "Audio seconds the engine makes per second of compute "
                                "(above 1: faster than real time)", value=float(status["rtf"]))
        yield GaugeMetricFamily("mrtd_lead_seconds", "How far ahead of the listener a frame starts being made",
                                value=float(status.get("ahead_ms") or 0.0) / 1000.0)
        yield GaugeMetricFamily("mrtd_margin_seconds", "The margin kept beyond what making a frame takes (wider than "
                                "configured after an underrun or a near miss)", value=float(status.get("margin_ms") or 0.0) / 1000.0)
        yield GaugeMetricFamily("mrtd_control_latency_seconds", "The longest a command waits before it is heard",
                                value=float(status.get("control_latency_ms") or 0.0) / 1000.0)
        clients = GaugeMetricFamily("mrtd_clients", "Connected clients: OSC subscribers, open web pages", labels=["kind"])
        for kind, count in self._clients().items():
            clients.add_metric([kind], float(count))
        yield clients
        age = status.get("last_error_age_s")
        if age is not None:  # absent until something failed: no sentinel to filter out in a query
            yield GaugeMetricFamily("mrtd_last_error_age_seconds", "Seconds since the last engine fault or lost "
                                    "sound card", value=float(age))
        yield InfoMetricFamily("mrtd_engine", "The engine playing and the style embedder",
                               value={"engine": label(status["engine"]), "embedder": label(status.get("embedder"))})
        yield InfoMetricFamily("mrtd_scene", "The scene playing and its last cue (empty: none)",
                               value={"scene": label(status.get("scene")), "cue": label(status.get("cue"))})


def registry(collector: StatusCollector) -> CollectorRegistry:
    """A registry of its own (the process-wide one would add the Python process's figures and
    anything else that registered there); auto_describe off, so registering reads no status."""
    own = CollectorRegistry(auto_describe=False)
    own.register(collector)
    return own


def render(own: CollectorRegistry) -> bytes:
    """One scrape in the text format (CONTENT_TYPE)."""
    return generate_latest(own)
