"""The one Registry class: maps config names to constructors and names the closest match
when a name is wrong."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from treino.errors import ConfigError

T = TypeVar("T")


def closest(name: str, options: list[str] | tuple[str, ...]) -> str | None:
    """The option most similar to `name`, or None when nothing is close."""
    found = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return found[0] if found else None


def did_you_mean(name: str, options: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' or ''."""
    match = closest(name, options)
    return f" (did you mean '{match}'?)" if match else ""


class Registry(Generic[T]):
    """Name -> constructor. `kind` names what is registered, for error messages.

    Example:
        >>> losses = Registry("loss", key="loss.name")
        >>> @losses.register("mse")
        ... def mse(): ...
    """

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        if name not in self._items:
            names = ", ".join(self.names())
            raise ConfigError(
                f"{self.key}: unknown {self.kind} '{name}'{did_you_mean(name, self.names())}; "
                f"choose one of: {names}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
