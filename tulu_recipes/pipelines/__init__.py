"""The data stages (decontaminate, synthesize, preferences, if-preferences) as datatrove pipelines.

What datatrove does, and we do not re-implement: the executors (``LocalPipelineExecutor``,
``SlurmPipelineExecutor``, ``RayPipelineExecutor``), running a task per rank, per-task logs and stats, the
``completions/<rank>`` markers that make a re-run skip finished tasks, and the ``depends=`` chaining that runs the
merge only after every task finished.

What is ours, and why:

- ``executors``: one recipe key set (``executor``, ``tasks``, ``workers``, ``slurm_*``, ``ray_address``) checked
  before any work, and the run folder named by a fingerprint of the inputs, so a changed recipe never meets the
  completion markers of another (datatrove trusts whatever markers its logging folder holds);
- ``shards``: the row range of a task. datatrove's readers shard by file (or by ``datasets``' strided shard) and
  yield one ``Document`` per row; our stages keep their own loaders (Arrow slices for decontamination, the
  generation stages' file readers), so a task takes a contiguous row range of what those loaders return;
- ``decontaminate``: the 8-gram matcher stays ``tulu_recipes.data.decontamination`` (vectorized numpy over
  Arrow slices, faster than a per-``Document`` step), run once per task on its rows against the evaluation index
  built once by the driver; the merge writes the same report through the embedded stage's own code;
- ``generation``: each task calls the stage's public entry point (``synthesize``, ``generate_preferences``,
  ``generate_if_preferences``) on its rows, with a per-task item cache; the merge orders rows by item order;
- ``inference``: with ``inference_server`` set, a task's model calls go first through datatrove's
  ``InferenceRunner`` (a vLLM or SGLang server per task), filling that item cache; the stage's prompts, item ids,
  judging and pairing stay ours.

The embedded path (``executor: embedded``, the default) is the stages' code as before.
"""
