"""Ctrl-C and SIGTERM during `treino train`: abort at once before training, stop at the next
step boundary during it (the run folder is then written as usual), abort on a second one."""

from __future__ import annotations

import signal
import threading
from typing import Any

from treino.engine.callbacks import Callback

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A signal that ends the command at once (before training, or a second Ctrl-C).

    A KeyboardInterrupt, not a TreinoError, so that no `except Exception` on the way up can
    swallow it; the CLI prints its message and exits 128 + the signal number.
    """

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message)
        self.signum = signum
        self.message = message or f"interrupted by {signal.Signals(signum).name}"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class SignalGuard:
    """SIGINT/SIGTERM handling for the whole of `treino train`.

    Before training a signal aborts at once (nothing is worth saving yet). During training it
    only sets `state.should_stop`: the loop stops at the next step boundary and the run folder
    is written as usual. After training it is remembered while the files are finished. A
    second signal always aborts at once.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self.state: Any = None  # the TrainState while fit() runs
        self.started = False  # fit() has begun: from now on a first signal stops gracefully
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():  # signal() works there only
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            raise Interrupted(signum, f"interrupted by a second {signal.Signals(signum).name}")
        if not self.started:
            raise Interrupted(signum, f"interrupted by {signal.Signals(signum).name} before training started")
        self.received = signum
        if self.state is not None:
            self.state.should_stop = True

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    def callback(self) -> Callback:
        """The callback that connects this guard to one fit()'s TrainState."""
        return _StopOnSignal(self)


class _StopOnSignal(Callback):
    """Connects a SignalGuard to the TrainState of one fit()."""

    def __init__(self, guard: SignalGuard) -> None:
        self.guard = guard

    def on_fit_start(self, state: Any) -> None:
        self.guard.state, self.guard.started = state, True
        if self.guard.received is not None:
            state.should_stop = True

    def on_fit_end(self, state: Any) -> None:
        self.guard.state = None

    def on_exception(self, state: Any, error: BaseException) -> None:
        self.guard.state = None
