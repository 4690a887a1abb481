#!/usr/bin/env bash
# The container's entry point (Dockerfile ENTRYPOINT); also runs outside a container.
#
# With no arguments: checks that the data directory is usable and that a chosen model
# exists, then serves the app with the command `make run` uses, on $PORT (default 8501)
# on every interface. With arguments: runs them instead (`docker run IMAGE bash`,
# `docker run IMAGE .venv/bin/python -m rag models pull llama-2-7b-chat`, `docker run IMAGE
# make run`).
#
# Environment: RAG_DATA_DIR (default /data in the image, ./data elsewhere), RAG_MODELS_DIR,
# RAG_MODEL, PORT, and any STREAMLIT_* option (e.g. STREAMLIT_SERVER_BASE_URL_PATH).
#
# RAG_BACKUP_DIR (e.g. an Azure Files share mounted at /backup): SQLite in WAL mode must not
# live on a network file system, so the data directory stays on local disk and is copied
# there consistently (python -m deploy.backup): restored into an empty data directory at
# start, snapshotted every RAG_BACKUP_EVERY_S seconds (default 120) and when the app stops.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${CHATDOCS_PYTHON:-.venv/bin/python}
export RAG_DATA_DIR=${RAG_DATA_DIR:-$PWD/data}
PORT=${PORT:-8501}

fail() { printf 'chatdocs: %s\n' "$*" >&2; exit 64; }

# The image records the llama.cpp flags it was built with, so that the README's commands
# run inside it (`make run`, `make test` in the test image) find the environment up to date.
flags_file=${PY%/bin/python}/.llama-cmake-args
if [[ -z ${LLAMA_CMAKE_ARGS:-} && -f $flags_file ]]; then
  LLAMA_CMAKE_ARGS=$(<"$flags_file")
  export LLAMA_CMAKE_ARGS
fi

if [[ $# -gt 0 ]]; then exec "$@"; fi

[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || fail "PORT must be a TCP port number, not '$PORT'"

# The data directory holds every upload and chat: refuse to start rather than lose them.
if [[ -e $RAG_DATA_DIR && ! -d $RAG_DATA_DIR ]]; then
  fail "RAG_DATA_DIR=$RAG_DATA_DIR is a file, not a directory"
fi
mkdir -p "$RAG_DATA_DIR" 2>/dev/null \
  || fail "cannot create RAG_DATA_DIR=$RAG_DATA_DIR (user $(id -u):$(id -g)); mount a writable volume there"
probe=$(mktemp "$RAG_DATA_DIR/.write-test.XXXXXX" 2>/dev/null) \
  || fail "RAG_DATA_DIR=$RAG_DATA_DIR is not writable by user $(id -u):$(id -g); give the volume to that user (chown $(id -u):$(id -g)) or mount it read-write"
rm -f "$probe"

if [[ -n ${RAG_BACKUP_DIR:-} ]]; then
  every=${RAG_BACKUP_EVERY_S:-120}
  [[ $every =~ ^[0-9]+$ ]] && ((every > 0)) || fail "RAG_BACKUP_EVERY_S must be a number of seconds, not '$every'"
  mkdir -p "$RAG_BACKUP_DIR" 2>/dev/null \
    || fail "cannot create RAG_BACKUP_DIR=$RAG_BACKUP_DIR (user $(id -u):$(id -g)); mount the share there"
  probe=$(mktemp "$RAG_BACKUP_DIR/.write-test.XXXXXX" 2>/dev/null) \
    || fail "RAG_BACKUP_DIR=$RAG_BACKUP_DIR is not writable by user $(id -u):$(id -g); mount the share read-write for that user"
  rm -f "$probe"
fi

[[ -x $PY ]] || fail "no Python environment at $PY: build the image (or run 'make install') first"

# Before anything writes to the data directory: bring back the last backup.
if [[ -n ${RAG_BACKUP_DIR:-} ]]; then
  "$PY" -m deploy.backup restore "$RAG_DATA_DIR" "$RAG_BACKUP_DIR"
fi

if [[ -n ${RAG_MODEL:-} ]]; then
  model=$RAG_MODEL
  [[ $model == /* ]] || model=${RAG_MODELS_DIR:-$PWD/models}/$model
  [[ -f $model ]] || fail "RAG_MODEL=$RAG_MODEL not found (looked at $model); mount the models folder or pull the model"
fi

# A model baked into the image (Dockerfile MODEL) is the default on a new data directory;
# the Settings page can still pick another.
default_model=${RAG_MODELS_DIR:-$PWD/models}/.default-model
if [[ -z ${RAG_MODEL:-} && ! -e $RAG_DATA_DIR/settings.json && -s $default_model ]]; then
  "$PY" -c 'import sys; from rag.settings import load_settings, save_settings
save_settings(load_settings(), model=sys.argv[1])' "$(<"$default_model")"
fi

printf 'chatdocs: data in %s, serving on port %s\n' "$RAG_DATA_DIR" "$PORT" >&2
# The same command as `make run` (the Makefile's run target), on every interface unless
# STREAMLIT_SERVER_ADDRESS names one.
serve=("$PY" -m streamlit run serve.py --server.port "$PORT"
       --server.address "${STREAMLIT_SERVER_ADDRESS:-0.0.0.0}")
if [[ -n ${RAG_BACKUP_DIR:-} ]]; then
  # The backup runs the app, passes `docker stop`'s SIGTERM on, then takes a last snapshot.
  exec "$PY" -m deploy.backup run --every "$every" "$RAG_DATA_DIR" "$RAG_BACKUP_DIR" -- "${serve[@]}"
fi
exec "${serve[@]}"
