"""``deploy/colab.py``, the notebook's GPU helpers: the GPU as nvidia-smi and nvcc report it
(stub executables), and a CUDA wheel of llama-cpp-python (cached on Drive, prebuilt from a
loopback index, or built with the GPU's architecture). The notebook itself runs in
``test_colab_notebook.py``."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from stub_tools import stub_tool

from deploy import colab


def test_prebuilt_cuda_wheel_tags_follow_minor_version_compatibility() -> None:
    assert colab.prebuilt_tags("12.4") == ["cu124", "cu123", "cu122", "cu121"]
    assert colab.prebuilt_tags("12.8")[0] == "cu125"  # newer 12.x runs 12.5 builds
    assert colab.prebuilt_tags("12.0") == []
    assert colab.prebuilt_tags("11.8") == [] and colab.prebuilt_tags("13.0") == []


def test_wheel_cache_key_names_python_cuda_and_gpu_architecture() -> None:
    gpu = colab.Gpu("Tesla T4", "7.5", "12.5")
    key = colab.wheel_cache_key(gpu)
    assert key.startswith(f"llama-cpp-python-{colab.LLAMA_VERSION}-cp3")
    assert key.endswith("-cuda12.5-sm75")


def test_llama_version_matches_the_install_script() -> None:
    install = (Path(colab.__file__).parent.parent / "scripts" / "install.sh").read_text()
    assert f"LLAMA_VERSION={colab.LLAMA_VERSION}\n" in install


def _wheel(folder: Path, version: str) -> Path:
    """A minimal valid wheel of ``llama-cpp-python`` for this Python and platform."""
    import sysconfig
    import zipfile

    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    name = f"llama_cpp_python-{version}-{py}-{py}-{platform}.whl"
    info = f"llama_cpp_python-{version}.dist-info"
    files = {f"{info}/METADATA": f"Metadata-Version: 2.1\nName: llama_cpp_python\n"
                                 f"Version: {version}\n",
             f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
                              f"Tag: {py}-{py}-{platform}\n",
             "llama_cpp/__init__.py": ""}
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / name, "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return folder / name


def test_cuda_wheel_prefers_the_drive_cache_then_the_closest_prebuilt(
        tmp_path: Path, monkeypatch) -> None:
    """pip itself, against a loopback wheel index that has a cu124 build but no cu125 one:
    a CUDA 12.5 runtime gets the cu124 wheel, cached; the next session uses the cache."""
    root = tmp_path / "index"
    wheel = _wheel(root / "whl" / "cu124" / "llama-cpp-python", colab.LLAMA_VERSION)
    (root / "whl" / "cu124" / "llama-cpp-python" / "index.html").write_text(
        f'<a href="{wheel.name}">{wheel.name}</a>\n')
    _wheel(root / "whl" / "cu125" / "elsewhere", "0.0.1")  # cu125 has no llama-cpp-python
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(colab, "PREBUILT_INDEX",
                        f"http://127.0.0.1:{server.server_port}/whl/{{tag}}")
    gpu, cache = colab.Gpu("Tesla T4", "7.5", "12.5"), tmp_path / "drive" / "wheels"
    try:
        got = colab.llama_cuda_wheel(gpu, cache)
    finally:
        server.shutdown()
    assert got.name == wheel.name and got.parent == cache / colab.wheel_cache_key(gpu)
    assert got.read_bytes() == wheel.read_bytes()
    assert colab.llama_cuda_wheel(gpu, cache) == got  # the index is gone: from the cache


NVCC = "echo 'nvcc: NVIDIA (R) Cuda compiler driver'\necho 'Cuda compilation tools, release 12.5'\n"


def _gpu_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smi: str,
               nvcc: str | None = NVCC, nvcc_on_path: bool = True) -> None:
    bin_dir, cuda_bin = tmp_path / "bin", tmp_path / "cuda" / "bin"
    stub_tool(bin_dir / "nvidia-smi", smi)
    if nvcc is not None:
        stub_tool((bin_dir if nvcc_on_path else cuda_bin) / "nvcc", nvcc)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(colab, "CUDA_BIN", str(cuda_bin))


@pytest.mark.parametrize(("smi", "nvcc", "on_path", "expected"), [
    ("printf 'Tesla T4, 7.5\\nTesla T4, 7.5\\n'\n", NVCC, True,
     colab.Gpu("Tesla T4", "7.5", "12.5")),
    ("echo 'NVIDIA A100-SXM4-40GB, 8.0'\n", NVCC, False,  # nvcc only in /usr/local/cuda/bin
     colab.Gpu("NVIDIA A100-SXM4-40GB", "8.0", "12.5")),
    ("echo 'Tesla T4, 7.5'\n", None, True, None),  # no CUDA toolkit
    ("echo 'NVIDIA-SMI has failed' >&2; exit 9\n", NVCC, True, None),  # no driver
    ("exit 0\n", NVCC, True, None),  # no GPU listed
    ("echo 'Tesla T4, [N/A]'\n", NVCC, True, None),
])
def test_detect_gpu_reads_nvidia_smi_and_nvcc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              smi: str, nvcc: str | None, on_path: bool,
                                              expected: colab.Gpu | None) -> None:
    _gpu_tools(tmp_path, monkeypatch, smi, nvcc, on_path)
    assert colab.detect_gpu() == expected


def test_cuda_wheel_is_built_for_the_detected_gpu_when_no_prebuilt_one_fits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _gpu_tools(tmp_path, monkeypatch, "echo 'NVIDIA A10G, 8.6'\n")
    gpu = colab.detect_gpu()
    assert gpu is not None and gpu.arch == "86"
    calls: list[tuple[list[str], dict[str, str] | None]] = []

    def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
        calls.append((command, kwargs.get("env")))
        if "download" in command:  # the prebuilt index has nothing for this runtime
            return subprocess.CompletedProcess(command, 1, "", "No matching distribution")
        assert "wheel" in command and kwargs.get("check") is True, command
        _wheel(Path(command[command.index("-w") + 1]), colab.LLAMA_VERSION)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(colab.subprocess, "run", run)
    cache = tmp_path / "drive" / "wheels"
    got = colab.llama_cuda_wheel(gpu, cache, python="/venv/bin/python")
    downloads = [c for c, _ in calls if "download" in c]
    assert [c[c.index("--index-url") + 1].rsplit("/", 1)[1] for c in downloads] == \
        ["cu125", "cu124", "cu123", "cu122", "cu121"]
    (build, env), = [(c, e) for c, e in calls if "wheel" in c]
    assert build[:3] == ["/venv/bin/python", "-m", "pip"]
    assert f"llama-cpp-python=={colab.LLAMA_VERSION}" in build
    assert env is not None
    flags = env["CMAKE_ARGS"].split()
    assert "-DGGML_CUDA=on" in flags and "-DCMAKE_CUDA_ARCHITECTURES=86" in flags
    assert "-DGGML_NATIVE=OFF" in flags  # the wheel is cached for other VMs
    assert got.parent == cache / colab.wheel_cache_key(gpu) and got.suffix == ".whl"
    calls.clear()
    assert colab.llama_cuda_wheel(gpu, cache) == got and calls == []  # cached on Drive
