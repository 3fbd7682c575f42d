"""The one way an input's command reaches the control state (the parameters-and-notes domain,
and the door every other domain's commands pass).

A command is admitted to its sender's share of the schedule (a command that only makes the
sound safer always is), checked by the prompts (names, slots, axes, surface it meets), queued,
and a parameter a safety limit clamped is said back. A command that names what a scene brings
(`Command.scene_address`) waits behind a scene load in progress, so it meets that scene; its
refusal then goes to `answer` as an error at that address.
"""

from __future__ import annotations

from typing import Callable, Protocol

from mrtd.control import commands as c
from mrtd.control.state import Controls
from mrtd.core.prompts import PromptController
from mrtd.vocabulary import replies as r
from mrtd.vocabulary.codec import Answer, Message


class LoadQueue(Protocol):
    """What the gate asks of the scenes (`SceneHost`): run a submit after the loads ahead of it."""

    def after_loads(self, submit: Callable[[], None], address: str, answer: Answer | None = None) -> None: ...


class CommandGate:
    def __init__(self, controls: Controls, prompts: PromptController, scenes: LoadQueue) -> None:
        self._controls = controls
        self._prompts = prompts
        self._scenes = scenes

    def submit(self, command: c.Command, due: float | None, answer: Answer | None = None,
               account: str | None = None) -> list[Message] | None:
        """Check `command` against the state the sender sees, queue it, and say if a limit clamped it.

        `account`: the sender, whose share of the schedule it takes (None: the daemon's own)."""
        control = self._controls
        quantized = isinstance(command, c.Quantized)
        inner = command.inner if isinstance(command, c.Quantized) else command
        control.admit(due, account, safer=not quantized and command.safer(control.values),
                      grid=(command.unit, command.count) if isinstance(command, c.Quantized) else None)
        address = inner.scene_address
        if address is not None:  # checked and queued now, or after the loads ahead of it
            self._scenes.after_loads(lambda: control.submit(self._prompts.checked(command), due, account), address, answer)
            return None
        command = self._prompts.checked(command)
        control.submit(command, due, account)
        return self._clamped(command)

    def define_prompt(self, name: str, text: str, weight: float | None, due: float | None) -> None:
        """Register the prompt now (still encoding); it joins the mix when the encoder is done."""
        self._prompts.check_room(name)
        self.submit(c.DefinePrompt(name, text, None, weight), due)
        self._prompts.defining(name, text)

    def _clamped(self, command: c.Command) -> list[Message] | None:
        if not isinstance(command, c.SetParam):
            return None
        applied = self._controls.clamp(command.name, command.value)
        if applied == command.value:
            return None
        return [r.Clamped(command.name, applied, "safety limit").message()]
