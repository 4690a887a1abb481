"""Settings are checked where they are read: a wrong type or range in settings.json or a
RAG_* variable is ignored with a message naming the key (log, CLI, Settings page); an
unreadable settings.json is never overwritten, but set aside when settings are saved."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.settings import Settings, load_settings, save_settings

ROOT = Path(__file__).resolve().parent.parent


def _issues(settings: Settings) -> list[str]:
    return [issue.describe() for issue in settings.issues]


def test_bad_values_in_settings_json_are_named_and_ignored(data_dir, caplog) -> None:
    (data_dir / "settings.json").write_text(json.dumps({
        "n_ctx": "4096", "temperature": 7, "top_k": 6, "language": "fr", "n_threads": True,
        "chunk_overlap": 500, "nctx": 1024, "embedder": "no-such-embedder",
        "parse_timeout_s": float("nan")}), encoding="utf-8")
    settings = load_settings()
    defaults = Settings()
    assert settings.top_k == 6  # the good value is used
    for name in ("n_ctx", "temperature", "language", "n_threads", "embedder",
                 "parse_timeout_s", "chunk_overlap"):
        assert getattr(settings, name) == getattr(defaults, name), name
    assert _issues(settings) == [
        "settings.json: n_ctx must be an integer from 512 to 131072, not '4096'; it was ignored",
        "settings.json: temperature must be a number from 0.0 to 2.0, not 7; it was ignored",
        "settings.json: language must be one of auto, es, en, not 'fr'; it was ignored",
        "settings.json: n_threads must be an integer from 0 to 1024, not True; it was ignored",
        "settings.json: nctx is not a setting; it was ignored",
        "settings.json: embedder must be one of minilm, use-multilingual, not "
        "'no-such-embedder'; it was ignored",
        "settings.json: parse_timeout_s must be a number from 1.0 to 86400.0, not nan; it was "
        "ignored",
        "settings: chunk_overlap must be less than chunk_tokens (200), not 500; it was ignored",
    ]
    logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("n_ctx must be an integer" in m for m in logged)


@pytest.mark.parametrize(("variable", "raw", "message"), [
    ("RAG_N_CTX", "4k", "RAG_N_CTX: n_ctx must be an integer from 512 to 131072, not '4k'"),
    ("RAG_TOP_K", "0", "RAG_TOP_K: top_k must be an integer from 1 to 50, not '0'"),
    ("RAG_TEMPERATURE", "-1", "RAG_TEMPERATURE: temperature must be a number from 0.0 to 2.0, "
                              "not '-1'"),
    ("RAG_EMBEDDER_DTYPE", "int8", "RAG_EMBEDDER_DTYPE: embedder_dtype must be one of auto, "
                                   "float32, bfloat16, not 'int8'"),
    ("RAG_MAX_TOKENS", "4096", "settings: max_tokens must be less than n_ctx (2048), not 4096"),
])
def test_bad_environment_overrides_are_named_and_ignored(data_dir, monkeypatch, variable, raw,
                                                        message) -> None:
    monkeypatch.setenv(variable, raw)
    (data_dir / "settings.json").write_text('{"top_k": 7}', encoding="utf-8")
    settings = load_settings()
    assert _issues(settings) == [message + "; it was ignored"]
    name = variable.removeprefix("RAG_").lower()
    expected = 7 if name == "top_k" else getattr(Settings(), name)
    assert getattr(settings, name) == expected  # the value from settings.json, or the default


def test_good_environment_overrides_are_typed(data_dir, monkeypatch) -> None:
    monkeypatch.setenv("RAG_N_CTX", " 4096 ")
    monkeypatch.setenv("RAG_TEMPERATURE", "0")
    settings = load_settings()
    assert (settings.n_ctx, settings.temperature, settings.issues) == (4096, 0.0, ())


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe{}", b""])
def test_unreadable_settings_file_is_kept_aside_never_overwritten(data_dir, content) -> None:
    path = data_dir / "settings.json"
    path.write_bytes(content)
    settings = load_settings()
    assert settings.n_ctx == Settings().n_ctx
    assert [i.key for i in settings.issues] == ["settings.json"]
    assert "could not be read" in settings.issues[0].describe()
    assert path.read_bytes() == content  # reading never touches it

    saved = save_settings(settings, top_k=9)
    (aside,) = data_dir.glob("settings.unreadable-*.json")
    assert aside.read_bytes() == content  # the person's file, intact
    assert json.loads(path.read_text(encoding="utf-8")) == {"top_k": 9}
    assert _issues(saved) == [f"settings.json could not be read: it was kept as {aside.name} "
                              "and a new one was written"]
    assert load_settings().top_k == 9 and not load_settings().issues


def test_cli_names_the_bad_setting_even_when_quiet(tmp_path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_DATA_DIR": str(tmp_path), "RAG_TOP_K": "zero"})
    done = subprocess.run([sys.executable, "-m", "rag", "list", "-q"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert ("warning: RAG_TOP_K: top_k must be an integer from 1 to 50, not 'zero'; it was "
            "ignored") in done.stderr


def test_settings_page_names_the_bad_keys_and_keeps_the_unreadable_file(app, data_dir,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "cien")
    (data_dir / "settings.json").write_text('{"n_ctx": 2048,', encoding="utf-8")  # cut short
    app.run()
    app.switch_page("pages/settings.py").run()
    assert not app.exception
    (warning,) = [w.value for w in app.warning]
    assert "RAG\\_TOP\\_K: «top\\_k» debe ser un número entero de 1 a 50" in warning
    assert "No se pudo leer settings\\.json" in warning
    app.slider(key="set_temperature").set_value(0.5)
    app.form_submit_button[0].click().run()
    (aside,) = data_dir.glob("settings.unreadable-*.json")
    assert aside.read_text(encoding="utf-8") == '{"n_ctx": 2048,'
    success = app.success[0].value
    assert success.startswith("Ajustes guardados.") and "se guardó aparte como" in success
    assert json.loads((data_dir / "settings.json").read_text()) == {"temperature": 0.5}
