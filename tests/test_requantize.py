"""The packaged default model runs as an 8-bit copy made once beside the other models."""

from __future__ import annotations

import os
from pathlib import Path

from rag import gguf
from rag.llm import LlamaCppLLM
from rag.requantize import CACHE_DIR, eight_bit_copy
from rag.settings import load_settings


def test_the_default_model_runs_as_an_8_bit_copy_made_once(tmp_path: Path) -> None:
    models = tmp_path / "models"
    settings = load_settings(tmp_path / "data", models_dir=str(models))
    llm = LlamaCppLLM.from_settings(settings)
    copy = models / CACHE_DIR / "SmolLM2-135M-Instruct.Q8_0.gguf"
    assert llm.path == copy and gguf.model_info(copy).quantization == "Q8_0"
    assert llm.name == gguf.default_model_path().stem  # the person's choice, by its name
    assert [m.name for m in gguf.available_models(models)] == [llm.name]  # copy not listed
    assert _next_token_agreement(gguf.default_model_path(), copy) >= 0.9
    made = copy.stat().st_mtime_ns
    assert eight_bit_copy(gguf.default_model_path(), models) == copy
    assert copy.stat().st_mtime_ns == made  # reused, not remade
    assert not [p for p in copy.parent.iterdir() if p.name.endswith(".tmp")]


def _next_token_agreement(first: Path, second: Path) -> float:
    """Share of positions in a Spanish text where both models predict the same next token."""
    import llama_cpp
    import numpy as np

    text = ("El río Amazonas es el más caudaloso del mundo y, según estudios recientes, también "
            "el más largo. Nace en los Andes del Perú y desemboca en el océano Atlántico, en "
            "Brasil, después de recorrer unos 7.000 kilómetros por la selva. ") * 2
    predictions = []
    for path in (first, second):
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=2, logits_all=True,
                              verbose=False)
        tokens = llm.tokenize(text.encode("utf-8"))
        llm.eval(tokens)
        predictions.append(np.argmax(np.array(llm.scores[: len(tokens)]), axis=1))
        llm.close()
    return float(np.mean(predictions[0] == predictions[1]))


def test_an_unwritable_models_dir_runs_the_model_as_shipped(tmp_path: Path) -> None:
    blocked = tmp_path / "models"
    blocked.write_text("a file where the folder should be")
    source = gguf.default_model_path()
    assert eight_bit_copy(source, blocked) == source
    settings = load_settings(tmp_path / "data", models_dir=str(blocked))
    assert LlamaCppLLM.from_settings(settings).path == source


def test_a_stale_copy_is_remade(tmp_path: Path) -> None:
    source = gguf.default_model_path()
    copy = eight_bit_copy(source, tmp_path)
    copy.write_bytes(b"GGUF damaged")
    old = source.stat().st_mtime - 60
    os.utime(copy, (old, old))
    assert eight_bit_copy(source, tmp_path) == copy
    assert gguf.model_info(copy).quantization == "Q8_0"
