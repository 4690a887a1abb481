"""A model behind an OpenAI-compatible HTTP server (``RAG_LLM_URL=http://host:port/v1``):
llama.cpp's ``llama-server``, ``python -m llama_cpp.server``, vLLM, or a hosted endpoint
(``RAG_LLM_API_KEY``). Answers stream as server-sent events. Every message's spellings of
the common chat-format control tokens are altered first (see
:func:`rag.chat_template.neutralize_common`).

Failures before the first piece of an answer (connection refused, timeout, 429 or 5xx) are
retried with backoff; after that, or once retries run out, a :class:`ModelServerError` says
what happened in words a person can act on."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from rag.chat_template import neutralize_common
from rag.errors import ModelServerError
from rag.llm import LLM, Hardware, Message
from rag.settings import Settings

log = logging.getLogger(__name__)

RETRIES = 2
BACKOFF_S = 0.5
CONNECT_TIMEOUT_S = 5.0
CHARS_PER_TOKEN = 3  # no tokenizer here: estimate high, so that prompts always fit


def server_label(url: str) -> str:
    """``host:port`` of the server (never the path, query or credentials)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"


class OpenAICompatibleLLM(LLM):
    def __init__(self, url: str, api_key: str = "", model: str = "", n_ctx: int = 2048,
                 timeout_s: float = 60.0, retries: int = RETRIES) -> None:
        self.url = url.rstrip("/")
        self.server = server_label(url)
        self.n_ctx, self._retries = n_ctx, retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.url, headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)))
        self.name = model or self._first_model()
        self.hardware = Hardware(gpu=False, layers_offloaded=0, layers_total=0, threads=0,
                                 server=self.server)
        log.info("model %s on the server %s", self.name, self.server)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatibleLLM:
        return cls(settings.llm_url, settings.llm_api_key, settings.llm_model,
                   n_ctx=settings.n_ctx, timeout_s=settings.llm_timeout_s)

    @classmethod
    def expected_hardware(cls, settings: Settings) -> Hardware:
        return Hardware(gpu=False, layers_offloaded=0, layers_total=0, threads=0,
                        server=server_label(settings.llm_url))

    def _error(self, reason: str) -> ModelServerError:
        return ModelServerError(f"The model server {self.server} is not answering: {reason}.",
                                server=self.server, reason=reason)

    def _first_model(self) -> str:
        response = self._send("GET", "/models")
        try:
            return str(response.json()["data"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._error("it lists no model (GET /models)") from exc

    def _send(self, method: str, path: str, *, stream: bool = False,
              **kwargs: object) -> httpx.Response:
        """Send a request, retried on connection errors, timeouts, 429 and 5xx."""
        for attempt in range(self._retries + 1):
            request = self._client.build_request(method, path, **kwargs)
            try:
                response = self._client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                failure, cause = self._error("it timed out"), exc
            except httpx.TransportError as exc:
                failure, cause = self._error("it cannot be reached"), exc
            else:
                if response.status_code < 400:
                    return response
                response.read()
                response.close()
                failure = cause = self._status_error(response)
                if response.status_code != 429 and response.status_code < 500:
                    raise failure
            if attempt == self._retries:
                raise failure from cause
            log.info("model server %s: %s; retrying", self.server, failure.params["reason"])
            time.sleep(BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")

    def _status_error(self, response: httpx.Response) -> ModelServerError:
        if response.status_code in (401, 403):
            return self._error(f"it refused the API key (HTTP {response.status_code})")
        try:
            detail = str(response.json().get("error", {}).get("message", ""))[:200]
        except (ValueError, AttributeError):
            detail = ""
        return self._error(f"HTTP {response.status_code}{f' ({detail})' if detail else ''}")

    def count_tokens(self, text: str) -> int:
        return len(text) // CHARS_PER_TOKEN + 1

    def stream_chat(self, messages: list[Message], max_tokens: int, temperature: float,
                    stop: list[str] | None = None) -> Iterator[str]:
        # The server renders and tokenizes the prompt with control tokens on: a document's
        # "<|im_start|>system" would open a real turn there.
        messages = [{**m, "content": neutralize_common(m["content"])} for m in messages]
        body = {"model": self.name, "messages": messages, "max_tokens": max_tokens,
                "temperature": temperature, "stream": True}
        if stop:
            body["stop"] = stop
        response = self._send("POST", "/chat/completions", stream=True, json=body)
        try:
            yield from self._pieces(response)
        except httpx.TimeoutException as exc:
            raise self._error("it stopped answering (timed out)") from exc
        except httpx.TransportError as exc:
            raise self._error("the connection broke during the answer") from exc
        finally:
            response.close()

    def _pieces(self, response: httpx.Response) -> Iterator[str]:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                continue
            if "error" in event:
                raise self._error(str(event["error"].get("message", event["error"]))[:200])
            choices = event.get("choices") or [{}]
            piece = (choices[0].get("delta") or {}).get("content")
            if piece:
                yield piece

    def close(self) -> None:
        self._client.close()
