"""OSC bytes in and out: packets to timed messages, replies to bytes, TCP framing.

Parsing never sleeps on a timetag (python-osc's dispatcher would): a bundle's
time travels with its messages and the generation thread schedules it.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Iterator

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.parsing import osc_types

ROOT = "/mrt"  # the daemon's own addresses; official and dialect aliases live outside it
Message = tuple[str, list[Any]]  # one OSC message: address and arguments, as every part passes it
Answer = Callable[[list[Message]], None]  # replies found later, off the receive path, back to their sender

SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


class PacketError(ValueError):
    """The bytes are not an OSC packet."""


def float32_text(value: float) -> str:
    """An OSC float as the 32-bit number it is: the shortest text that reads back as the same
    float32 (1.3, where Python shows the decoded double as 1.2999999523162842)."""
    try:
        single = struct.unpack(">f", struct.pack(">f", value))[0]
    except OverflowError:  # beyond float32: it was not sent as one
        return repr(value)
    if single != single or single in (float("inf"), float("-inf")):
        return repr(single)  # nan, inf, -inf
    for digits in range(1, 10):  # 9 significant digits always round-trip a float32
        text = format(value, f".{digits}g")
        if struct.unpack(">f", struct.pack(">f", float(text)))[0] == single:
            return text
    return repr(value)


def timed_messages(packet: bytes) -> list[tuple[float | None, str, list[Any]]]:
    """(timetag or None for immediate, address, args) for every message in the packet."""
    try:
        if OscBundle.dgram_is_bundle(packet):
            return list(_walk(OscBundle(packet)))
        if OscMessage.dgram_is_message(packet):
            message = OscMessage(packet)
            return [(None, message.address, list(message.params))]
    except Exception as exc:  # python-osc raises several types on malformed input
        raise PacketError(f"malformed packet: {exc}") from None
    raise PacketError("not an OSC message or bundle")


def _walk(bundle: OscBundle) -> Iterator[tuple[float | None, str, list[Any]]]:
    timetag = None if bundle.timestamp == osc_types.IMMEDIATELY else bundle.timestamp
    for content in bundle:
        if isinstance(content, OscBundle):
            yield from _walk(content)
        else:
            yield timetag, content.address, list(content.params)


def _osc_string(value: str) -> bytes:
    data = value.encode("utf-8") + b"\x00"
    return data + b"\x00" * (-len(data) % 4)


def encode(address: str, args: list[Any]) -> bytes:
    """One OSC message. Packed directly: python-osc's builder re-parses what it builds,
    byte by byte, which made a sync with long prompt texts cost the OSC worker milliseconds."""
    tags = [","]
    body: list[bytes] = []
    for value in args:
        if isinstance(value, bool):
            tags.append("i")
            body.append(struct.pack(">i", int(value)))
        elif isinstance(value, int):
            if -(2**31) <= value < 2**31:
                tags.append("i")
                body.append(struct.pack(">i", value))
            elif -(2**63) <= value < 2**63:
                tags.append("h")
                body.append(struct.pack(">q", value))
            else:  # a ValueError the sender's handler reports, not struct.error from deep in here
                raise ValueError(f"an OSC integer holds 64 bits, not {value:.3g}")
        elif isinstance(value, float):
            tags.append("f")
            body.append(struct.pack(">f", value))
        elif isinstance(value, bytes):
            tags.append("b")
            body.append(struct.pack(">i", len(value)) + value + b"\x00" * (-len(value) % 4))
        else:
            tags.append("s")
            body.append(_osc_string(str(value)))
    return _osc_string(address) + _osc_string("".join(tags)) + b"".join(body)


def slip_encode(packet: bytes) -> bytes:
    body = packet.replace(bytes([SLIP_ESC]), bytes([SLIP_ESC, SLIP_ESC_ESC])).replace(
        bytes([SLIP_END]), bytes([SLIP_ESC, SLIP_ESC_END])
    )
    return bytes([SLIP_END]) + body + bytes([SLIP_END])


def slip_decode(frame: bytes) -> bytes:
    return frame.replace(bytes([SLIP_ESC, SLIP_ESC_END]), bytes([SLIP_END])).replace(
        bytes([SLIP_ESC, SLIP_ESC_ESC]), bytes([SLIP_ESC])
    )


def size_prefix(packet: bytes) -> bytes:
    return struct.pack(">i", len(packet)) + packet
