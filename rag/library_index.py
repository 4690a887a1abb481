"""Keeps a library's FAISS index in step with its SQLite database.

Every insert or delete of a chunk appends a row to the ``changes`` log (by trigger, in the
same transaction). The index file on disk reflects the log up to some sequence number; a
process opening the library loads that file and applies only the changes after it, and a
process already open applies only what others changed since its last look. The file is
rewritten when enough changes have piled up (an append-only delta: never per document),
and then the log is pruned up to it.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np

from rag.vector_index import ANN_MIN_VECTORS, VectorIndex

log = logging.getLogger(__name__)

CHANGE_LOG = """
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id INTEGER NOT NULL, added INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS chunks_log_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO changes (chunk_id, added) VALUES (new.id, 1);
END;
CREATE TRIGGER IF NOT EXISTS chunks_log_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO changes (chunk_id, added) VALUES (old.id, 0);
END;
"""
SAVE_MIN_CHANGES = 2000  # a saved index may lag this many changes (or 5% of the library)
BATCH = 500


def change_seq(db: sqlite3.Connection) -> int:
    """The last change's sequence number (0: none yet)."""
    try:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    except sqlite3.OperationalError:  # no AUTOINCREMENT row written yet
        return 0
    return int(row[0]) if row else 0


def _pruned_through(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = 'pruned_through'").fetchone()
    return int(row[0]) if row else 0


class SyncedIndex:
    """A :class:`VectorIndex` and the change-log sequence it reflects. Callers hold the
    library's thread lock; :meth:`save` also needs its file lock."""

    def __init__(self, folder: Path, dim: int, ann_min: int = ANN_MIN_VECTORS) -> None:
        self.folder, self.dim, self.ann_min = folder, dim, ann_min
        self.index = VectorIndex(dim)
        self.seq = -1

    def refresh(self, db: sqlite3.Connection) -> None:
        """Catch up with the database: apply the new changes, or load (or rebuild) the
        index when this process has none yet or is behind a pruned log."""
        if change_seq(db) == self.seq:
            return
        snapshot = not db.in_transaction
        if snapshot:
            db.execute("BEGIN")  # one consistent view of log, chunks and vectors
        try:
            seq, pruned = change_seq(db), _pruned_through(db)
            if self.seq < 0 or self.seq < pruned:
                loaded = VectorIndex.load(self.folder, self.dim)
                if loaded is not None and pruned <= loaded[1] <= seq:
                    self.index, self.seq = loaded
                else:
                    self.rebuild(db, seq)
                    return
            self._apply(db, seq)
        finally:
            if snapshot:
                db.execute("COMMIT")

    def _apply(self, db: sqlite3.Connection, seq: int) -> None:
        if seq == self.seq:
            return
        touched, deleted = [], []
        for chunk_id, ever_deleted in db.execute(
                "SELECT chunk_id, MIN(added) = 0 FROM changes WHERE seq > ? AND seq <= ? "
                "GROUP BY chunk_id", (self.seq, seq)):
            touched.append(chunk_id)
            if ever_deleted:
                deleted.append(chunk_id)
        self.index.remove(deleted)  # an id only ever added since is not in the index yet
        for start in range(0, len(touched), BATCH):
            ids, vectors = _vectors_of(db, touched[start:start + BATCH])
            self.index.add(ids, vectors)
        self.seq = seq

    def rebuild(self, db: sqlite3.Connection, seq: int) -> None:
        # The vectors go straight into one array (a list of blobs joined held them three
        # times), and the old index is let go first: for 28,000 chunks this peaked +280 MB.
        self.index, self.seq = VectorIndex(self.dim), -1  # (-1: reloaded if this fails)
        query = ("FROM chunks c JOIN embeddings e ON e.content_hash = c.content_hash")
        total = db.execute(f"SELECT COUNT(*) {query}").fetchone()[0]
        ids = np.empty(total, dtype=np.int64)
        vectors = np.empty((total, self.dim), dtype=np.float32)
        count = 0
        for chunk_id, blob in db.execute(f"SELECT c.id, e.vector {query} ORDER BY c.id"):
            if count == total:  # (rows added since the count: the next refresh has them)
                break
            ids[count] = chunk_id
            vectors[count] = np.frombuffer(blob, dtype=np.float32)
            count += 1
        ids, vectors = ids[:count], vectors[:count]
        log.info("building the vector index of %s (%d vectors)", self.folder, len(ids))
        self.index = VectorIndex.build(self.dim, ids, vectors, self.ann_min)
        self.seq = seq

    def save_if_due(self, db: sqlite3.Connection, force: bool = False) -> None:
        """Rebuild the index if it outgrew its kind, and write it if the saved one lags too
        far (or ``force``); then prune the log up to it. Call under the file lock, with no
        transaction open: a save never goes back in time (another process may have saved a
        newer one), and the log is pruned only up to what a file on disk reflects."""
        if self.index.needs_rebuild(self.ann_min):
            self.refresh(db)
            self.rebuild(db, self.seq)
            force = True
        saved = VectorIndex.saved_seq(self.folder)
        if saved >= self.seq:
            return
        lag = self.seq - max(saved, 0)
        if not (force or saved < 0 or lag >= max(SAVE_MIN_CHANGES, len(self.index) // 20)):
            return
        self.index.save(self.folder, self.seq)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM changes WHERE seq <= ?", (self.seq,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('pruned_through', ?)",
                       (str(self.seq),))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _vectors_of(db: sqlite3.Connection, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of the chunks among ``ids`` that exist now."""
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    marks = ",".join("?" * len(ids))
    rows = db.execute(f"SELECT c.id, e.vector FROM chunks c JOIN embeddings e "  # noqa: S608
                      f"ON e.content_hash = c.content_hash WHERE c.id IN ({marks})",
                      ids).fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return (np.asarray([r[0] for r in rows], dtype=np.int64),
            np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows]))
