"""Figures from the raw measurements: project / baseline / ratio / target, as a console
table, a Markdown table and JSON.

``ratio`` is always "times better for the project" (>1: the project wins): project/baseline
for rates and recall, baseline/project for times and memory. The generation row compares
the project with raw llama-cpp-python instead of the LangChain baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from bench.common import median

PAIRS = ("en->en", "es->es", "es->en")
PAIR_LABELS = {"en->en": "en→en", "es->es": "es→es", "es->en": "es→en (cross)"}
EMBEDDERS = ("minilm", "use-multilingual")


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    project: float | None
    baseline: float | None
    higher_is_better: bool
    target: str = ""
    met: bool | None = None
    baseline_label: str = "LangChain"
    note: str = ""
    decimals: int = 2
    ratio: float | None = field(default=None)

    def __post_init__(self) -> None:
        p, b = self.project, self.baseline
        if p is not None and b is not None and p > 0 and b > 0:
            self.ratio = p / b if self.higher_is_better else b / p


# Every figure the JSON must hold (the smoke test checks them all).
FIGURE_KEYS = [
    "ingest_pages_per_s", "ingest_chunks_per_s",
    "ingest_parse_s", "ingest_chunk_s", "ingest_embed_s", "ingest_index_s",
    "ingest_total_s", "ingest_setup_s", "ingest_peak_rss_mb",
    "reingest_s", "reingest_speedup",
    "retrieval_p50_ms_corpus", "retrieval_p95_ms_corpus",
    "retrieval_p50_ms_10k", "retrieval_p95_ms_10k",
    "answer_ttft_s", "answer_tokens_per_s", "generation_vs_raw_tokens_per_s",
    "cold_start_health_s", "cold_start_render_s",
    *[f"recall@{k}_{pair}_{emb}" for emb in EMBEDDERS for pair in PAIRS for k in (1, 5)],
]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _runs_median(runs: list[dict], get: Callable[[dict], float | None]) -> float | None:
    values = [v for v in (get(r) for r in runs) if v is not None]
    return median(values)


def build(raw: dict, default_embedder: str) -> list[Figure]:
    figures: list[Figure] = []
    add = figures.append
    ingest = raw.get("ingest", {})
    p_runs, b_runs = ingest.get("project", []), ingest.get("baseline", [])
    quality = raw.get("quality", {})

    def recall5(side: str, embedder: str) -> float | None:
        data = quality.get(side, {}).get(embedder, {})
        values = [data[p]["recall@5"] for p in PAIRS if p in data]
        return _mean(values) if len(values) == len(PAIRS) else None

    def rate(runs: list[dict], what: str) -> float | None:
        return _runs_median(runs, lambda r: r[what] / r["ingest_s"] if r["ingest_s"] else None)

    pages_p, pages_b = rate(p_runs, "pages"), rate(b_runs, "pages")
    r5_p, r5_b = recall5("project", default_embedder), recall5("baseline", "minilm")
    ingest_fig = Figure("ingest_pages_per_s", "ingest: pages/s", "pages/s", pages_p, pages_b,
                        True, ">=3x at equal or better recall@5",
                        note=f"project embedder: {default_embedder} (default); recall@5 mean "
                             f"of 3 pairs: project {_fmt(r5_p, 3)}, baseline {_fmt(r5_b, 3)}",
                        decimals=1)
    paired = [p["pages"] / p["ingest_s"] / (b["pages"] / b["ingest_s"])
              for p, b in zip(p_runs, b_runs, strict=False) if p["ingest_s"] and b["ingest_s"]]
    if len(paired) > 1:
        ingest_fig.note += ("; ratio of each repeat (same conditions): "
                            + ", ".join(f"{x:.2f}x" for x in paired)
                            + "; load averages: "
                            + ", ".join(str(r.get("load_average", [None])[0]) for r in p_runs))
    if ingest_fig.ratio is not None and r5_p is not None and r5_b is not None:
        ingest_fig.met = ingest_fig.ratio >= 3 and r5_p >= r5_b
    add(ingest_fig)
    add(Figure("ingest_chunks_per_s", "ingest: chunks/s", "chunks/s",
               rate(p_runs, "chunks"), rate(b_runs, "chunks"), True, decimals=1,
               note="each pipeline's own chunks: "
                    f"project {_fmt(_runs_median(p_runs, lambda r: r['chunks']), 0)}, "
                    f"baseline {_fmt(_runs_median(b_runs, lambda r: r['chunks']), 0)}"))
    for stage in ("parse", "chunk", "embed", "index"):
        add(Figure(f"ingest_{stage}_s", f"ingest: {stage}", "s",
                   _runs_median(p_runs, lambda r, s=stage: r["stages_s"].get(s)),
                   _runs_median(b_runs, lambda r, s=stage: r["stages_s"].get(s)), False))
    add(Figure("ingest_total_s", "ingest: total (parse+chunk+embed+index)", "s",
               _runs_median(p_runs, lambda r: r["ingest_s"]),
               _runs_median(b_runs, lambda r: r["ingest_s"]), False, decimals=1))
    add(Figure("ingest_setup_s", "ingest: imports + model load", "s",
               _runs_median(p_runs, lambda r: r["setup_s"]),
               _runs_median(b_runs, lambda r: r["setup_s"]), False))
    add(Figure("ingest_peak_rss_mb", "ingest: peak memory (child ru_maxrss)", "MB",
               _runs_median(p_runs, lambda r: r.get("max_rss_mb")),
               _runs_median(b_runs, lambda r: r.get("max_rss_mb")), False, decimals=0))
    re_p = _runs_median(p_runs, lambda r: r.get("reingest_s"))
    re_b = _runs_median(b_runs, lambda r: r.get("reingest_s"))
    add(Figure("reingest_s", "re-ingest, unchanged files", "s", re_p, re_b, False,
               note="the baseline has no change detection: it re-runs everything"))
    speed_p = _runs_median(p_runs, lambda r: r["ingest_s"] / r["reingest_s"]
                           if r.get("reingest_s") else None)
    speed_b = _runs_median(b_runs, lambda r: r["ingest_s"] / r["reingest_s"]
                           if r.get("reingest_s") else None)
    each = [r["ingest_s"] / r["reingest_s"] for r in p_runs if r.get("reingest_s")]
    add(Figure("reingest_speedup", "re-ingest: first ingest / unchanged re-ingest", "x",
               speed_p, speed_b, True, ">=20x (project)",
               met=None if speed_p is None else speed_p >= 20, decimals=1,
               note="project, each repeat: " + ", ".join(f"{x:.1f}x" for x in each)
                    + " (a loaded machine slows the first ingest more than the re-ingest)"
               if len(each) > 1 else ""))

    latency = raw.get("latency", {})
    for size, label in (("corpus", "corpus"), ("large", "10k")):
        data = latency.get(size, {})
        chunks = latency.get(f"{size}_chunks", {})
        for q in ("p50", "p95"):
            p = data.get("project", {}).get(f"{q}_ms")
            b = data.get("baseline", {}).get(f"{q}_ms")
            target, met = "", None
            if size == "large" and q == "p50":
                target, met = "<20 ms (project)", None if p is None else p < 20
            note = "project: hybrid dense+BM25, k=4; baseline: FAISS k=4"
            embed = data.get("project_embed_query", {}).get(f"{q}_ms")
            if embed is not None:
                one = data.get("project_embed_query_1_thread", {}).get(f"{q}_ms")
                note = (f"of which the project's query embedding alone: {_fmt(embed, 1)} ms"
                        + (f" ({_fmt(one, 1)} ms on 1 thread)" if one is not None else ""))
            add(Figure(f"retrieval_{q}_ms_{label}", f"retrieval {q}, {label} "
                       f"({chunks.get('project', '?')}/{chunks.get('baseline', '?')} chunks)",
                       "ms", p, b, False, target, met, decimals=1, note=note))

    answer = raw.get("answer", {}).get("rows", {})
    ttft_p = median([r["ttft_s"] for r in answer.get("project", [])])
    ttft_b = median([r["ttft_s"] for r in answer.get("baseline", [])])
    tps = {side: median([r["tokens_per_s"] for r in answer.get(side, [])
                         if r.get("tokens_per_s")])
           for side in ("project", "baseline", "raw", "raw_1_thread")}
    ttft_raw = median([r["ttft_s"] for r in answer.get("raw", [])])
    ttft_one = median([r["ttft_s"] for r in answer.get("raw_1_thread", [])])
    info = raw.get("answer", {})
    prompt_tokens = median([r["prompt_tokens"] for r in answer.get("project", [])])
    note = (f"prompt tokens (project) {_fmt(prompt_tokens, 0)}, {info.get('threads', '?')} "
            "threads; raw llama-cpp-python, same messages: "
            f"{_fmt(ttft_raw)} s")
    if ttft_one is not None:
        note += f"; the same on 1 thread: {_fmt(ttft_one)} s, {_fmt(tps['raw_1_thread'], 1)} tok/s"
    add(Figure("answer_ttft_s", "answer: time to first token (retrieval + prompt)", "s",
               ttft_p, ttft_b, False, "<1.5 s (project, default model, 4 chunks)",
               None if ttft_p is None else ttft_p < 1.5, note=note))
    add(Figure("answer_tokens_per_s", "answer: generation tokens/s", "tok/s",
               tps["project"], tps["baseline"], True, decimals=1))
    gen = Figure("generation_vs_raw_tokens_per_s", "generation tokens/s vs raw llama-cpp-python",
                 "tok/s", tps["project"], tps["raw"], True, ">=0.9x raw (within 10%)",
                 baseline_label="raw llama-cpp-python", decimals=1,
                 note="same messages, model, threads and sampling")
    gen.met = None if gen.ratio is None else gen.ratio >= 0.9
    add(gen)

    cold = raw.get("cold_start", {})
    for what, label in (("health_s", "/_stcore/health"), ("render_s", "first render")):
        add(Figure(f"cold_start_{what}", f"cold start: process start -> {label}", "s",
                   _runs_median([r for r in cold.get("project", []) if "error" not in r],
                                lambda r, w=what: r.get(w)),
                   _runs_median([r for r in cold.get("baseline", []) if "error" not in r],
                                lambda r, w=what: r.get(w)),
                   False, baseline_label="hand-written LangChain app",
                   note="; ".join(sorted({f"{side}: {r['error'][:160]}"
                                          for side in ("project", "baseline")
                                          for r in cold.get(side, []) if "error" in r}))))

    for embedder in EMBEDDERS:
        for pair in PAIRS:
            for k in (1, 5):
                p = quality.get("project", {}).get(embedder, {}).get(pair, {}).get(f"recall@{k}")
                b = quality.get("baseline", {}).get("minilm", {}).get(pair, {}).get(f"recall@{k}")
                add(Figure(f"recall@{k}_{pair}_{embedder}",
                           f"XQuAD recall@{k} {PAIR_LABELS[pair]}, project {embedder}", "",
                           p, b, True, decimals=3,
                           baseline_label="LangChain (MiniLM)"))
    return figures


def _fmt(value: float | None, decimals: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{decimals}f}"


def _met(value: bool | None, target: str) -> str:
    if not target:
        return ""
    return "n/a" if value is None else ("yes" if value else "NO")


def rows(figures: list[Figure]) -> list[list[str]]:
    out = []
    for f in figures:
        unit = f" {f.unit}" if f.unit else ""
        out.append([f.label, _fmt(f.project, f.decimals) + unit,
                    _fmt(f.baseline, f.decimals) + unit,
                    "n/a" if f.ratio is None else f"{f.ratio:.2f}x", f.target,
                    _met(f.met, f.target)])
    return out


HEADER = ["figure", "project", "baseline", "ratio (x better)", "target", "met?"]


def console_table(figures: list[Figure]) -> str:
    table = [HEADER, *rows(figures)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) if i < 4 else c.ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in table]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def markdown_table(figures: list[Figure]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows(figures)]
    return "\n".join(lines)


def as_json(figures: list[Figure]) -> dict[str, dict]:
    return {f.key: asdict(f) for f in figures}
