"""rag.samples: the shipped sample documents and their license."""

from __future__ import annotations

from rag import samples


def test_samples_ship_with_their_license() -> None:
    files = samples.sample_files()
    assert [p.name for p in files] == ["nikola-tesla.md", "oxigeno.md", "rio-rin.md",
                                       "selva-amazonica.md"]
    license_text = (samples.SAMPLE_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "Attribution-ShareAlike 4.0 International" in license_text
    notice = (samples.SAMPLE_DIR / "NOTICE").read_text(encoding="utf-8")
    assert "XQuAD" in notice and "CC BY-SA 4.0" in notice
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "\ufeff" not in text
        assert text.startswith("# ") and "CC BY-SA 4.0" in text
        assert 2000 < len(text) < 8000


def test_load_samples_copies_and_ingests(service, data_dir) -> None:
    reports = samples.load_samples(service)
    assert [r.status for r in reports] == ["added"] * 4
    assert {p.name for p in (data_dir / "samples").iterdir()} == {
        "LICENSE", "NOTICE", "nikola-tesla.md", "oxigeno.md", "rio-rin.md",
        "selva-amazonica.md"}
    assert service.stats()[0] == 4
    again = samples.load_samples(service)
    assert [r.status for r in again] == ["skipped"] * 4
