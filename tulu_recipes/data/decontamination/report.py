"""The decontamination report: training source x evaluation set, saved as JSON and as a markdown table.

A cell counts the evaluation instances that overlap at least one training instance of the source. The source
is contaminated with that evaluation set when ``count / eval set size > contamination_threshold`` (paper: 2%).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tulu_recipes.secrets import scrub_text, scrub_values


@dataclass
class Example:
    """One overlapping pair, for humans to inspect."""

    train_index: int
    eval_index: int  # index inside its evaluation set
    coverage: float  # covered tokens / eval instance tokens
    eval_text: str
    shared: list[str]  # covered runs of eval tokens (normalized tokens joined by spaces)


@dataclass
class Cell:
    """Overlap of one training source with one evaluation set."""

    source: str
    eval_set: str
    train_size: int
    eval_size: int
    overlapping: list[int]  # indices (inside the eval set) of overlapping eval instances
    contaminated: bool
    examples: list[Example] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.overlapping)

    @property
    def fraction(self) -> float:
        return self.count / self.eval_size if self.eval_size else 0.0


@dataclass
class Report:
    """All cells plus, per source, the training rows that overlap any evaluation instance."""

    ngram: int
    overlap_threshold: float
    contamination_threshold: float
    source_sizes: dict[str, int]
    eval_sizes: dict[str, int]
    cells: list[Cell]
    flagged_rows: dict[str, list[int]]  # source -> row indices (in the input given for it) that overlap

    @property
    def contaminated_sources(self) -> list[str]:
        """Sources contaminated with at least one evaluation set, in input order."""
        bad = {c.source for c in self.cells if c.contaminated}
        return [s for s in self.source_sizes if s in bad]

    def cell(self, source: str, eval_set: str) -> Cell:
        for c in self.cells:
            if c.source == source and c.eval_set == eval_set:
                return c
        raise KeyError((source, eval_set))

    def to_dict(self) -> dict:
        cells = []
        for c in self.cells:
            d = asdict(c)
            d.update(count=c.count, fraction=c.fraction)
            cells.append(d)
        return {
            "ngram": self.ngram,
            "overlap_threshold": self.overlap_threshold,
            "contamination_threshold": self.contamination_threshold,
            "source_sizes": self.source_sizes,
            "eval_sizes": self.eval_sizes,
            "contaminated_sources": self.contaminated_sources,
            "cells": cells,
            "flagged_rows": self.flagged_rows,
        }

    def to_markdown(self, max_examples: int = 3) -> str:
        lines = [
            f"# Decontamination report ({self.ngram}-grams)",
            "",
            f"An eval instance overlaps a training instance when > {self.overlap_threshold:.0%} of its "
            f"tokens are covered by shared {self.ngram}-grams; a source is contaminated when > "
            f"{self.contamination_threshold:.0%} of an eval set overlaps.",
            "",
            "| training source | rows | eval set | overlapping | % of eval set | contaminated |",
            "| --- | ---: | --- | ---: | ---: | --- |",
        ]
        for c in self.cells:
            lines.append(
                f"| {c.source} | {c.train_size} | {c.eval_set} | {c.count}/{c.eval_size} | "
                f"{100 * c.fraction:.2f}% | {'**yes**' if c.contaminated else 'no'} |"
            )
        shown = [c for c in self.cells if c.examples]
        if shown:
            lines += ["", "## Example matches", ""]
        for c in shown:
            lines.append(f"### {c.source} x {c.eval_set}")
            lines.append("")
            for ex in c.examples[:max_examples]:
                eval_text = " ".join(ex.eval_text.split())
                lines.append(
                    f"- train row {ex.train_index} / eval {ex.eval_index} ({ex.coverage:.0%} covered): "
                    f"eval text `{_clip(eval_text)}`; shared: `{_clip(' … '.join(ex.shared))}`"
                )
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def write(self, out_dir: str | Path, stem: str = "decontamination") -> tuple[Path, Path]:
        """Write ``<stem>.json`` and ``<stem>.md`` under ``out_dir``; return both paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
        text = json.dumps(scrub_values(self.to_dict()), indent=1, ensure_ascii=False)
        json_path.write_text(text + "\n", encoding="utf-8")
        md_path.write_text(scrub_text(self.to_markdown()), encoding="utf-8")
        return json_path, md_path


def _clip(text: str, limit: int = 200) -> str:
    text = text.replace("`", "'").replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"
