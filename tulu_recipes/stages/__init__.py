"""One module per recipe stage, each with `main(argv)`: parse recipe, load data, build trainer, train, save.

Run as `tulu-recipes <stage> recipe.yaml`, `python -m tulu_recipes.stages.<stage> recipe.yaml`,
`accelerate launch -m tulu_recipes.stages.<stage> recipe.yaml`, or through the thin `recipes/<stage>.py` shims.
"""

STAGES = {
    "sft": "tulu_recipes.stages.sft",
    "dpo": "tulu_recipes.stages.dpo",
    "reward-model": "tulu_recipes.stages.reward_model",
    "rlvr": "tulu_recipes.stages.rlvr",
    "decontaminate": "tulu_recipes.stages.decontaminate",
    "synthesize": "tulu_recipes.pipelines.synthesize_stage",
    "preferences": "tulu_recipes.pipelines.preferences_stage",
    "if-preferences": "tulu_recipes.pipelines.if_preferences_stage",
    "evaluate": "tulu_recipes.stages.evaluate",
    "soup": "tulu_recipes.stages.soup",
}
