"""JACK specifics: the client name PortAudio registers, and patching our ports to chosen ones.

PortAudio's JACK host API names its client after `PaJack_SetClientName`,
which sounddevice does not declare, so it is called through ctypes on the
same libportaudio that sounddevice loads. It must run before PortAudio
initialises (sounddevice initialises when imported); the name pointer must
stay alive, as PortAudio keeps it rather than copying it.

PortAudio already connects its output ports to the physical playback ports
(`system:playback_N`) when a stream starts. Connecting to other ports goes
through libjack (ctypes): a short-lived helper client disconnects our ports
and connects each routed channel to the configured port. A listening input
(audio/capture.py) has its ports renamed `listen_L/R` and, where asked,
PortAudio's connections to the system's capture replaced. All of this is
optional: without JACK or libjack, it logs why and leaves the defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

CLIENT_NAME = "mrtd"
_client_name = ctypes.create_string_buffer(CLIENT_NAME.encode())  # PortAudio keeps this pointer
_portaudio: ctypes.CDLL | None = None

JACK_NO_START_SERVER = 0x01


def _load_portaudio(libname: str | None = None) -> ctypes.CDLL | None:
    global _portaudio
    if _portaudio is None:
        name = libname or ctypes.util.find_library("portaudio")
        if not name:
            return None
        try:
            _portaudio = ctypes.CDLL(name)
        except OSError:
            return None
    return _portaudio


def set_client_name(libname: str | None = None) -> bool:
    """Ask PortAudio's JACK host API to register as `mrtd`; False when this PortAudio has no JACK."""
    library = _load_portaudio(libname)
    setter = getattr(library, "PaJack_SetClientName", None) if library is not None else None
    if setter is None:
        return False
    setter.argtypes = [ctypes.c_char_p]
    setter.restype = ctypes.c_int
    return setter(_client_name) == 0


def client_name() -> str | None:
    """The name JACK actually gave PortAudio's client (`mrtd`, or `mrtd-01` if taken)."""
    library = _load_portaudio()
    getter = getattr(library, "PaJack_GetClientName", None) if library is not None else None
    if getter is None:
        return None
    name = ctypes.c_char_p()
    getter.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    getter.restype = ctypes.c_int
    if getter(ctypes.byref(name)) != 0 or not name.value:
        return None
    return name.value.decode()


def _libjack() -> ctypes.CDLL:
    name = ctypes.util.find_library("jack") or "libjack.so.0"
    jack = ctypes.CDLL(name)
    jack.jack_client_open.restype = ctypes.c_void_p
    jack.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    jack.jack_client_close.argtypes = [ctypes.c_void_p]
    jack.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    jack.jack_disconnect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    jack.jack_port_by_name.restype = ctypes.c_void_p
    jack.jack_port_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    jack.jack_port_get_all_connections.restype = ctypes.POINTER(ctypes.c_char_p)
    jack.jack_port_get_all_connections.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    jack.jack_free.argtypes = [ctypes.c_void_p]
    return jack


class TransportReader:
    """A JACK client that only reads the server's transport: no ports, never activated.

    Raises OSError with a one-line reason when libjack or the server cannot be reached."""

    def __init__(self, name: str = f"{CLIENT_NAME}-transport") -> None:
        jack = _libjack()
        jack.jack_transport_query.restype = ctypes.c_int
        jack.jack_transport_query.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        jack.jack_get_current_transport_frame.restype = ctypes.c_uint32
        jack.jack_get_current_transport_frame.argtypes = [ctypes.c_void_p]
        jack.jack_get_sample_rate.restype = ctypes.c_uint32
        jack.jack_get_sample_rate.argtypes = [ctypes.c_void_p]
        status = ctypes.c_int(0)
        client = jack.jack_client_open(name.encode(), JACK_NO_START_SERVER, ctypes.byref(status))
        if not client:
            raise OSError(f"cannot reach the JACK server (status 0x{status.value:x})")
        self.library, self.client = jack, client
        self.sample_rate = int(jack.jack_get_sample_rate(client)) or 48000

    def frame(self) -> int:
        """Where the transport is now, in frames from its start."""
        return int(self.library.jack_get_current_transport_frame(self.client))

    def rolling(self) -> bool:
        return self.library.jack_transport_query(self.client, None) in (JACK_TRANSPORT_ROLLING, JACK_TRANSPORT_STARTING)

    def close(self) -> None:
        if self.client:
            self.library.jack_client_close(self.client)
            self.client = None


JACK_TRANSPORT_ROLLING, JACK_TRANSPORT_STARTING = 1, 3  # jack_transport_state_t


def connect_ports(connections: list[tuple[str, str]]) -> None:
    """Make exactly these (our port, destination) connections for each of our ports listed.

    Raises OSError with a one-line reason when libjack or the server cannot be reached,
    or a port does not exist.
    """
    _patch([source for source, _ in connections], connections, ours_are_sources=True)


def _patch(ours: list[str], connections: list[tuple[str, str]], ours_are_sources: bool) -> None:
    """Drop every connection of our ports `ours` (PortAudio's defaults), then make `connections`
    (source, destination). `ours_are_sources`: our ports are outputs (else inputs), which says
    which end of each dropped connection is ours."""
    jack = _libjack()
    client = _open_patch_client(jack)
    try:
        for name in ours:
            port = jack.jack_port_by_name(client, name.encode())
            if not port:
                raise OSError(f"no JACK port {name}")
            current = jack.jack_port_get_all_connections(client, port)
            if current:
                index = 0
                while current[index]:
                    if ours_are_sources:
                        jack.jack_disconnect(client, name.encode(), current[index])
                    else:
                        jack.jack_disconnect(client, current[index], name.encode())
                    index += 1
                jack.jack_free(current)
        for source, destination in connections:
            result = jack.jack_connect(client, source.encode(), destination.encode())
            if result not in (0, 17):  # 17 = EEXIST: already connected
                raise OSError(f"cannot connect {source} to {destination} (error {result})")
    finally:
        jack.jack_client_close(client)


_quieted: set[str] = set()


def quiet_libjack(library: str | None = None) -> bool:
    """Stop a libjack printing to stderr ("Cannot connect to server socket ...", on every start
    without a server, from PortAudio's and rtmidi's probes); False where it cannot be found.

    `library`: a libjack of its own (python-rtmidi's wheel bundles one); default the system's.
    Our own log already says, in one line, whether JACK is there. libjack may call these
    handlers on its process thread (the audio callback's), so they must not take the GIL:
    a Python callback would. libc's `strlen` takes one `const char *` and touches only the
    string, so it serves as a C no-op sink (its return value is ignored).
    """
    name = library or ctypes.util.find_library("jack")
    if not name:
        return False
    if name in _quieted:
        return True
    try:
        jack = ctypes.CDLL(name)
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    sink = ctypes.cast(libc.strlen, ctypes.c_void_p)
    for setter in ("jack_set_error_function", "jack_set_info_function"):
        function = getattr(jack, setter, None)
        if function is None:
            return False
        function.argtypes = [ctypes.c_void_p]
        function.restype = None
        function(sink)
    _quieted.add(name)
    return True


def _open_patch_client(jack: ctypes.CDLL) -> int:
    status = ctypes.c_int(0)
    client = jack.jack_client_open(f"{CLIENT_NAME}-patch".encode(), JACK_NO_START_SERVER, ctypes.byref(status))
    if not client:
        raise OSError(f"cannot reach the JACK server (status 0x{status.value:x})")
    return client


def name_ports(ports: list[str], short_names: list[str]) -> list[str]:
    """Rename our `ports` (full names) to `short_names` within the same client; the new full names.

    PortAudio names its input ports `in_N`; a listening input is easier to find, and to
    connect from another JACK program, as `mrtd:listen_L`. OSError when it cannot be done."""
    jack = _libjack()
    rename = getattr(jack, "jack_port_rename", None)
    if rename is None:
        raise OSError("this libjack cannot rename ports (jack_port_rename needs JACK 1.9.11 or 0.125)")
    rename.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p]
    rename.restype = ctypes.c_int
    client = _open_patch_client(jack)
    named: list[str] = []
    try:
        for port_name, short in zip(ports, short_names):
            port = jack.jack_port_by_name(client, port_name.encode())
            if not port:
                raise OSError(f"no JACK port {port_name}")
            if rename(client, port, short.encode()) != 0:
                raise OSError(f"cannot rename {port_name} to {short}")
            named.append(f"{port_name.split(':', 1)[0]}:{short}")
    finally:
        jack.jack_client_close(client)
    return named


def connect_inputs(ours: list[str], sources: list[str]) -> None:
    """Make our input ports listen to exactly `sources`, in order (none: leave them unconnected,
    for any JACK program to connect to). OSError with a one-line reason when it cannot."""
    _patch(ours, list(zip(sources, ours)), ours_are_sources=False)  # PortAudio's system capture dropped first
