"""Testing code that uses effects, without patching: ``with ucode.testing.handle({...}):``.

::

    from ucode import effects, testing

    with testing.handle({"time.now": datetime(2026, 1, 1, tzinfo=timezone.utc),
                         effects.randint: lambda a, b: a}) as h:
        assert pick_winner(["ada", "grace"]) == "ada"
    assert h.calls == [("random.randint", (0, 1), {})]

Keys are effect names or the effect functions themselves. A value is the result; a callable value is
called with the effect's arguments to compute it; an exception instance is raised. An effect the mapping
does not name is an error (:class:`UnhandledEffectError`): a test never performs real I/O by accident.
Pass ``passthrough=True`` to perform unnamed effects for real instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ucode import effects
from ucode.errors import NotAnEffectError, UnhandledEffectError

__all__ = ["TestHandler", "UnhandledEffectError", "handle"]


def _key(k: str | Callable[..., Any]) -> str:
    if isinstance(k, str):
        return k
    spec = getattr(k, "__ucode_effect__", None)
    if spec is None:
        raise NotAnEffectError(k)
    return str(spec.name)


class TestHandler:
    """Answers effects from a mapping and records every call in ``calls`` as (name, args, kwargs)."""

    __test__ = False  # not a pytest test class

    def __init__(self, answers: Mapping[str | Callable[..., Any], Any], *, passthrough: bool = False) -> None:
        self.answers = {_key(k): v for k, v in answers.items()}
        self.passthrough = passthrough
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def handle(self, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any:
        self.calls.append((spec.name, args, kwargs))
        if spec.name not in self.answers:
            # a routing decision (ucode.routing) is not the world: made as in a task, unless answered
            if self.passthrough or spec.name in ("route", "route.shadow"):
                return perform()
            raise UnhandledEffectError(spec.name, sorted(self.answers))
        answer = self.answers[spec.name]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer) and not isinstance(answer, type):
            return answer(*args, **kwargs)
        return answer


@contextmanager
def handle(answers: Mapping[str | Callable[..., Any], Any], *, passthrough: bool = False) -> Iterator[TestHandler]:
    """Handle effects in the block from ``answers`` (see the module doc); yields the handler."""
    h = TestHandler(answers, passthrough=passthrough)
    with effects.using(h):
        yield h
