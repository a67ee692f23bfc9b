"""MATH accuracy with the flex matcher of the `rewards.math_flex` verifier (boxed / Minerva answer, equivalence)."""

import datasets
import evaluate

from tulu_recipes.evaluation.scoring import score

_DESCRIPTION = "Flex exact match of MATH answers: last \\boxed{} or Minerva final line, normalized or symbolic."
_KWARGS = """
Args:
    predictions: model completions (str).
    references: gold answers in LaTeX (the MATH `answer` field).
Returns:
    accuracy: fraction of predictions the MATH verifier accepts.
"""


class MathAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Hendrycks et al., 2021, arXiv 2103.03874",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        return {"accuracy": score("math", predictions, references).metrics["accuracy"]}
