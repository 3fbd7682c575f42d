"""Requests derive their wire form from their declared fields (mrtd.vocabulary.fields).

Each request class declares its fields with the check that decodes each argument; `args()`,
`from_args()` and the signature docs/osc.md shows come from those declarations. These tests
hold the derivation to what a sender sees: whatever a class accepts survives its own wire
form, a wrong number of arguments is refused naming the address's signature, and the
signature shows the declared fields (required first, optional ones in brackets).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any, ClassVar

import pytest

from mrtd.inputs.osc.table import TABLE
from mrtd.vocabulary import requests as q
from mrtd.vocabulary.fields import SPEC, Declared, arg, rest
from mrtd.vocabulary.values import name_text, pitch
from test_requests import SAMPLES

# Classes whose wire form is their own (they write from_args, args and the signature): a mix's
# pairs and trailing fade, learn's leading optional kind, the official prompt's words then weight.
OWN_WIRE_FORM = {q.Mix, q.Learn, q.OfficialPrompt}
# Classes that declare the signature they show: a dialect's is its parser's, not its fields'
# (the fields are the raw values), and a hello shows the 0 it sends to ask.
OWN_SIGNATURE = {q.Hello, q.Event, q.DirtPlay, q.OrcaNote, q.OrcaParam, q.OrcaWeight, q.OrcaCue, q.OrcaTempo}
ROWS = [row for row in TABLE if row.request not in OWN_WIRE_FORM]


def _declared(kind: type) -> list[tuple[str, str, bool, bool]]:
    """(name, shown, optional, takes the rest) of each field of `kind`, as declared."""
    out = []
    for f in dataclasses.fields(kind):
        spec = f.metadata[SPEC]
        _check, shown = spec.resolve(kind)
        out.append((f.name, shown, f.default is not dataclasses.MISSING, spec.tail))
    return out


def _refusal(kind: type[q.Request], args: list[Any]) -> str:
    with pytest.raises(ValueError) as refused:
        kind.from_args(args)
    return str(refused.value)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.path)
def test_the_documented_signature_shows_the_declared_fields(row):
    kind = row.request
    declared = _declared(kind)
    if kind in OWN_SIGNATURE:
        return
    signature = row.args
    at = 0
    for name, shown, optional, tail in declared:
        found = signature.find(shown, at)
        assert found >= 0, f"{row.path}: field {name} ({shown!r}) is not shown, in order, in {signature!r}"
        bracketed = signature[:found].count("[") > signature[:found].count("]")
        assert bracketed == (optional and not tail), (
            f"{row.path}: {name} is {'optional' if optional else 'required'}, shown as {signature!r}")
        at = found + len(shown)
    assert signature[at:].strip("] ") == "", f"{row.path}: {signature!r} shows more than the fields"


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.path)
def test_too_many_or_too_few_arguments_are_refused_naming_the_signature(row):
    kind = row.request
    declared = _declared(kind)
    sample = SAMPLES[kind].args()
    required = sum(1 for _name, _shown, optional, tail in declared if not optional and not tail)
    if any(not optional and tail for _name, _shown, optional, tail in declared):
        required += 1  # a rest() without a default needs one argument at least
    if required:
        fewer = sample[:required - 1]
        assert _refusal(kind, fewer).startswith("wants ") and _refusal(kind, fewer).endswith(
            f" ({row.args}), got {len(fewer)}"), f"{row.path} {fewer}"
    if any(tail for *_rest, tail in declared):
        return  # takes any number after its fields: the packet's size bounds them
    most = len(declared) + kind.ignored
    more = sample + [sample[-1] if sample else 1] * (most + 1 - len(sample))
    assert _refusal(kind, more) == f"wants {_want(required, most)} argument(s){f' ({row.args})' if row.args else ''}, got {len(more)}"


def _want(low: int, high: int) -> str:
    return f"{low}" if low == high else f"{low}-{high}"


def test_a_request_without_arguments_says_only_the_count():
    assert _refusal(q.Status, [1]) == "wants 0 argument(s), got 1"
    assert _refusal(q.Temperature, []) == "wants 1 argument(s) (f 0..3), got 0"
    assert _refusal(q.At, ["bar"]) == "wants at least 2 argument(s) (when address args...), got 1"


# Values every sample sends, and some that no check takes: mixed into argument lists below.
_POOL: list[Any] = sorted({repr(a): a for s in SAMPLES.values() for a in s.args() if not isinstance(a, bytes)}.values(), key=repr) + [
    0, 1, -1, 127, 128, 0.5, 1e9, float("nan"), True, "", "x" * 1001, "bar", "2 bars", "a\u202eb", b"\x00" * 4]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.path)
def test_whatever_a_request_accepts_survives_its_own_wire_form(row):
    """Property: for many argument lists (the sample's, cut short, with values swapped for others),
    each one the class accepts gives a request that `args()` sends back unchanged."""
    kind = row.request
    sample = SAMPLES[kind].args()
    rng = random.Random(row.path)
    accepted = 0
    for _ in range(300):
        args = sample[:rng.randint(0, len(sample))] if rng.random() < 0.5 else list(sample)
        for index in range(len(args)):
            if rng.random() < 0.3:
                args[index] = rng.choice(_POOL)
        try:
            request = kind.from_args(list(args))
        except ValueError:
            continue
        accepted += 1
        assert kind.from_args(request.args()) == request, f"{row.path} {args} -> {request} -> {request.args()}"
    assert accepted >= 10, f"{row.path}: only {accepted} of 300 argument lists were accepted"


# -- the derivation itself, on a class made for it ------------------------------------------------


class _Probe(Declared):
    address: ClassVar[str] = "/probe"
    ignored: ClassVar[int] = 1  # a trailing extra is taken and dropped
    name: str = arg(lambda value: name_text(value, "name"), "name")
    low: int = arg(pitch, "low", default=0)
    high: int | None = arg(pitch, "high", default=None)


class _Tail(Declared):
    head: int = arg(pitch, "head")
    notes: tuple[int, ...] = rest(lambda values: tuple(pitch(v) for v in values), "notes...", default=())


def test_optional_fields_nest_and_none_ends_the_arguments():
    assert _Probe.signature == "name [low [high]]"
    assert _Probe("a").args() == ["a", 0]  # a default that is a value is sent; None is not
    assert _Probe("a", 3, 9).args() == ["a", 3, 9]
    assert _Probe.from_args(["a"]) == _Probe("a", 0, None)
    assert _Probe.from_args(["a", 1, 2, "dropped"]) == _Probe("a", 1, 2)
    assert _refusal(_Probe, ["a", 1, 2, 3, 4]) == "wants 1-4 argument(s) (name [low [high]]), got 5"
    assert _refusal(_Probe, ["a", 200]) == "pitch must be a whole number 0-127, got 200.0"


def test_a_rest_field_takes_every_argument_after_the_others():
    assert _Tail.signature == "head notes..."
    assert _Tail.from_args([1]) == _Tail(1, ())
    assert _Tail.from_args([1, 2, 3]) == _Tail(1, (2, 3))
    assert _Tail(1, (2, 3)).args() == [1, 2, 3]
    assert _refusal(_Tail, [1, 2, 300]) == "pitch must be a whole number 0-127, got 300.0"


def test_a_class_that_cannot_be_derived_is_refused_when_it_is_made():
    with pytest.raises(TypeError, match="a rest.. field is the last field"):
        class _Late(Declared):
            notes: tuple[int, ...] = rest(tuple, "notes...", default=())
            after: int = arg(pitch, "after", default=0)
    with pytest.raises(TypeError, match="needs its own from_args, args, signature"):
        class _Plain(Declared):
            value: int
