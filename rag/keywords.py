"""Keyword search for the embedded store: SQLite FTS5 with BM25 ranking, accent- and
case-insensitive (``unicode61 remove_diacritics 2``).

The full-text index is an external-content FTS5 table over ``chunks``, kept in step by
triggers: it changes in the same transaction as the chunks (all-or-nothing, even under
``kill -9``), and nothing is loaded into memory to search it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable

_WORD = re.compile(r"[a-z0-9]+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
MAX_QUERY_TERMS = 32
POSTINGS_BUDGET = 5_000
"""Most chunks one keyword query may score. BM25 looks up every matching chunk's length,
so a query made of common words would cost ~1.7 ms per thousand chunks it matches (1M
chunks, 2 cores): past this budget the commonest words (the lowest weights: a word in 5,000
of a million chunks weighs half a rare one) are left out, rarest first kept. Libraries
under 5,000 chunks never reach it."""
FREQUENCY_CACHE_TERMS = 50_000

# Function words that carry no topic (Spanish and English); accents already stripped.
STOPWORDS = frozenset(
    """a al algo como con cual cuales cuando de del desde donde el ella ellos en entre era es
    esa ese esta este esto fue ha han hay la las le les lo los mas me mi muy no nos o para
    pero por que quien se segun ser si sin sobre su sus tambien te tiene un una uno unos
    unas y ya son fueron cuanto cuantos cuantas
    an and are as at be by did do does for from had has have how in is it its of on or that
    the their there these this to was were what when where which who whom why will with""".split()
)

FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    heading, text, content='chunks', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, heading, text) VALUES (new.id, new.heading, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, heading, text)
        VALUES ('delete', old.id, old.heading, old.text);
END;
"""


def normalize(text: str) -> str:
    """Lowercase and strip accents: "Información" -> "informacion"."""
    if text.isascii():
        return text.lower()
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.lower()))


def tokenize(text: str) -> list[str]:
    return [w for w in _WORD.findall(normalize(text)) if w not in STOPWORDS]


def query_terms(query: str) -> list[str]:
    return list(dict.fromkeys(tokenize(query)))[:MAX_QUERY_TERMS]


def document_frequencies(db: sqlite3.Connection, terms: list[str]) -> dict[str, int]:
    """How many chunks hold each term (0: none). Counting reads each term's whole list of
    chunks: ~5 ms a query at 1M chunks, hence :class:`FrequencyCache`."""
    if not terms:
        return {}
    marks = ",".join("?" * len(terms))
    found = dict(db.execute(
        f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", terms))  # noqa: S608
    return {t: int(found.get(t, 0)) for t in terms}


class FrequencyCache:
    """Document frequencies remembered while the library is unchanged: ``version_of(db)``
    (its change-log sequence) moves with every added or deleted chunk, in any process, and
    empties the cache. Shared by the library's searching threads."""

    def __init__(self, version_of: Callable[[sqlite3.Connection], object],
                 max_terms: int = FREQUENCY_CACHE_TERMS) -> None:
        self._version_of = version_of
        self._counts: dict[str, int] = {}
        self._version: object = None
        self._max_terms = max_terms
        self._lock = threading.Lock()

    def lookup(self, db: sqlite3.Connection, terms: list[str]) -> dict[str, int]:
        version = self._version_of(db)
        with self._lock:
            if version != self._version or len(self._counts) > self._max_terms:
                self._counts, self._version = {}, version
            known = {t: self._counts[t] for t in terms if t in self._counts}
        missing = [t for t in terms if t not in known]
        fetched = document_frequencies(db, missing)
        with self._lock:
            if version == self._version:
                self._counts.update(fetched)
        return {**known, **fetched}


def affordable_terms(db: sqlite3.Connection, terms: list[str],
                     cache: FrequencyCache | None = None) -> list[str]:
    """The terms present in the library, rarest first, within :data:`POSTINGS_BUDGET`."""
    counts = cache.lookup(db, terms) if cache is not None else document_frequencies(db, terms)
    return rarest_within({t: n for t, n in counts.items() if n}, POSTINGS_BUDGET)


def rarest_within(frequency: dict[str, int], budget: int) -> list[str]:
    """The terms (with their matching chunks) rarest first, while their chunks add up to at
    most ``budget``; the rarest is kept even alone over it."""
    kept, total = [], 0
    for term in sorted(frequency, key=frequency.__getitem__):
        if kept and total + frequency[term] > budget:
            break
        kept.append(term)
        total += frequency[term]
    return kept


def match_expression(terms: list[str]) -> str:
    """An FTS5 query matching any of ``terms`` (quoted: no operator in a question can change
    the query's meaning or make it invalid)."""
    return " OR ".join(f'"{t}"' for t in terms)


def create_fts(db: sqlite3.Connection) -> None:
    """Create the index and its triggers; index existing chunks once (older libraries)."""
    existed = db.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts'").fetchone() is not None
    db.executescript(FTS_SCHEMA)
    if not existed:
        db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")


def purge_deleted(db: sqlite3.Connection) -> None:
    """Merge the full-text index so that deleted chunks' words leave it (FTS5 keeps them,
    marked deleted, until its segments merge). Inside a write transaction."""
    db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")


def keyword_search(db: sqlite3.Connection, query: str, k: int,
                   documents: list[str] | None = None,
                   cache: FrequencyCache | None = None) -> list[tuple[int, float]]:
    """The ``k`` best chunk ids by BM25 (higher is better), optionally only in ``documents``
    (``cache``: see :class:`FrequencyCache`)."""
    expression = match_expression(affordable_terms(db, query_terms(query), cache))
    if not expression or k <= 0:
        return []
    if documents is None:
        rows = db.execute("SELECT rowid, -bm25(chunks_fts) FROM chunks_fts "
                          "WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?",
                          (expression, k))
    else:
        marks = ",".join("?" * len(documents))
        sql = ("SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? AND "  # noqa: S608
               "rowid IN (SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
               f"WHERE d.name IN ({marks})) ORDER BY bm25(chunks_fts) LIMIT ?")
        rows = db.execute(sql, (expression, *documents, k))
    return [(int(r[0]), float(r[1])) for r in rows]
