"""The real PortAudio path, on a JACK dummy server paced by a real clock."""


from conftest import wait_for
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.frame import SAMPLE_RATE


def test_ten_seconds_through_portaudio_on_jack_without_underruns(jack_server):
    daemon = Daemon(DaemonConfig(engine="synth", output="default", prompt="warm analog pads"))
    daemon.start()
    try:
        assert daemon.output.describe().startswith("device:"), daemon.output.describe()
        wait_for(lambda: daemon.playout.samples_out >= 10 * SAMPLE_RATE, 30, "10 s of audio on the device clock")
        status = daemon.status()
    finally:
        daemon.stop()
    split = f"playout {daemon.playout.underruns}, device {daemon.output.device_underruns if daemon.output else '?'}"
    assert status["underruns"] == 0, f"{split}: {status}"
    assert status["frames"] >= 10 * 25


def test_a_missing_device_falls_back_to_the_null_sink(jack_server, caplog):
    daemon = Daemon(DaemonConfig(engine="synth", output="device:no such card"))
    daemon.start()
    try:
        assert daemon.output.describe() == "null"
        wait_for(lambda: daemon.playout.samples_out > SAMPLE_RATE // 10, 10, "the null sink to play")
    finally:
        daemon.stop()
    assert any("no such card" in r.getMessage() and "null sink" in r.getMessage() for r in caplog.records)
