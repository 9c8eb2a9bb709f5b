"""Numbers the diagnosis reads off a loss curve, on a log scale so that they mean the same at
any loss level: the recent trend (fitted slope of log(loss) per epoch), the curve's own noise,
and the rise after its best epoch."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TINY = 1e-12  # losses are floored here before the log (a perfect fit has loss 0)


def logs(values: np.ndarray) -> np.ndarray:
    """log(loss), with losses of 0 floored at TINY."""
    return np.log(np.maximum(np.asarray(values, dtype=float), TINY))


def noise(y: np.ndarray) -> float:
    """The epoch-to-epoch jitter of a log curve y: a robust std of its second differences over
    the second half (a straight or gently curved trend has none), scaled to one point's noise."""
    tail = y[-max(4, len(y) // 2) :]
    if len(tail) < 4:
        return 0.0
    d2 = tail[2:] - 2 * tail[1:-1] + tail[:-2]
    mad = float(np.median(np.abs(d2 - np.median(d2))))
    return 1.4826 * mad / math.sqrt(6)  # var(second difference) = 6 var(point) for white noise


@dataclass
class Trend:
    """The end of a curve: over its last `k` epochs, log(loss) changed by `slope` per epoch."""

    k: int
    slope: float  # fitted d log(loss) / d epoch over the last k epochs (negative: falling)
    noise: float  # one epoch's jitter of log(loss)
    best: int  # index of the lowest loss
    first: float  # the loss at the start of the window (fitted)
    last: float  # the loss at the end of the window (fitted)

    @property
    def fall(self) -> float:
        """How much log(loss) fell over the window (the fitted line; negative when it rose)."""
        return -self.slope * (self.k - 1)

    @property
    def percent_per_epoch(self) -> float:
        """The loss's relative change per epoch, in percent (negative: falling)."""
        return 100 * math.expm1(self.slope)


def trend(values: np.ndarray, k: int) -> Trend:
    """A straight line through log(loss) over the last k (>= 2) epochs of `values`."""
    y = logs(values)
    window = y[-k:]
    x = np.arange(len(window), dtype=float)
    slope, intercept = np.polyfit(x, window, 1) if len(window) >= 2 else (0.0, float(window[-1]))
    return Trend(
        k=len(window),
        slope=float(slope),
        noise=noise(y),
        best=int(np.argmin(y)),
        first=float(math.exp(intercept)),
        last=float(math.exp(intercept + slope * (len(window) - 1))),
    )


def window(n: int) -> int:
    """The end of a curve of n epochs: its last fifth, at least 3 epochs (all of a shorter run)."""
    return min(n, max(3, math.ceil(n / 5)))
