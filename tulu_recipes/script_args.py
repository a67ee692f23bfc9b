"""Script arguments shared by every stage: where the data comes from and how it is prepared.

These extend TRL's `ScriptArguments` (which keeps `dataset_name` and friends for a single Hub dataset) with
the Tülu mixer, the chat template and the paper's filters; the trainer fields stay in TRL's config classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import ScriptArguments


@dataclass
class TuluScriptArguments(ScriptArguments):
    dataset_mixer: list[dict] | None = field(
        default=None,
        metadata={
            "help": "Sources to mix, each `{path: <Hub id or file>, fraction: F}` or `{path: ..., count: N}` "
            "(fraction of that source, > 1.0 upsamples; count = rows), plus optional name, split, data_files, "
            "revision, label, filters. Overrides `dataset_name`."
        },
    )
    test_size: float | None = field(
        default=None,
        metadata={"help": "Hold out this fraction (< 1) or number of rows of the mixture as an eval split."},
    )
    chat_template: str = field(
        default="tulu",
        metadata={
            "help": "Chat template: a bundled name (`tulu`, `tulu_eos`, `smollm2`), `model` (keep the model's "
            "own; SFT uses its marked training version where one is known), or a path to a .jinja file."
        },
    )
    drop_empty_turns: bool = field(
        default=True, metadata={"help": "Drop conversations with an empty or missing message (paper §3.1)."}
    )
    drop_identity_mentions: bool = field(
        default=True,
        metadata={"help": "Drop conversations whose assistant turns name another model or lab (paper §3.1)."},
    )
    identity_keywords: list[str] | None = field(
        default=None, metadata={"help": "Replace the default identity keyword list (OpenAI, ChatGPT, GPT-4, ...)."}
    )
    decontaminate_against: list[str] | None = field(
        default=None,
        metadata={
            "help": "Evaluation sets (names like gsm8k, math, ifeval, or files) to check the training sources "
            "against with the paper's 8-gram rule before training; a contaminated source stops the run."
        },
    )
    allow_contaminated: bool = field(
        default=False,
        metadata={"help": "Only report contaminated sources found by `decontaminate_against`, do not stop."},
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Replace a finished model in `output_dir`. Without it (or `resume_from_checkpoint`), a run "
            "aimed at a finished model's folder stops before loading anything."
        },
    )
    max_nonfinite_steps: int = field(
        default=5,
        metadata={
            "help": "Skip optimizer steps with a non-finite loss or gradient; stop after this many in a row "
            "(0: never stop)."
        },
    )
    torch_threads: int | None = field(
        default=None,
        metadata={
            "help": "torch CPU threads (torch.set_num_threads) for the run; 0: the idle cores at start (cores minus "
            "the 1-minute load average, at least 1); null keeps torch's default (all cores)."
        },
    )
    require_cpu_bf16: bool = field(
        default=False,
        metadata={
            "help": "With `bf16: true` on a CPU without bf16 instructions (avx512_bf16/amx_bf16), stop with an "
            "error instead of warning and training in fp32."
        },
    )

    def mixture_sources(self) -> list[dict]:
        """The sources to mix: `dataset_mixer`, or `dataset_name` as a single full source."""
        if self.dataset_mixer:
            return [dict(s) for s in self.dataset_mixer]
        if self.dataset_name:
            source = {"path": self.dataset_name, "split": self.dataset_train_split}
            if self.dataset_config:
                source["name"] = self.dataset_config
            return [source]
        return []
