"""Real documents for tests: Debian documentation packages ship PDFs with plain-text twins.

The ones the tests use, maint-guide-es and developers-reference, ship in
``tests/data/debian/<package>`` (PDF, gzipped text twin, copyright), so the suite needs no
network and no apt. Other packages (the
benchmark's) are downloaded once with ``apt-get download`` and unpacked with ``dpkg-deb -x``
into ``~/.cache/chatdocs-test-data/<package>`` (or ``$CHATDOCS_TEST_DATA/<package>``); any
failure there, a missing apt-get included, is an error, never a skip.
"""

from __future__ import annotations

import collections
import gzip
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SHIPPED_DIR = Path(__file__).resolve().parent / "data" / "debian"
CACHE_DIR = Path(
    os.environ.get("CHATDOCS_TEST_DATA", Path.home() / ".cache" / "chatdocs-test-data")
)


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


def debian_doc(package: str) -> Path:
    """The unpacked root of a Debian package (``usr/share/...`` below it), or the folder the
    repository ships it in."""
    if (SHIPPED_DIR / package).is_dir():
        return SHIPPED_DIR / package
    root = CACHE_DIR / package
    if (root / ".complete").exists():
        return root
    apt_get, dpkg_deb = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if not apt_get or not dpkg_deb:
        raise RuntimeError(f"apt-get/dpkg-deb not available: cannot fetch {package}")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        work = Path(tmp)
        done = _run([apt_get, "download", package], work)
        if done.returncode != 0 and "Unable to locate" in done.stderr and os.geteuid() == 0:
            _run([apt_get, "update"], work)  # fresh container without package lists
            done = _run([apt_get, "download", package], work)
        debs = sorted(work.glob(f"{package}_*.deb"))
        if done.returncode != 0 or not debs:
            raise RuntimeError(f"apt-get download {package} failed: {done.stderr.strip()}")
        target = work / "root"
        target.mkdir()
        unpacked = _run([dpkg_deb, "-x", str(debs[0]), str(target)], work)
        if unpacked.returncode != 0:
            raise RuntimeError(f"dpkg-deb -x {debs[0].name} failed: {unpacked.stderr.strip()}")
        (target / ".complete").write_text(debs[0].name + "\n", encoding="utf-8")
        shutil.rmtree(root, ignore_errors=True)
        target.rename(root)
    return root


def pdf_and_twin(package: str) -> tuple[Path, str]:
    """The package's PDF and the text of its plain-text twin (gunzipped if needed)."""
    root = debian_doc(package)
    pdfs = sorted(p for p in root.rglob("*.pdf") if p.stat().st_size > 0)
    if not pdfs:
        raise FileNotFoundError(f"{package} ships no PDF")
    pdf = pdfs[0]
    stem = pdf.name.removesuffix(".pdf")
    for twin in (pdf.with_name(stem + ".txt"), pdf.with_name(stem + ".txt.gz")):
        if twin.exists():
            raw = twin.read_bytes()
            raw = gzip.decompress(raw) if twin.suffix == ".gz" else raw
            return pdf, raw.decode("utf-8", errors="replace")
    raise FileNotFoundError(f"{package} ships no text twin of {pdf.name}")


def word_f1(candidate: str, reference: str) -> float:
    """Bag-of-words F1 (multiset overlap) of lowercased ``\\w+`` tokens."""
    cand = collections.Counter(re.findall(r"\w+", candidate.lower()))
    ref = collections.Counter(re.findall(r"\w+", reference.lower()))
    overlap = sum((cand & ref).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(cand.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)
