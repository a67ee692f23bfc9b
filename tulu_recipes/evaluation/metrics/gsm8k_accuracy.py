"""GSM8K accuracy: the completion's final number equals the gold number (the `rewards.gsm8k` verifier)."""

import datasets
import evaluate

from tulu_recipes.evaluation.scoring import score

_DESCRIPTION = "Exact match of the final number of each prediction against the GSM8K gold number."
_KWARGS = """
Args:
    predictions: model completions (str).
    references: gold answers: a number ("18") or a full GSM8K answer ending in "#### 18".
Returns:
    accuracy: fraction of predictions the GSM8K verifier accepts.
"""


class Gsm8kAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Cobbe et al., 2021, arXiv 2110.14168",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        return {"accuracy": score("gsm8k", predictions, references).metrics["accuracy"]}
