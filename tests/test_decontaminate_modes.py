"""Decontamination modes (report / drop-instances / drop-sources), report files and the CLI script."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import datasets
import pytest

from tulu_recipes.data.decontamination import build_index, decontaminate, decontaminate_sources

REPO = Path(__file__).resolve().parents[1]
BENCH = [" ".join(f"b{i}w{j}" for j in range(12)) for i in range(100)]


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}, {"role": "assistant", "content": "Sure."}]


def clean_texts(tag: str, n: int = 50) -> list[str]:
    return [f"{tag} prompt number {i} about something unrelated to any benchmark at all" for i in range(n)]


def mixture() -> datasets.Dataset:
    """dirty: 3/100 bench prompts (contaminated); mild: 1/100 (not); clean: none."""
    rows = [("dirty", t) for t in clean_texts("dirty")] + [("dirty", "Solve: " + BENCH[i]) for i in (5, 6, 7)]
    rows += [("mild", t) for t in clean_texts("mild")] + [("mild", BENCH[9])]
    rows += [("clean", t) for t in clean_texts("clean")]
    return datasets.Dataset.from_list([{"source": s, "messages": chat(t), "id": i} for i, (s, t) in enumerate(rows)])


@pytest.fixture(scope="module")
def index():
    return build_index({"bench": BENCH, "other": ["completely different words " * 4]})


def test_report_mode_keeps_everything(index):
    ds = mixture()
    kept, report = decontaminate(ds, index, mode="report")
    assert kept is ds and len(kept) == 154
    assert report.source_sizes == {"dirty": 53, "mild": 51, "clean": 50}
    assert report.cell("dirty", "bench").overlapping == [5, 6, 7]
    assert report.cell("mild", "bench").overlapping == [9]
    assert report.flagged_rows == {"dirty": [50, 51, 52], "mild": [103], "clean": []}
    assert report.contaminated_sources == ["dirty"]


def test_drop_instances_removes_only_overlapping_rows(index):
    kept, _ = decontaminate(mixture(), index, mode="drop-instances")
    assert isinstance(kept, datasets.Dataset) and len(kept) == 150
    assert set(range(154)) - set(kept["id"]) == {50, 51, 52, 103}


def test_drop_sources_removes_contaminated_sources_whole(index):
    kept, _ = decontaminate(mixture(), index, mode="drop-sources")
    assert len(kept) == 101
    assert set(kept["source"]) == {"mild", "clean"}
    assert 103 in kept["id"]  # the mild source's single overlap stays: the source is below 2%


def test_dataset_without_source_column_is_one_source(index):
    ds = mixture().remove_columns("source")
    kept, report = decontaminate(ds, index, mode="drop-sources", source_name="mix")
    assert report.source_sizes == {"mix": 154}
    assert report.cell("mix", "bench").count == 4
    assert len(kept) == 0


def test_sources_dict_of_lists(index):
    sources = {"a": clean_texts("a") + BENCH[:3], "b": clean_texts("b") + BENCH[3:4], "c": clean_texts("c")}
    kept, report = decontaminate_sources(sources, index, mode="drop-sources")
    assert list(kept) == ["b", "c"] and kept["b"] is sources["b"]
    kept, _ = decontaminate_sources(sources, index, mode="drop-instances")
    assert [len(v) for v in kept.values()] == [50, 50, 50]
    assert report.flagged_rows["a"] == [50, 51, 52]
    with pytest.raises(ValueError):
        decontaminate_sources(sources, index, mode="drop-everything")


def test_report_files(index, tmp_path):
    _, report = decontaminate(mixture(), index, mode="report", max_examples=2)
    json_path, md_path = report.write(tmp_path)
    data = json.loads(json_path.read_text())
    assert (data["ngram"], data["overlap_threshold"], data["contamination_threshold"]) == (8, 0.5, 0.02)
    assert data["contaminated_sources"] == ["dirty"]
    cells = {(c["source"], c["eval_set"]): c for c in data["cells"]}
    assert len(cells) == 6
    dirty = cells[("dirty", "bench")]
    assert (dirty["count"], dirty["fraction"], dirty["contaminated"]) == (3, 0.03, True)
    assert [e["eval_index"] for e in dirty["examples"]] == [5, 6]
    assert dirty["examples"][0]["train_index"] == 50
    assert dirty["examples"][0]["coverage"] == 1.0
    assert dirty["examples"][0]["shared"] == [BENCH[5]]
    md = md_path.read_text()
    assert "| dirty | 53 | bench | 3/100 | 3.00% | **yes** |" in md
    assert "| mild | 51 | bench | 1/100 | 1.00% | no |" in md
    assert "| clean | 50 | other | 0/1 | 0.00% | no |" in md
    assert "### dirty x bench" in md and f"shared: `{BENCH[5]}`" in md


def test_cli_writes_report_and_kept_rows(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("decontaminate_cli", REPO / "recipes" / "decontaminate.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    train = tmp_path / "mix.jsonl"
    mixture().to_json(str(train), lines=True)
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps({"question": q}) + "\n" for q in BENCH))
    out = tmp_path / "out"
    rc = cli.main(
        ["--train", str(train), "--eval", f"bench={bench}:question", "--mode", "drop-sources", "--out-dir", str(out)]
    )
    assert rc == 0
    assert json.loads((out / "decontamination.json").read_text())["contaminated_sources"] == ["dirty"]
    assert "| dirty | 53 | bench | 3/100 | 3.00% | **yes** |" in (out / "decontamination.md").read_text()
    kept = [json.loads(line) for line in (out / "mix.jsonl").read_text().splitlines()]
    assert len(kept) == 101 and {r["source"] for r in kept} == {"mild", "clean"}
    assert "kept 101/154 rows of mix" in capsys.readouterr().out
