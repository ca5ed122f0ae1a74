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
