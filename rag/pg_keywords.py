"""Keyword search for the PostgreSQL store: full-text search over each chunk's ``tsv``
(Spanish and English configurations of its accent-free text), ranked by ``ts_rank``.

Ranking reads every matching chunk's ``tsvector`` (about 2 KB, stored out of line), so a
query made of common words would cost tens of microseconds per chunk of the library: the
query keeps its rarest words, up to :data:`POSTINGS_BUDGET` matching chunks, as the
embedded store does (:func:`rag.keywords.affordable_terms`)."""

from __future__ import annotations

from rag import keywords

POSTINGS_BUDGET = 2_000
"""Most chunks one keyword query ranks. Measured at 10k chunks (synthetic library of
bench.scale): every word kept 65 ms p50; this budget 51 ms with the same source chunk in
the top 10 for 99% of the queries."""

_COUNTS = (  # per term: its matching chunks in this library, counted up to the budget + 1
    "SELECT t, (SELECT count(*) FROM (SELECT 1 FROM rag_chunks WHERE library_id = %(lib)s "
    "AND tsv @@ (to_tsquery('spanish', t) || to_tsquery('english', t)) LIMIT %(cap)s) m) "
    "FROM unnest(%(terms)s::text[]) t")
_RANK = (
    "WITH q AS (SELECT to_tsquery('spanish', %(e)s) || to_tsquery('english', %(e)s) AS q) "
    "SELECT c.id, ts_rank(c.tsv, q.q) AS r FROM rag_chunks c, q WHERE c.library_id = %(lib)s "
    "AND c.tsv @@ q.q {where} ORDER BY r DESC LIMIT %(k)s")
_IN_DOCUMENTS = ("AND c.document_id IN (SELECT id FROM rag_documents WHERE library_id = "
                 "%(lib)s AND name = ANY(%(docs)s))")


def affordable_terms(conn, library_id: int, terms: list[str]) -> list[str]:
    """The terms found in the library, rarest first, within :data:`POSTINGS_BUDGET`."""
    if not terms:
        return []
    counts = {t: n for t, n in conn.execute(
        _COUNTS, {"lib": library_id, "terms": terms, "cap": POSTINGS_BUDGET + 1}) if n}
    return keywords.rarest_within(counts, POSTINGS_BUDGET)


def keyword_search(conn, library_id: int, query: str, k: int,
                   documents: list[str] | None = None) -> list[tuple[int, float]]:
    """The ``k`` best chunk ids by ``ts_rank`` (higher is better), optionally only in
    ``documents``."""
    if k <= 0 or (documents is not None and not documents):
        return []
    with conn.transaction():
        # The planner does not count reading each row's tsvector: left to itself it scans
        # (and reads) every chunk rather than the matching ones the GIN index gives.
        conn.execute("SET LOCAL enable_seqscan = off")
        terms = affordable_terms(conn, library_id, keywords.query_terms(query))
        if not terms:
            return []
        expression = " | ".join(terms)  # [a-z0-9]+ words: no tsquery syntax can slip in
        sql = _RANK.format(where="" if documents is None else _IN_DOCUMENTS)
        rows = conn.execute(sql, {"e": expression, "lib": library_id,
                                  "docs": list(documents or []), "k": k}).fetchall()
    return [(int(i), float(r)) for i, r in rows]
