"""Language models behind one small interface, and the registry that picks one from the
settings: llama-cpp-python runs GGUF files in-process (the default); ``RAG_LLM_URL`` selects
an OpenAI-compatible model server (:mod:`rag.openai_llm`). A new backend is one module with
an :class:`LLM` subclass plus one line in :data:`BACKENDS`."""

from __future__ import annotations

import importlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ContextOverflowError, GenerationError, ModelLoadError, RagError
from rag.settings import Settings

log = logging.getLogger(__name__)

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@dataclass(frozen=True)
class Hardware:
    gpu: bool
    layers_offloaded: int
    layers_total: int
    threads: int
    server: str = ""  # a model server's address ("" when the model runs in this process)

    def describe(self) -> str:
        if self.server:
            return f"Model server: {self.server}"
        if self.gpu and self.layers_offloaded:
            return f"GPU: {self.layers_offloaded}/{self.layers_total} layers offloaded"
        return f"CPU, {self.threads} threads"


class LLM(ABC):
    name: str
    n_ctx: int
    hardware: Hardware

    @classmethod
    def from_settings(cls, settings: Settings) -> LLM:
        """The model the settings describe (loads or connects; may raise a RagError)."""
        raise NotImplementedError(f"{cls.__name__} is not built from settings")

    @classmethod
    def expected_hardware(cls, settings: Settings) -> Hardware:
        """Where the model would run, without loading it."""
        raise NotImplementedError

    @abstractmethod
    def stream_chat(self, messages: list[Message], max_tokens: int, temperature: float,
                    stop: list[str] | None = None) -> Iterator[str]:
        """Yield the reply piece by piece."""

    @abstractmethod
    def count_tokens(self, text: str) -> int: ...

    def chat(self, messages: list[Message], max_tokens: int, temperature: float = 0.0,
             stop: list[str] | None = None) -> str:
        return "".join(self.stream_chat(messages, max_tokens, temperature, stop)).strip()

    def prefill(self, messages: list[Message]) -> None:
        """Read ``messages`` (the stable start of every prompt) ahead of time, where the
        backend can keep them; a no-op by default."""
        return None

    def count_message_tokens(self, messages: list[Message]) -> int:
        """Tokens of ``messages`` including a few per message for the chat template."""
        return sum(self.count_tokens(m["content"]) + 6 for m in messages) + 4


class LlamaCppLLM(LLM):
    """A GGUF model through llama-cpp-python. One instance serves every session: calls are
    serialized by a lock (llama.cpp contexts are not thread-safe)."""

    def __init__(self, path: str | Path, n_ctx: int = 2048, n_threads: int = 2,
                 n_gpu_layers: int = -1, repeat_penalty: float = 1.1,
                 busy_timeout_s: float = 600.0, name: str = "") -> None:
        import llama_cpp

        self.path = Path(path)
        self.name = name or self.path.stem
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        layers = n_gpu_layers if gpu else 0
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(self.path), n_ctx=n_ctx, n_threads=n_threads,
                n_threads_batch=n_threads, n_gpu_layers=layers, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"Could not load the model {self.path.name}: {exc}",
                                 model=self.path.name) from exc
        self.n_ctx = self._llama.n_ctx()
        arch = self._llama.metadata.get("general.architecture", "llama")
        total = int(self._llama.metadata.get(f"{arch}.block_count", 0)) + 1  # + output layer
        offloaded = 0 if not gpu else (total if layers < 0 else min(layers, total))
        self.hardware = Hardware(gpu=gpu, layers_offloaded=offloaded, layers_total=total,
                                 threads=n_threads)
        self._template = self._chat_template()
        self._repeat_penalty = repeat_penalty
        self._lock = threading.Lock()
        self._busy_timeout_s = busy_timeout_s
        log.info("model %s loaded: %s, n_ctx=%d", self.name, self.hardware.describe(), self.n_ctx)

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaCppLLM:
        from rag import gguf
        from rag.requantize import eight_bit_copy

        chosen = gguf.resolve_model(settings.model, settings.models_dir)
        run = (eight_bit_copy(chosen, settings.models_dir)
               if chosen == gguf.default_model_path() else chosen)
        return cls(run, n_ctx=settings.n_ctx, n_threads=settings.threads,
                   n_gpu_layers=settings.n_gpu_layers, repeat_penalty=settings.repeat_penalty,
                   name=chosen.stem)

    def _chat_template(self):
        from rag.chat_template import SafeChatTemplate, control_markers

        model = self._llama._model
        markers = control_markers(model.n_vocab(), model.token_get_text, model.token_get_attr)

        def text_of(token: int) -> str:
            return model.token_get_text(token) if token >= 0 else ""

        def tokenize(text: str, special: bool) -> list[int]:
            return self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=special)

        return SafeChatTemplate(str(self._llama.metadata.get("tokenizer.chat_template", "")),
                                text_of(model.token_bos()), text_of(model.token_eos()),
                                markers, tokenize)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as plain text (how message contents are tokenized)."""
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The prompt's token ids: the chat template's markers are the only control tokens;
        contents are plain text (see :mod:`rag.chat_template`)."""
        return self._template.tokens(messages)

    def count_message_tokens(self, messages: list[Message]) -> int:
        return len(self.prompt_tokens(messages))

    def prefill(self, messages: list[Message]) -> None:
        """Evaluate ``messages`` now, at load: llama.cpp keeps their tokens in its cache and
        every prompt that starts the same way (all answers and follow-up rewrites share one
        system prompt) reads only what follows them."""
        with self._lock:
            try:
                # tokenized as stream_chat tokenizes, so that the cached prefix matches
                tokens = self.prompt_tokens([*messages, {"role": "user", "content": ""}])
                for _ in self._llama.create_completion(prompt=tokens, max_tokens=1,
                                                       temperature=0.0, stream=True):
                    pass
            except (ValueError, RuntimeError) as exc:  # an optimization only
                log.warning("could not prefill the system prompt: %s", exc)

    def stream_chat(self, messages: list[Message], max_tokens: int, temperature: float,
                    stop: list[str] | None = None) -> Iterator[str]:
        tokens = self.prompt_tokens(messages)
        if len(tokens) + min(max_tokens, 16) > self.n_ctx:
            raise ContextOverflowError(
                f"The question and its context need {len(tokens)} tokens; the model's window "
                f"is {self.n_ctx}.", tokens=len(tokens), n_ctx=self.n_ctx)
        if not self._lock.acquire(timeout=self._busy_timeout_s):
            raise RagError("The model is busy answering another question; try again shortly.")
        try:
            stops = list(stop or []) + ([self._template.eos_token]
                                        if self._template.eos_token else [])
            for part in self._llama.create_completion(
                    prompt=tokens, max_tokens=min(max_tokens, self.n_ctx - len(tokens)),
                    temperature=temperature, stop=stops, repeat_penalty=self._repeat_penalty,
                    stream=True):
                piece = part["choices"][0]["text"]
                if piece:
                    yield piece
        except (ValueError, RuntimeError) as exc:
            log.warning("generation failed: %s", exc)
            raise GenerationError(f"The model could not answer: {exc}") from exc
        finally:
            self._lock.release()


# name -> "module:Class"; imported only when selected.
BACKENDS = {
    "llamacpp": "rag.llm:LlamaCppLLM",
    "openai": "rag.openai_llm:OpenAICompatibleLLM",
}


def llm_backend(settings: Settings) -> type[LLM]:
    """The model server's client when ``llm_url`` is set, else the in-process llama.cpp."""
    module, _, cls = BACKENDS["openai" if settings.llm_url else "llamacpp"].partition(":")
    return getattr(importlib.import_module(module), cls)
