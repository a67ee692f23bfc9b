"""One vLLM engine at a time when evaluating several models.

vLLM does not reliably give back GPU memory when an `LLM` goes out of scope (its engine core and KV cache outlive
the Python object), so a second model built in the same process at `gpu_memory_utilization: 0.9` can run out of
memory. By default each model is decoded in its own child process (`python -m tulu_recipes.evaluation.vllm_engine`),
whose exit frees everything; the engine is also shut down explicitly before the child returns. With
`vllm_subprocess: false` the engine runs in this process and is shut down explicitly after its model
(`LLM.shutdown()` where vLLM has it, else its engine core's, then vLLM's distributed/memory cleanup).
"""

from __future__ import annotations

import contextlib
import gc
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any


def shutdown(llm: Any) -> None:
    """Stop an engine now instead of when the garbage collector gets to it."""
    if hasattr(llm, "shutdown"):
        llm.shutdown()
    else:
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
    with contextlib.suppress(ImportError):
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        cleanup_dist_env_and_memory()
    gc.collect()


def generate_here(model_path: str, prompts: Sequence[list[dict]], settings: Any) -> list[str]:
    """Greedy completions from one engine in this process, shut down before returning."""
    from vllm import LLM, SamplingParams

    from tulu_recipes.evaluation.decoding import chat_prompt_text
    from tulu_recipes.evaluation.inference import load_tokenizer, prompt_limits

    tokenizer = load_tokenizer(model_path, settings.chat_template)
    token_prompts = [
        {"prompt_token_ids": tokenizer(chat_prompt_text(tokenizer, p), add_special_tokens=False)["input_ids"]}
        for p in prompts
    ]
    llm = LLM(
        model=model_path,
        dtype=settings.dtype,
        tensor_parallel_size=settings.tensor_parallel_size,
        gpu_memory_utilization=settings.gpu_memory_utilization,
    )
    try:
        params = [SamplingParams(temperature=0.0, max_tokens=n) for n in prompt_limits(settings, len(prompts))]
        results = llm.generate(token_prompts, params, use_tqdm=settings.show_progress)
        return [r.outputs[0].text for r in results]
    finally:
        shutdown(llm)
        del llm


def generate_in_child(model_path: str, prompts: Sequence[list[dict]], settings: Any) -> list[str]:
    """Greedy completions from an engine in a child process: its exit frees the GPU for the next model."""
    with tempfile.TemporaryDirectory(prefix="tulu-vllm-") as tmp:
        request, response = Path(tmp) / "request.json", Path(tmp) / "response.json"
        request.write_text(json.dumps({"model": model_path, "prompts": list(prompts), "settings": asdict(settings)}))
        # the child's output (vLLM's log, progress) goes to this process's terminal
        child = subprocess.run(
            [sys.executable, "-m", "tulu_recipes.evaluation.vllm_engine", str(request), str(response)]
        )
        if child.returncode != 0 or not response.exists():
            raise RuntimeError(f"vLLM generation for {model_path} failed (exit {child.returncode}); its log is above")
        return json.loads(response.read_text())


def main(argv: list[str] | None = None) -> None:
    from tulu_recipes.evaluation.inference import GenerationSettings

    request, response = (argv if argv is not None else sys.argv[1:])[:2]
    job = json.loads(Path(request).read_text())
    settings = GenerationSettings(**job["settings"])
    texts = generate_here(job["model"], job["prompts"], settings)
    Path(response).write_text(json.dumps(texts))


if __name__ == "__main__":
    main()
