"""The pipeline a user runs: one YAML config -> cached, resumable stages -> a run directory -> a report.

>>> config = load_config("configs/demo.yaml", ["train.params.epochs=2"])
>>> result = run_pipeline(config, "runs/demo")             # resume=True continues a run
>>> result.report                                            # runs/demo/report.html

``tune(config, trials, out_dir)`` searches the augmentation policy on the validation metric
(needs the ``tune`` extra: optuna). ``config_schema()`` is the JSON schema of the config file.
"""

from recaug.pipeline.config import Config, config_schema, load_config, validate_config
from recaug.pipeline.errors import StageError
from recaug.pipeline.registry import REGISTRY, STAGES
from recaug.pipeline.runner import RunResult, run_pipeline
from recaug.pipeline.tune import TuneResult, tune

__all__ = [
    "REGISTRY",
    "STAGES",
    "Config",
    "RunResult",
    "StageError",
    "TuneResult",
    "config_schema",
    "load_config",
    "run_pipeline",
    "tune",
    "validate_config",
]
