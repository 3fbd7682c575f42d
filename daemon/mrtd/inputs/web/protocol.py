"""Browser messages: JSON in, the OSC table's handlers, JSON out.

A page sends `{"address": "/mrt/weight", "args": ["pad", 0.5], "id": 7}`. The
message goes through the same route table as an OSC packet: the row's request
class (mrtd.vocabulary.requests) decodes the args, then the same handler runs,
so the page speaks exactly the OSC vocabulary and gets the same errors: there
is no second API. Every reply is `{"address": ..., "args": [...]}`
(with the request's `id`, when it had one); a bad message gets
`{"address": "/mrt/error", "args": [address, reason]}` and changes nothing.

JSON from a browser is untrusted: the text is size-capped before parsing and
the shape is checked before anything runs (a flat list of numbers and short
strings, as OSC carries; nothing nested).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from mrtd.vocabulary.replies import Done, Error
from mrtd.inputs.osc.table import ROUTES, Envelope, Host

log = logging.getLogger(__name__)

MAX_MESSAGE = 16384  # characters; as OSC's packet cap (a 768-float embedding fits)
MAX_ARGS = 800  # an embedding is 768 numbers
MAX_TEXT = 1000  # characters in one string argument
INTERNAL = ("/mrt/subscribe", "/mrt/unsubscribe")  # a page is always subscribed; UDP ports mean nothing here


class BadMessage(ValueError):
    """A message that cannot even be routed; `address` is what it named, if anything."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(reason)
        self.address = address


def error(address: str, reason: str, request_id: Any = None) -> dict[str, Any]:
    return reply(*Error(address, reason).message(), request_id)


def reply(address: str, args: list[Any], request_id: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"address": address, "args": [_jsonable(a) for a in args]}
    if request_id is not None:
        message["id"] = request_id
    return message


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def parse(text: str) -> tuple[str, list[Any], Any]:
    """(address, args, id) from one WebSocket text message, or BadMessage."""
    if len(text) > MAX_MESSAGE:
        raise BadMessage("", f"message of {len(text)} characters is longer than {MAX_MESSAGE}")
    try:
        message = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise BadMessage("", f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(message, dict):
        raise BadMessage("", "a message is a JSON object with an address and args")
    request_id = message.get("id")
    if request_id is not None and not (isinstance(request_id, int) and not isinstance(request_id, bool)):
        request_id = None  # an id is echoed back only when it is a plain integer
    address = message.get("address")
    if not isinstance(address, str) or not address.startswith("/") or len(address) > 200:
        raise BadMessage("", "address must be an OSC address such as /mrt/temperature")
    unknown = set(message) - {"address", "args", "id"}
    if unknown:
        raise BadMessage(address, f"unknown field(s): {', '.join(sorted(unknown))[:80]}")
    args = message.get("args", [])
    if not isinstance(args, list):
        raise BadMessage(address, "args must be a list")
    if len(args) > MAX_ARGS:
        raise BadMessage(address, f"at most {MAX_ARGS} arguments, got {len(args)}")
    for value in args:
        if isinstance(value, bool):
            continue  # JSON true/false: OSC's T/F, which the handlers read as 1/0
        if isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise BadMessage(address, "numbers must be finite")
            continue
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise BadMessage(address, f"a text argument is at most {MAX_TEXT} characters")
            continue
        raise BadMessage(address, "arguments are numbers, text or true/false (nothing nested)")
    return address, [int(a) if isinstance(a, bool) else a for a in args], request_id


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def dispatch(host: Host, text: str, sender: tuple[str, int], account: str | None = None) -> list[dict[str, Any]]:
    """Run one browser message through the OSC table; the replies to send back (errors included).
    `account`: the page's own share of the schedule (each open page is a sender of its own)."""
    try:
        address, args, request_id = parse(text)
    except BadMessage as exc:
        return [error(exc.address, str(exc))]
    if address in INTERNAL:
        return [error(address, "a web page is always subscribed")]
    route = ROUTES.get(address)
    try:
        if route is None:
            # a scene's controller mapping may listen on any address (e.g. /button/1)
            if host.mapped(address, args, None):
                return _done(address, request_id)
            return [error(address, "unknown address", request_id)]
        replies = route.handle(host, args, Envelope(address, None, sender, account=account))  # the row's request class decodes the JSON's args
    except ValueError as exc:
        return [error(address, str(exc), request_id)]
    except Exception:  # a bug in a handler must not stop the server or the music
        log.exception("web handler for %s failed", address)
        return [error(address, "internal error (logged)", request_id)]
    out = [reply(a, list(r), request_id) for a, r in replies or ()]
    return out or _done(address, request_id)


def _done(address: str, request_id: Any) -> list[dict[str, Any]]:
    """An acknowledgement, only for a message that asked for one (it carried an id)."""
    return [] if request_id is None else [reply(*Done(address).message(), request_id)]
