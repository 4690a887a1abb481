"""The scale benchmark's machinery on a small library (the real figures come from
``python -m bench.scale``): build through ``add_document``, the bulk build, every figure
measured, and the table with targets."""

from __future__ import annotations

from bench import scale


def test_scale_figures_on_a_small_embedded_library(tmp_path):
    built = scale.task_build("embedded", str(tmp_path / "a"), 1000)
    assert built["chunks"] == 1000
    measured = scale.task_measure("embedded", str(tmp_path / "a"), 1000)
    for key, *_ in scale.ROWS:
        if key != "build_s":
            assert measured[key] is not None and measured[key] >= 0, key
    assert measured["recall_at_10"] == 1.0  # exact below the IVF threshold
    bulk = scale.bulk_build(str(tmp_path / "b"), 1000)
    assert bulk["chunks"] == 1000
    assert scale.task_measure("embedded", str(tmp_path / "b"), 1000)["search_p50_ms"] > 0
    report = {"date": "d", "commit": "c", "machine": "m", "results": {
        "embedded/1000": {"backend": "embedded", "chunks": 1000, **built, **measured},
        "embedded/100000": {**built, **measured, "backend": "embedded", "chunks": 100_000,
                            "search_p50_ms": 25.0},
        "postgres/1000000": {"skipped": "not run"}}}
    table = scale.markdown(report)
    assert "hybrid search p50" in table and "25.0 ms (before 45-50 ms) ❌" in table
    assert "not run" in table
