"""IFEval accuracies (prompt/instruction level, strict/loose) with the `rewards.ifeval` checkers."""

import datasets
import evaluate

from tulu_recipes.evaluation.scoring import score

_DESCRIPTION = "IFEval instruction following: prompt- and instruction-level accuracy, strict and loose."
_KWARGS = """
Args:
    predictions: model responses (str).
    references: JSON strings {"instruction_id_list": [...], "kwargs": [...], "prompt": "..."} (Google's format).
Returns:
    prompt_level_strict, instruction_level_strict, prompt_level_loose, instruction_level_loose (fractions).
"""


class IfevalAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Zhou et al., 2023, arXiv 2311.07911",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        return score("ifeval", predictions, references).metrics
