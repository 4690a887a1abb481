"""Hybrid retrieval: dense (cosine) and keyword (BM25) rankings fused by reciprocal rank
fusion, with near-duplicate passages collapsed. Works on any :class:`~rag.store.VectorStore`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rag.embedding import Embedder
from rag.invisible import strip_invisible
from rag.keywords import normalize
from rag.schema import Source
from rag.store import VectorStore

RRF_K = 60  # the constant of Cormack et al.; dampens the weight of the very top ranks
NEAR_DUPLICATE_COSINE = 0.97
# An English-only embedder ranks Spanish text poorly: its vote counts half. Measured on
# XQuAD with all-MiniLM-L6-v2 (recall@1, es->es): 0.60 at equal weights, 0.68 at half.
ENGLISH_ONLY_DENSE_WEIGHT = 0.5
MIN_QUOTE_CHARS = 24  # a query this long found verbatim in a passage ranks that passage first
# Keyword searches run here while the calling thread embeds the query and searches the
# vectors: both halves release the GIL (SQLite, the embedder, FAISS).
_KEYWORD_SEARCHES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="keyword-search")


def reciprocal_rank_fusion(rankings: list[list[int]], weights: list[float] | None = None,
                           k: int = RRF_K) -> list[int]:
    """Items of several rankings ordered by their weighted sum of ``1 / (k + rank)``."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    return sorted(scores, key=lambda item: -scores[item])


def quoted_first(query: str, candidates: list[int],
                 rows: dict[int, tuple[str, int | None, str, str]]) -> list[int]:
    """``candidates`` with the passages that contain the query word for word (a quoted
    sentence, ignoring case, accents and spacing) moved to the front, in order."""
    phrase = " ".join(normalize(query).split()).strip(" .?!¿¡\"'«»")
    if len(phrase) < MIN_QUOTE_CHARS:
        return candidates
    quoted = [c for c in candidates
              if c in rows and phrase in " ".join(normalize(rows[c][3]).split())]
    return quoted + [c for c in candidates if c not in quoted] if quoted else candidates


def hybrid_search(library: VectorStore, embedder: Embedder, query: str, k: int = 4,
                  documents: list[str] | None = None) -> list[Source]:
    """The ``k`` best passages for ``query``, optionally only from ``documents``. Invisible
    characters in the query (a zero-width space pasted inside a word) are dropped, as they
    are from the passages."""
    query = strip_invisible(query)
    if not query.strip() or k <= 0:
        return []
    documents = documents or None
    depth = max(30, 5 * k)
    keyword_search = _KEYWORD_SEARCHES.submit(library.keyword_search, query, depth, documents)
    query_vector = embedder.embed_query(query)
    dense = library.dense_search(query_vector, depth, documents)
    keyword = keyword_search.result()
    dense_weight = 1.0 if embedder.multilingual else ENGLISH_ONLY_DENSE_WEIGHT
    fused = reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in keyword]],
                                   [dense_weight, 1.0])
    if not fused:
        return []
    candidates = fused[: max(3 * k, 12)]
    rows = library.chunk_rows(candidates)
    candidates = quoted_first(query, candidates, rows)
    vectors = library.vectors(candidates)
    cosines = vectors @ query_vector
    chosen: list[int] = []
    seen_texts: set[str] = set()
    for position, chunk_id in enumerate(candidates):
        if chunk_id not in rows:  # deleted meanwhile
            continue
        text_key = " ".join(normalize(rows[chunk_id][3]).split())
        if text_key in seen_texts:
            continue
        if chosen and float(np.max(vectors[chosen] @ vectors[position])) >= NEAR_DUPLICATE_COSINE:
            continue
        seen_texts.add(text_key)
        chosen.append(position)
        if len(chosen) == k:
            break
    sources = []
    for rank, position in enumerate(chosen, start=1):
        chunk_id = candidates[position]
        name, page, heading, text = rows[chunk_id]
        sources.append(Source(file_name=name, page=page, heading=heading, text=text,
                              score=round(float(cosines[position]), 4), rank=rank,
                              chunk_id=chunk_id))
    return sources
