"""``recaug.evaluate`` and ``recaug.report`` stay light: no torch (DESIGN: Spark executors import them).

Each check runs in a fresh interpreter, since this test session has imported torch long ago.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_fresh(code: str) -> str:
    """Run ``code`` in a new interpreter and return its stdout (fails the test on a non-zero exit)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_evaluate_and_report_does_not_import_torch() -> None:
    out = run_fresh(
        """
        import sys
        import recaug.evaluate, recaug.report
        import recaug.evaluate.ranking, recaug.evaluate.input_histories
        import recaug.report.collect, recaug.report.figures, recaug.report.render
        print("torch" in sys.modules)
        """
    )
    assert out == "False", "importing/evaluating pulled in torch"


def test_evaluating_numpy_scores_does_not_import_torch() -> None:
    """A whole Evaluator pass (full and sampled ranking, segments, metrics) on NumPy scores."""
    out = run_fresh(
        """
        import sys
        import numpy as np
        from recaug.data import Interactions
        from recaug.evaluate import Evaluator, WithInputHistories, held_out_histories
        from recaug.split import LeaveLastOut

        rng = np.random.default_rng(0)
        users = np.repeat(np.arange(30), 6)
        split = LeaveLastOut().split(Interactions.from_arrays(users, rng.integers(2, 20, size=len(users))))
        table = rng.normal(size=(30, 20)).astype(np.float32)

        class NumpyModel:
            def score(self, histories):
                return table[histories.users]

        model = WithInputHistories(NumpyModel(), held_out_histories(split, "valid")[0])
        full = Evaluator(chunk_size=7).evaluate(model, split)
        sampled = Evaluator(candidates=5).evaluate(NumpyModel(), split)
        assert full.n_users == sampled.n_users == 30
        print("torch" in sys.modules)
        """
    )
    assert out == "False", "importing/evaluating pulled in torch"
