# Chat with your documents, as a container image.
#
#   docker build -t chatdocs .                                # CPU (portable AVX2 build)
#   docker build -t chatdocs:cuda --build-arg BACKEND=cuda .  # NVIDIA GPU (CUDA 12)
#   docker build -t chatdocs:llama2 --build-arg MODEL=llama-2-7b-chat .   # bake a model in
#   docker run -p 8501:8501 -v chatdocs-data:/data chatdocs
#   docker run -p 8501:8501 -v /mnt/share:/backup -e RAG_BACKUP_DIR=/backup chatdocs
#     (data on the container's disk, copied to a network share: Azure Files, NFS, SMB)
#   docker build --target test -t chatdocs-test . && docker run --rm chatdocs-test  # make test
#
# The image is installed with the README's own command (`make install`, i.e.
# scripts/install.sh) and serves with the same command as `make run`
# (scripts/docker-entrypoint.sh). Data (libraries, chats, accounts, settings) lives in the
# /data volume; models are baked into /app/models (MODEL) or mounted there
# (-v "$PWD/models:/app/models:ro"). See README "Container and cloud".

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ARG BACKEND=cpu
ARG CUDA_VERSION=12-6
# T4 (7.5), A100 (8.0), A10/RTX 30xx (8.6), L4/RTX 40xx (8.9), H100 (9.0).
ARG CUDA_ARCHITECTURES="75;80;86;89;90"
ARG MODEL=""
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Compilers for llama.cpp; with BACKEND=cuda, nvcc and cuBLAS from NVIDIA's Debian 12 repo.
# Debian packages are not version-pinned (DL3008): the base image tag fixes the release and
# pinned versions vanish from the mirror with each security update.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake git make curl ca-certificates \
 && if [ "$BACKEND" = cuda ]; then \
      curl -fsSLo /tmp/cuda-keyring.deb \
        https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
      && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb && apt-get update \
      && apt-get install -y --no-install-recommends "cuda-nvcc-$CUDA_VERSION" \
         "cuda-cudart-dev-$CUDA_VERSION" "cuda-driver-dev-$CUDA_VERSION" "cuda-cccl-$CUDA_VERSION" \
         "libcublas-dev-$CUDA_VERSION"; \
    fi \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/local/cuda/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu

WORKDIR /app
COPY . .
# Portable flags: the image runs on CPUs other than the builder's (AVX2: every x86 cloud VM
# of the last decade). CUDA: every layer on the GPU, kernels for the architectures above.
RUN if [ "$BACKEND" = cuda ]; then \
      export LLAMA_CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHITECTURES -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"; \
    else \
      export LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"; \
    fi \
 && make install \
 && echo "$LLAMA_CMAKE_ARGS" > .venv/.llama-cmake-args \
 && rm -rf data/* test-artifacts \
 && if [ -n "$MODEL" ]; then \
      .venv/bin/python -m rag models pull "$MODEL" | tail -1 | xargs basename > models/.default-model; \
    fi

# ---------------------------------------------------------------------------------------
# The test image: `docker build --target test -t chatdocs-test . && docker run --rm
# chatdocs-test` runs `make test` (lint and the whole suite, Chromium and nginx included).
FROM build AS test
# (The llama.cpp wheel built above is reused from the build stage's cache.)
RUN LLAMA_CMAKE_ARGS="$(cat .venv/.llama-cmake-args)" make install-dev \
 && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["make", "test"]

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG BACKEND=cpu
ARG CUDA_VERSION=12-6
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# libgomp: llama.cpp's threads; curl: the health check; Tesseract's Spanish and English data:
# OCR of scanned PDFs (tesserocr brings the engine). CUDA: the runtime and cuBLAS only
# (the driver comes from the host through the NVIDIA container toolkit).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 curl ca-certificates \
      tesseract-ocr-spa tesseract-ocr-eng \
 && if [ "$BACKEND" = cuda ]; then \
      curl -fsSLo /tmp/cuda-keyring.deb \
        https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
      && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb && apt-get update \
      && apt-get install -y --no-install-recommends "cuda-cudart-$CUDA_VERSION" "libcublas-$CUDA_VERSION" \
      && ls -d /usr/local/cuda*/targets/*/lib > /etc/ld.so.conf.d/zz-chatdocs-cuda.conf && ldconfig; \
    fi \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 chatdocs \
 && useradd --system --uid 10001 --gid chatdocs --create-home --home-dir /home/chatdocs \
      --shell /usr/sbin/nologin chatdocs \
 && mkdir -p /data && chown chatdocs:chatdocs /data

ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    RAG_DATA_DIR=/data \
    RAG_MODELS_DIR=/app/models \
    PORT=8501 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/chatdocs

WORKDIR /app
COPY --from=build /app /app
# The code stays root's (read-only to the app); models/ is the app's, so the Settings page
# can download gallery models into it.
RUN chown -R chatdocs:chatdocs /app/models
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/bin/sh", "-c", "curl -fsS \"http://127.0.0.1:${PORT}/_stcore/health\" || exit 1"]
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
