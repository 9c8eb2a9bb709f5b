"""Text: TF-IDF features (scikit-learn's TfidfVectorizer) or padded token ids, fitted on the
train split. The fitted state (vocabulary, idf) is plain JSON, never a pickle."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from treino.errors import DataError

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default: words of two or more characters
PAD, UNKNOWN = 0, 1  # token ids reserved in tokens mode; words start at 2


def _texts(values: pd.Series) -> list[str]:
    """Strings for the vectorizer: an empty cell is an empty text."""
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


class TextEncoder:
    """One text column -> TF-IDF rows (N, F) float32, or token ids (N, L) int64 padded with 0.

    Example:
        >>> enc = TextEncoder.fit(pd.Series(["a good film", "a bad film"]), "tfidf", min_df=1)
        >>> enc.transform(pd.Series(["good film"])).shape
        (1, 5)
    """

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    @classmethod
    def fit(
        cls,
        values: pd.Series,
        mode: str = "tfidf",
        max_features: int = 5000,
        ngrams: tuple[int, int] = (1, 2),
        min_df: int = 2,
        max_length: int = 200,
        where: str = "data",
    ) -> TextEncoder:
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

        texts = _texts(values)
        name = values.name
        if not any(t.strip() for t in texts):
            raise DataError(
                f"{where}: text column '{name}' is empty in every row of the train split; "
                f"fill it or leave it out with data.drop"
            )
        min_df = min(min_df, len(texts))
        if mode == "tfidf":
            vec = TfidfVectorizer(ngram_range=tuple(ngrams), max_features=max_features, min_df=min_df,
                                  token_pattern=TOKEN_PATTERN, dtype=np.float32)  # fmt: skip
            _fit(vec, texts, name, min_df, where)
            vocab = [""] * len(vec.vocabulary_)
            for term, i in vec.vocabulary_.items():
                vocab[i] = term
            idf = [round(float(v), 6) for v in vec.idf_]
            return cls({"mode": "tfidf", "vocabulary": vocab, "idf": idf, "ngrams": list(ngrams),
                        "token_pattern": TOKEN_PATTERN, "lowercase": True})  # fmt: skip
        counter = CountVectorizer(max_features=max_features, min_df=min_df, token_pattern=TOKEN_PATTERN,
                                  binary=True)  # fmt: skip
        counts = _fit(counter, texts, name, min_df, where)
        df = np.asarray(counts.sum(axis=0)).reshape(-1)
        terms = sorted(counter.vocabulary_, key=lambda t: (-df[counter.vocabulary_[t]], t))
        return cls({"mode": "tokens", "vocabulary": terms, "max_length": max_length,
                    "token_pattern": TOKEN_PATTERN, "lowercase": True})  # fmt: skip

    @property
    def mode(self) -> str:
        return self.state["mode"]

    @property
    def width(self) -> int:
        """Features per row (tfidf) or ids per row (tokens)."""
        return len(self.state["vocabulary"]) if self.mode == "tfidf" else self.state["max_length"]

    @property
    def vocab_size(self) -> int:
        """Token ids run over 0..vocab_size-1 (0 = padding, 1 = unknown word)."""
        return len(self.state["vocabulary"]) + 2

    def transform(self, values: pd.Series, sparse: bool = False) -> Any:
        """TF-IDF (N, F) float32 or token ids (N, L) int64 for raw texts; with `sparse`, TF-IDF
        as a scipy CSR matrix (memory in proportion to the non-zeros)."""
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

        s = self.state
        texts = _texts(values)
        if self.mode == "tfidf":
            vocab = {term: i for i, term in enumerate(s["vocabulary"])}
            vec = TfidfVectorizer(ngram_range=tuple(s["ngrams"]), vocabulary=vocab, lowercase=s["lowercase"],
                                  token_pattern=s["token_pattern"], dtype=np.float32)  # fmt: skip
            vec.idf_ = np.asarray(s["idf"], dtype=np.float64)
            matrix = vec.transform(texts)  # CSR float32
            return matrix if sparse else matrix.toarray()
        analyze = CountVectorizer(lowercase=s["lowercase"], token_pattern=s["token_pattern"]).build_analyzer()
        index = {term: i + 2 for i, term in enumerate(s["vocabulary"])}
        out = np.full((len(texts), s["max_length"]), PAD, dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [index.get(w, UNKNOWN) for w in analyze(text)[: s["max_length"]]]
            out[row, : len(ids)] = ids
        return out

    def feature_names(self, column: str) -> list[str]:
        if self.mode == "tfidf":
            return [f"{column}~{term}" for term in self.state["vocabulary"]]
        return [f"{column}[{i}]" for i in range(self.state["max_length"])]


def _fit(vec: Any, texts: list[str], name: Any, min_df: int, where: str) -> Any:
    """fit_transform, with scikit-learn's vocabulary errors said in the user's terms."""
    try:
        return vec.fit_transform(texts)
    except ValueError as exc:
        if "empty vocabulary" in str(exc):
            raise DataError(
                f"{where}: text column '{name}' has no words in the train split; "
                f"fill it or leave it out with data.drop"
            ) from None
        raise DataError(
            f"{where}: text column '{name}': no word is in {min_df} or more training rows; "
            f"lower data.text.min_df"
        ) from None


SPARSE_MIN_WIDTH = 1000  # features; narrower rows are cheap to hold and to gather dense
# Above this share of non-zeros a dense batch is cheaper to gather than to densify (measured
# per epoch, 8000 rows, batch 64: 0.4-0.8x dense time up to 3%, 1.0-1.15x at 10%); at 5% the
# CSR matrix (8 bytes per non-zero) holds a tenth of the dense one (4 bytes per value).
SPARSE_MAX_DENSITY = 0.05


def keep_sparse(matrix: Any, setting: str | bool, notes: list[str]) -> bool:
    """Whether the train split's features (a scipy CSR matrix) stay sparse: data.text.sparse,
    or by size and density when it is auto. Says so in `notes` when they do."""
    rows, width = matrix.shape
    density = matrix.nnz / max(1, rows * width)
    keep = setting is True or (
        setting == "auto" and width >= SPARSE_MIN_WIDTH and density <= SPARSE_MAX_DENSITY
    )
    if keep:
        sparse_mb, dense_mb = matrix.nnz * 8 / 1e6, rows * width * 4 / 1e6
        notes.append(
            f"TF-IDF features held sparse: {density:.2%} non-zero, {sparse_mb:.1f} MB instead of "
            f"{dense_mb:.0f} MB for the train split (data.text.sparse)"
        )
    return keep
