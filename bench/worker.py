"""One measurement in a fresh process: ``python -m bench.worker TASK CONFIG.json RESULT.json``.

The orchestrator (``bench.run``) starts one per measurement so that each pipeline's peak
memory is its own process's ``ru_maxrss`` and no model or cache leaks between runs. The
measurements: ingest here, latency, answer and quality in ``bench/worker_*.py``.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

from bench.common import PROTOCOL_PREFIX
from bench.worker_answer import task_answer
from bench.worker_latency import task_latency
from bench.worker_quality import task_quality_baseline, task_quality_project


# ------------------------------------------------------------------------------- ingest
def task_ingest_project(cfg: dict) -> dict:
    from bench import project

    return project.ingest(cfg["files"], cfg["data_dir"], cfg.get("reingest", True),
                          cfg.get("overrides"))


def task_ingest_baseline(cfg: dict) -> dict:
    from bench import baseline

    return baseline.ingest(cfg["files"], cfg["index_dir"], cfg.get("reingest", True))


TASKS = {
    "ingest-project": task_ingest_project, "ingest-baseline": task_ingest_baseline,
    "latency": task_latency, "answer": task_answer,
    "quality-project": task_quality_project, "quality-baseline": task_quality_baseline,
}


def serve_ingest(side: str, cfg: dict) -> None:
    """Answer ingest commands, one JSON line each, from the orchestrator (``IngestClient``):
    ``{"op": "ingest" | "finish" | "reingest" | "finish_reingest" | "quit", "args": [...]}``.
    Anything the libraries print goes to the log, not into the protocol."""
    from bench import baseline, project

    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def emit(message: dict) -> None:
        protocol.write(PROTOCOL_PREFIX + json.dumps(message, default=float) + "\n")
        protocol.flush()

    session = (project.IngestSession if side == "project" else baseline.IngestSession)(cfg)
    emit({"ready": True, **session.info})
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        emit(getattr(session, command["op"])(*command.get("args", [])))


def main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    if argv[0].startswith("serve-ingest-"):
        cfg = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        serve_ingest(argv[0].removeprefix("serve-ingest-"), cfg)
        return 0
    task, config_path, result_path = argv
    cfg = json.loads(Path(config_path).read_text(encoding="utf-8"))
    result = TASKS[task](cfg)
    Path(result_path).write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
