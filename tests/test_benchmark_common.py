"""benchmarks/_common.py: the flags every benchmark shares."""

from __future__ import annotations

import logging

import pytest

from conftest import load_benchmark

common = load_benchmark("_common")


@pytest.fixture
def recaug_logger():
    from recaug.cli._common import state

    logger = logging.getLogger("recaug")
    handlers, level, flags = list(logger.handlers), logger.level, (state.verbose, state.quiet)
    yield logger
    logger.handlers[:], logger.level = handlers, level
    state.verbose, state.quiet = flags


def test_log_epochs_sends_library_info_lines_to_stderr_once(recaug_logger, capsys):
    args = common.parser("x", default_out="x.json").parse_args(["--log-epochs", "--log-epochs"])
    assert args.log_epochs is True
    logging.getLogger("recaug.models.training").info("sasrec epoch 3: loss 0.5")
    err = capsys.readouterr().err
    assert err.count("sasrec epoch 3: loss 0.5") == 1  # one handler, however often the flag is given


def test_without_log_epochs_nothing_is_configured(recaug_logger):
    before = list(recaug_logger.handlers)
    args = common.parser("x", default_out="x.json").parse_args([])
    assert args.log_epochs is False
    assert recaug_logger.handlers == before


def test_epoch_seconds_sums_every_epoch_a_resumed_fit_restored():
    # A history restored from a checkpoint holds the earlier legs' epochs too; rows without
    # "seconds" (e.g. a validation-only entry) are not epochs.
    history = [{"epoch": 1, "seconds": 2.0}, {"epoch": 2, "seconds": 4.0}, {"note": "x"}, {"epoch": 3, "seconds": 3.0}]
    timing = common.epoch_seconds(history)
    assert timing == {"epochs_run": 3, "per_epoch": 3.0, "epochs_total": 9.0}
    assert common.epoch_seconds(None) == {"epochs_run": 0, "per_epoch": None, "epochs_total": None}
    assert common.epoch_seconds([]) == common.epoch_seconds(None)
