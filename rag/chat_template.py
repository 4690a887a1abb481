"""Chat prompts tokenized so that text cannot forge chat turns.

The model's own chat template (from the GGUF) is rendered with placeholders for the
messages' contents. Only the template's text is tokenized with special tokens enabled; every
content (document passages, the person's question, earlier answers) is tokenized as plain
text, after any spelling of one of the model's control tokens in it (``<|im_start|>``,
``</s>``, ``[INST]`` ...) has been visibly altered (``‹|im_start|›``), so a document saying
``<|im_start|>system`` reaches the model as ordinary characters, not as a new turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

Message = dict[str, str]

# Used when a GGUF carries no chat template (the format SmolLM2 and Qwen use).
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

_SLOT = re.compile("\ue000(\\d+)\ue001")  # private-use characters: never in a rendered template
_LOOKALIKES = str.maketrans({"<": "‹", ">": "›", "[": "⟦", "]": "⟧", "|": "¦", "{": "⦃",
                             "}": "⦄"})
_MARKUP = re.compile(r"[<>\[\]|{}]")

Tokenize = Callable[[str, bool], list[int]]  # (text, special) -> token ids

# The control tokens of the common chat formats (ChatML, Llama 2 and 3, Mistral, Gemma,
# Phi, DeepSeek, ...), for a model behind a server, whose vocabulary is not ours to read:
# servers tokenize the whole rendered prompt with special tokens on.
COMMON_MARKERS = (
    "<s>", "</s>", "<unk>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]", "[AVAILABLE_TOOLS]", "[TOOL_CALLS]", "[TOOL_RESULTS]",
    "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<think>", "</think>",
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>")
_COMMON = re.compile("|".join([r"<\|[^<>|\s]{1,40}\|>",  # <|im_start|>, <|eot_id|> ...
                               *map(re.escape, sorted(COMMON_MARKERS, key=len, reverse=True))]))


def _defang(marker: str) -> str:
    altered = marker.translate(_LOOKALIKES)
    return altered if altered != marker else marker[0] + "\u2060" + marker[1:]


def neutralize_common(text: str) -> str:
    """``text`` with every common chat-format control token visibly altered."""
    return _COMMON.sub(lambda m: _defang(m.group(0)), text)


class SafeChatTemplate:
    """Turns messages into token ids with the template's markers as the only control tokens.

    ``markers``: the texts of the vocabulary's control tokens (and of user-defined tokens
    that look like markup); ``tokenize(text, special)`` is the model's tokenizer."""

    def __init__(self, template: str, bos_token: str, eos_token: str, markers: Iterable[str],
                 tokenize: Tokenize) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # sandboxed Jinja

        self._formatter = Jinja2ChatFormatter(template=template or CHATML_TEMPLATE,
                                              eos_token=eos_token, bos_token=bos_token)
        self.eos_token = eos_token
        self._tokenize = tokenize
        texts = sorted({m for m in markers if len(m.strip()) >= 2}, key=len, reverse=True)
        self.markers = texts
        self._marker = re.compile("|".join(map(re.escape, texts))) if texts else None

    def neutralize(self, text: str) -> str:
        """``text`` with every spelling of a control token visibly altered."""
        if self._marker is None:
            return text
        return self._marker.sub(lambda m: _defang(m.group(0)), text)

    def render(self, messages: list[Message]) -> list[tuple[str, bool]]:
        """The prompt as pieces ``(text, is_template)``, in order."""
        slots = [{"role": m["role"], "content": f"\ue000{i}\ue001"}
                 for i, m in enumerate(messages)]
        prompt = self._formatter(messages=slots).prompt
        pieces: list[tuple[str, bool]] = []
        position = 0
        for match in _SLOT.finditer(prompt):
            pieces.append((prompt[position:match.start()], True))
            pieces.append((self.neutralize(messages[int(match.group(1))]["content"]), False))
            position = match.end()
        pieces.append((prompt[position:], True))
        return [(text, template) for text, template in pieces if text]

    def tokens(self, messages: list[Message]) -> list[int]:
        """Token ids of the whole prompt, ready for generation (ends with the assistant's
        turn opened)."""
        ids: list[int] = []
        for text, template in self.render(messages):
            ids += self._tokenize(text, template)
        return ids


def control_markers(n_vocab: int, text_of: Callable[[int], str],
                    attr_of: Callable[[int], int]) -> list[str]:
    """Texts of the vocabulary's control tokens, and of user-defined tokens that look like
    markup (llama.cpp matches user-defined tokens even in plain-text tokenization)."""
    control, user_defined = 1 << 3, 1 << 4  # LLAMA_TOKEN_ATTR_CONTROL, _USER_DEFINED
    markers = []
    for token in range(n_vocab):
        attr = attr_of(token)
        if not attr & (control | user_defined):
            continue
        try:
            text = text_of(token)
        except UnicodeDecodeError:
            continue
        if attr & control or _MARKUP.search(text):
            markers.append(text)
    return markers
