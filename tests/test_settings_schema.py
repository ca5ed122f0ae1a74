"""Component settings are typed from the components' own signatures (issue 35 B.2, B.8).

``config validate`` must refuse what would otherwise fail minutes or hours later, when the
arm starts training, and every message names the key path.
"""

from __future__ import annotations

import pytest

from cli_helpers import invoke
from recaug.errors import ConfigError
from recaug.expand import from_config as augmenter_from_config
from recaug.generate import from_config as synthesizer_from_config
from recaug.models import get_model_class
from recaug.models.base import build_model
from recaug.settings import check_settings, component_fields


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.params.epochs=five", "train.params.epochs: Input should be a valid integer"),
        ("train.params.epochs=-3", "epochs must be >= 0"),
        ("train.params.epcohs=3", "train.params: unknown key 'epcohs' (did you mean 'epochs'?)"),
        ("train.params.contrastiv=cl4srec", "unknown key 'contrastiv' (did you mean 'contrastive'?)"),
        ("train.params.eval_evry=2", "did you mean 'eval_every'?"),
        ("variants.crop_mask.train.params.cl_representation=concatt", "variants.crop_mask.train.params"),
        ("variants.crop_mask.expand.policy.ops=[{op: crop, eta: abc}]", "op crop.eta: Input should be a valid number"),
    ],
)
def test_config_validate_refuses_bad_model_and_augmenter_settings(override, message):
    result = invoke("config", "validate", "builtin:demo", "--set", override)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_config_validate_accepts_the_shipped_configs():
    assert invoke("config", "validate", "builtin:demo").exit_code == 0


def test_cli_train_param_and_op_are_typed(tmp_path):
    result = invoke("train", "builtin:demo", "-m", "sasrec", "-p", "epochs=abc", "-o", tmp_path / "m")
    assert result.exit_code == 2 and "--param.epochs: Input should be a valid integer" in result.output
    assert not (tmp_path / "m").exists()


def test_defaults_come_from_the_constructor():
    """One place for each default: the schema reads the signature, it does not restate it."""
    fields = get_model_class("sasrec").settings_fields()
    assert fields["dropout"] == (float, 0.5)
    assert fields["patience"][1] == get_model_class("sasrec").train_defaults["patience"]
    assert "seed" not in fields and "device" not in fields
    crop = component_fields(type(augmenter_from_config({"op": "crop"})))
    assert crop["eta"][1] == augmenter_from_config({"op": "crop"}).eta


def test_values_are_coerced_to_their_declared_types():
    # YAML 1.1 reads 1e-3 as a string; the declared float type turns it into a number
    assert build_model("sasrec", {"lr": "1e-3"}, device="cpu").train_config.lr == 0.001
    assert synthesizer_from_config({"method": "vae", "lr": "1e-3"}).train_config.lr == 0.001
    assert check_settings({"k": "7"}, {"k": (int, 1)}, "x") == {"k": 7}
    with pytest.raises(ConfigError, match=r"x\.k: Input should be a valid integer"):
        check_settings({"k": "seven"}, {"k": (int, 1)}, "x")
    with pytest.raises(ConfigError, match="synthesizer vae: unknown key 'epoch'"):
        synthesizer_from_config({"method": "vae", "epoch": 3})


def test_synthesizer_configs_may_name_their_seed_and_device():
    synth = synthesizer_from_config({"method": "vae", "seed": 3, "device": "cpu"})
    assert synth.seed == 3 and synth.device == "cpu"


def test_early_stopping_and_evaluation_must_use_one_repeat_policy():
    mismatch = invoke("config", "validate", "builtin:demo", "--set", "evaluate.repeats=rankable")
    assert mismatch.exit_code == 2 and "train.params.valid_repeats is 'unreachable'" in mismatch.output
    both = invoke(
        "config", "validate", "builtin:demo", "--set", "evaluate.repeats=rankable",
        "--set", "train.params.valid_repeats=rankable",
    )  # fmt: skip
    assert both.exit_code == 0, both.output
