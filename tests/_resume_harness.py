"""Run a stage in this process and SIGKILL it at a chosen step, to test exact resume from the outside.

    python tests/_resume_harness.py MODULE KILL_STEP KILL_WHERE RECIPE [--key value ...]

KILL_WHERE is `step` (right after optimizer step KILL_STEP) or `save` (in the middle of writing checkpoint
KILL_STEP: weights written, optimizer/RNG/trainer state not). KILL_STEP -1 runs to the end. Test-only: the hook is
patched into transformers' Trainer here, nothing in the package knows about it.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

from transformers import Trainer, TrainerCallback


def main() -> None:
    module, kill_step, where, *argv = sys.argv[1:]
    kill_step = int(kill_step)

    class KillAtStep(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if where == "step" and state.global_step == kill_step:
                os.kill(os.getpid(), signal.SIGKILL)

    original_init = Trainer.__init__
    original_save = Trainer._save_optimizer_and_scheduler

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.add_callback(KillAtStep())

    def save(self, output_dir):
        if where == "save" and self.state.global_step == kill_step:
            os.kill(os.getpid(), signal.SIGKILL)
        return original_save(self, output_dir)

    Trainer.__init__ = init
    Trainer._save_optimizer_and_scheduler = save
    importlib.import_module(module).main(argv)


if __name__ == "__main__":
    main()
