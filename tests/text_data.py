"""Labelled short reviews for the text tests: filler words around two words that carry the label."""

from __future__ import annotations

import numpy as np
import pandas as pd

GOOD = "great wonderful moving funny brilliant charming".split()
BAD = "dull boring awful clumsy tedious bland".split()
FILLER = "the film story actors plot was and a with its this movie".split()


def reviews(n: int = 120, seed: int = 0, lead: int = 5) -> pd.DataFrame:
    """`n` reviews ('pos'/'neg'): `lead` filler words, two telling words, three filler words."""
    rng = np.random.default_rng(seed)
    label = rng.choice(["pos", "neg"], n)
    text = [" ".join([*rng.choice(FILLER, lead), *rng.choice(GOOD if s == "pos" else BAD, 2), *rng.choice(FILLER, 3)])
            for s in label]  # fmt: skip
    return pd.DataFrame({"review": text, "label": label})
