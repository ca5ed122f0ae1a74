"""Evaluation: full-ranking metrics, the Evaluator with per-user results, segments and statistics.

Typical use::

    from recaug.evaluate import Evaluator, compare, bootstrap_ci
    result = Evaluator().evaluate(model, split, item_categories=dataset)
    result.summary(); result.by_segment(); result.save("runs/x/eval")
"""

from recaug.evaluate.evaluator import Evaluator, held_out_histories
from recaug.evaluate.input_histories import WithInputHistories
from recaug.evaluate.metrics import METRICS, metric_values, metrics_table, multi_target_metrics
from recaug.evaluate.ranking import rank_scores, rank_target_sets, rank_targets, sample_negatives
from recaug.evaluate.result import EvalResult
from recaug.evaluate.segments import (
    CrossCategory,
    ExprSegment,
    HistoryLength,
    NewUsers,
    RepeatTargets,
    Segment,
    SegmentContext,
    UserColumn,
    default_segments,
)
from recaug.evaluate.stats import (
    ConfidenceInterval,
    PairedComparison,
    SeedLevelTest,
    Significance,
    bootstrap_ci,
    compare,
    joint_significance,
    mean_std,
    paired_seeds,
    paired_stats,
    paired_test,
    pool_seeds,
    seed_level_test,
    seed_lifts,
    seed_pooled,
)
from recaug.evaluate.table import evaluate_summary_table

__all__ = [
    "METRICS",
    "ConfidenceInterval",
    "CrossCategory",
    "EvalResult",
    "Evaluator",
    "ExprSegment",
    "HistoryLength",
    "NewUsers",
    "RepeatTargets",
    "PairedComparison",
    "SeedLevelTest",
    "Segment",
    "SegmentContext",
    "Significance",
    "UserColumn",
    "WithInputHistories",
    "bootstrap_ci",
    "compare",
    "default_segments",
    "evaluate_summary_table",
    "held_out_histories",
    "joint_significance",
    "mean_std",
    "metric_values",
    "metrics_table",
    "multi_target_metrics",
    "paired_seeds",
    "paired_stats",
    "paired_test",
    "pool_seeds",
    "rank_scores",
    "rank_target_sets",
    "rank_targets",
    "sample_negatives",
    "seed_level_test",
    "seed_lifts",
    "seed_pooled",
]
