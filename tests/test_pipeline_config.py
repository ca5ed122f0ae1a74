"""Pipeline config: validation errors name the key path, --set overrides, every shipped config loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recaug.errors import ConfigError
from recaug.pipeline import Config, config_schema, load_config, run_pipeline, validate_config
from recaug.pipeline.config import apply_overrides, parse_override

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def write(tmp_path: Path, doc: dict, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


SIM = {"data": {"source": "simulate", "simulate": {"n_users": 50, "n_items": 30}}}


def test_defaults_and_variants_order() -> None:
    cfg = validate_config({**SIM, "variants": {"crop": {"expand": {"policy": {"op": "crop"}}}}})
    assert cfg.variant_names() == ["control", "crop"]
    assert cfg.for_variant("crop").expand.policy == {"op": "crop"}
    assert cfg.for_variant("control").expand.policy is None


def test_control_never_augments() -> None:
    cfg = validate_config({**SIM, "expand": {"policy": {"op": "mask"}}, "variants": {"aug": {}}})
    assert cfg.for_variant("control").expand.policy is None
    assert cfg.for_variant("aug").expand.policy == {"op": "mask"}


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"trian": {}}, "trian: unknown key"),
        ({"train": {"modle": "pop"}}, "train.modle: unknown key"),
        ({"train": {"params": {"epochs": 2}, "device": 3}}, "train.device"),
        ({"evaluate": {"ks": ["ten"]}}, "evaluate.ks[0]"),
        ({"evaluate": {"segments": {"new_users": 3}}}, "evaluate.segments.new_users: unknown key"),
        ({"split": {"protocol": "random"}}, "split.protocol"),
        ({"seeds": "zero"}, "seeds"),
        ({"variants": {"v": {"expnad": {}}}}, "variants.v.expnad: unknown key"),
        ({"variants": {"v": {"expand": {"n_views": "many"}}}}, "variants.v.expand.n_views"),
        ({"variants": {"v": {"expand": {"policy": {"op": "nope"}}}}}, "variants.v.expand.policy"),
        ({"preprocess": {"steps": [{"step": "kcoer"}]}}, "preprocess.steps"),
        ({"evaluate": {"primary_metric": "NDCG@7"}}, "evaluate.primary_metric"),
        ({"tune": {"ops": ["crop", "zap"]}}, "tune.ops"),
    ],
)
def test_errors_name_the_path(doc: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config({**SIM, **doc})
    assert needle in str(info.value)


def test_wrong_type_says_expected(tmp_path: Path) -> None:
    path = write(tmp_path, {**SIM, "expand": {"n_views": "two"}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text and "expand.n_views" in text and "integer" in text and "'two'" in text


def test_missing_data_file_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"data": {"path": "nowhere/Beauty.txt", "format": "s3rec"}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "data.path" in str(info.value) and "nowhere/Beauty.txt" in str(info.value)
    # relative paths are resolved against the config file's folder
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / "Beauty.txt").write_text("1 2 3\n")
    assert load_config(path).data.path == str((tmp_path / "nowhere" / "Beauty.txt").resolve())


def test_unknown_model_and_unknown_stage(tmp_path: Path) -> None:
    cfg = validate_config({**SIM, "train": {"model": "sasrek"}})
    with pytest.raises(ConfigError, match="train.model"):
        run_pipeline(cfg, tmp_path / "run")
    with pytest.raises(ConfigError, match="unknown stage"):
        run_pipeline(validate_config(SIM), tmp_path / "run2", only=["trian"])


def test_set_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, SIM)
    cfg = load_config(
        path,
        ["train.params.epochs=3", "seeds=[1, 2]", "train.model=pop", "evaluate.ks=[10]", "name=x y",
         "variants.aug.expand.policy.op=crop", "fuse.ratio=0.5", "train.params.note=__import__('os')"],
    )  # fmt: skip
    assert cfg.train.params["epochs"] == 3 and cfg.seeds == [1, 2] and cfg.train.model == "pop"
    assert cfg.evaluate.ks == [10] and cfg.name == "x y" and cfg.fuse.ratio == 0.5
    assert cfg.variants["aug"].expand == {"policy": {"op": "crop"}}
    assert cfg.train.params["note"] == "__import__('os')"  # a string, never evaluated
    with pytest.raises(ConfigError, match="KEY.PATH=VALUE"):
        parse_override("train.params.epochs")
    with pytest.raises(ConfigError, match="not a mapping"):
        apply_overrides({"seeds": [0]}, ["seeds.x=1"])
    with pytest.raises(ConfigError, match="train.params.epochs|evaluate.ks"):
        load_config(path, ["evaluate.ks=[ten]"])


def test_schema() -> None:
    schema = config_schema()
    assert set(schema["properties"]) >= {
        "data",
        "preprocess",
        "split",
        "generate",
        "expand",
        "fuse",
        "train",
        "evaluate",
        "report",
        "seeds",
        "variants",
    }
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_validate(path: Path) -> None:
    cfg = load_config(path, check_files=False)
    assert isinstance(cfg, Config)
    for name in cfg.variant_names():
        cfg.for_variant(name)


def test_expected_configs_exist() -> None:
    names = {p.name for p in CONFIGS}
    assert names >= {
        "demo.yaml",
        "beauty_p1.yaml",
        "sports_p1.yaml",
        "toys_p1.yaml",
        "beauty_expand.yaml",
        "beauty_generate.yaml",
        "taobao_events.yaml",
    }
