"""Okapi BM25 keyword search over chunks, accent- and case-insensitive.

Postings are kept per term as numpy arrays and rebuilt lazily after changes, so a query
costs a few vector additions however large the library is.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")

# Function words that carry no topic (Spanish and English); accents already stripped.
STOPWORDS = frozenset(
    """a al algo como con cual cuales cuando de del desde donde el ella ellos en entre era es
    esa ese esta este esto fue ha han hay la las le les lo los mas me mi muy no nos o para
    pero por que quien se segun ser si sin sobre su sus tambien te tiene un una uno unos
    unas y ya son fueron cuanto cuantos cuantas
    an and are as at be by did do does for from had has have how in is it its of on or that
    the their there these this to was were what when where which who whom why will with""".split()
)


def normalize(text: str) -> str:
    """Lowercase and strip accents: "Información" -> "informacion"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokenize(text: str) -> list[str]:
    return [w for w in _WORD.findall(normalize(text)) if w not in STOPWORDS]


class BM25Index:
    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._docs: dict[int, Counter[str]] = {}
        self._lengths: dict[int, int] = {}
        self._dirty = True
        self._ids = np.zeros(0, dtype=np.int64)
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, ids: list[int], texts: list[str]) -> None:
        for chunk_id, text in zip(ids, texts, strict=True):
            tokens = tokenize(text)
            self._docs[chunk_id] = Counter(tokens)
            self._lengths[chunk_id] = len(tokens)
        self._dirty = True

    def remove(self, ids: list[int]) -> None:
        for chunk_id in ids:
            self._docs.pop(chunk_id, None)
            self._lengths.pop(chunk_id, None)
        self._dirty = True

    def _rebuild(self) -> None:
        self._ids = np.fromiter(self._docs, dtype=np.int64, count=len(self._docs))
        lengths = np.array([self._lengths[i] for i in self._ids], dtype=np.float32)
        avg = float(lengths.mean()) if len(lengths) else 1.0
        norm = self.k1 * (1 - self.b + self.b * lengths / max(avg, 1e-9))
        rows: dict[str, list[int]] = {}
        tfs: dict[str, list[int]] = {}
        for row, chunk_id in enumerate(self._ids):
            for term, tf in self._docs[int(chunk_id)].items():
                rows.setdefault(term, []).append(row)
                tfs.setdefault(term, []).append(tf)
        n = len(self._ids)
        self._postings = {}
        for term, term_rows in rows.items():
            r = np.asarray(term_rows, dtype=np.int64)
            tf = np.asarray(tfs[term], dtype=np.float32)
            idf = math.log(1 + (n - len(r) + 0.5) / (len(r) + 0.5))
            weights = idf * tf * (self.k1 + 1) / (tf + norm[r])
            self._postings[term] = (r, weights.astype(np.float32))
        self._dirty = False

    def search(self, query: str, k: int,
               allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` best chunk ids with their scores, best first."""
        if self._dirty:
            self._rebuild()
        terms = set(tokenize(query))
        if not terms or not len(self._ids):
            return []
        scores = np.zeros(len(self._ids), dtype=np.float32)
        for term in terms:
            posting = self._postings.get(term)
            if posting is not None:
                scores[posting[0]] += posting[1]
        if allowed is not None:
            scores[~np.isin(self._ids, np.fromiter(allowed, dtype=np.int64))] = 0.0
        hits = np.flatnonzero(scores > 0)
        if not len(hits):
            return []
        top = hits[np.argsort(-scores[hits], kind="stable")[:k]]
        return [(int(self._ids[i]), float(scores[i])) for i in top]
