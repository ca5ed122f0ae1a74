"""Stage commands: train, evaluate, expand, generate, fuse, quality (tiny data, fast models)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from cli_helpers import invoke

pytestmark = pytest.mark.usefixtures("restore_recaug_logger")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from recaug.data.demo import simulate_shop

    return simulate_shop(n_users=120, n_items=60, seed=2).save(tmp_path_factory.mktemp("data") / "shop")


@pytest.fixture(scope="module")
def pop_model(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "pop"
    result = invoke("train", shop, "--model", "pop", "-o", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def expanded(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exp") / "exp"
    result = invoke("expand", shop, "--op", "crop:eta=0.6", "--op", "mask", "--n-views", "2", "-o", out)
    assert result.exit_code == 0, result.output
    return out


# -- train / evaluate -------------------------------------------------------------------------
def test_train_writes_model_protocol_and_history(pop_model: Path) -> None:
    for name in ("model/config.json", "model/state.pt", "protocol.json", "history.json", "train.json"):
        assert (pop_model / name).is_file(), name
    info = json.loads((pop_model / "train.json").read_text())
    assert info["model"] == "pop" and info["split"]["protocol"] == "leave_last_out"
    assert info["rows"]["train"] > 0 and info["data"]["fingerprint"]
    assert json.loads((pop_model / "protocol.json").read_text())["split"] == "leave_last_out"


def test_train_sasrec_one_epoch_json(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "sas"
    result = invoke("train", shop, "-m", "sasrec", "--epochs", "1", "-p", "hidden=16", "-p", "n_layers=1",
                    "-p", "n_heads=1", "-p", "max_len=20", "--device", "cpu", "--split", "temporal",
                    "-o", out, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["epochs"] == 1 and doc["device"] == "cpu" and doc["split"]["protocol"] == "temporal"
    assert json.loads((out / "history.json").read_text())["history"][0]["epoch"] == 1
    ev = invoke("evaluate", shop, "--model-dir", out, "-o", tmp_path / "ev", "--json")
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.stdout)["protocol"]["split"] == "temporal"


def test_train_sasrec_contrastive_settings_from_the_command_line(shop: Path, tmp_path: Path) -> None:
    tiny = ("-p", "hidden=8", "-p", "n_layers=1", "-p", "n_heads=1", "-p", "max_len=10", "--device", "cpu")
    out = tmp_path / "cl"
    result = invoke("train", shop, "-m", "sasrec", "--epochs", "1", *tiny, "-p", "contrastive=cl4srec",
                    "-p", "cl_representation=concat", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((out / "model" / "config.json").read_text())
    text = json.dumps(config)
    assert '"cl_representation": "concat"' in text and '"contrastive": "cl4srec"' in text
    bad = invoke("train", shop, "-m", "sasrec", "--epochs", "1", *tiny, "-p", "contrastive=cl4srec",
                 "-p", "cl_representation=sum", "-o", tmp_path / "bad")  # fmt: skip
    assert bad.exit_code == 2 and "cl_representation" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_train_refuses_existing_output(shop: Path, pop_model: Path) -> None:
    result = invoke("train", shop, "--model", "pop", "-o", pop_model)
    assert result.exit_code == 2 and "--force" in result.stderr
    result = invoke("train", shop, "--model", "itemknn", "-o", pop_model, "--force")
    assert result.exit_code == 0, result.output
    assert json.loads((pop_model / "train.json").read_text())["model"] == "itemknn"


@pytest.mark.parametrize(
    "args",
    [
        ("--model", "no-such-model"),
        ("--model", "pop", "--epochs", "3"),  # pop has no epochs
        ("--model", "pop", "--split", "random"),
        ("--model", "pop", "--device", "tpu"),
        ("--model", "pop", "--param", "novalue"),
        ("--model", "pop", "--bogus"),
    ],
)
def test_train_bad_flags_are_usage_errors(shop: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    result = invoke("train", shop, *args, "-o", tmp_path / "m")
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "m").exists()


def test_train_missing_data_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = invoke("train", missing, "--model", "pop", "-o", tmp_path / "m")
    assert result.exit_code == 3
    assert str(missing) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_evaluate_writes_per_user_and_summary(shop: Path, pop_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    result = invoke("evaluate", shop, "--model-dir", pop_model, "--ks", "5,10", "-o", out)
    assert result.exit_code == 0, result.output
    assert "segment" in result.stdout and "NDCG@10" in result.stdout and "all" in result.stdout
    per_user = pl.read_parquet(out / "per_user.parquet")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_users"] == per_user.height > 0
    protocol = summary["protocol"]
    assert (
        protocol["candidates"] == "all_items" and protocol["ks"] == [5, 10] and protocol["target"] == "test"
    )
    assert protocol["split"] == "leave_last_out" and protocol["model"] in ("pop", "itemknn")
    assert "all" in summary["segments"]
    # sampled metrics are labelled as such; valid target works
    sampled = invoke("evaluate", shop, "--model-dir", pop_model, "--sampled", "20", "--target", "valid",
                     "-o", tmp_path / "ev2", "--json")  # fmt: skip
    assert sampled.exit_code == 0, sampled.output
    doc = json.loads(sampled.stdout)
    assert doc["protocol"]["candidates"] == "sampled" and doc["protocol"]["target"] == "valid"


def test_evaluate_errors(shop: Path, pop_model: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-model"
    result = invoke("evaluate", shop, "--model-dir", missing, "-o", tmp_path / "e")
    assert result.exit_code == 3 and str(missing) in result.stderr
    assert (
        invoke(
            "evaluate", shop, "--model-dir", pop_model, "--target", "train", "-o", tmp_path / "e"
        ).exit_code
        == 2
    )
    assert (
        invoke("evaluate", shop, "--model-dir", pop_model, "--ks", "ten", "-o", tmp_path / "e").exit_code == 2
    )
    assert (
        invoke("evaluate", shop, "--model-dir", pop_model, "--sampled", "0", "-o", tmp_path / "e").exit_code
        == 2
    )
    assert not (tmp_path / "e").exists()


# -- expand -------------------------------------------------------------------------------------
def test_expand_augments_only_the_training_part(expanded: Path) -> None:
    for name in ("sequences.parquet", "provenance.json", "summary.json", "split/train.parquet",
                 "split/test.parquet", "split/protocol.json"):  # fmt: skip
        assert (expanded / name).is_file(), name
    views = pl.read_parquet(expanded / "sequences.parquet")
    assert {"sequence", "user_id", "item_id", "source"} <= set(views.columns)
    assert set(views.get_column("source").unique()) <= {"crop", "mask"}
    summary = json.loads((expanded / "summary.json").read_text())
    assert summary["expand"]["policy"]["op"] == "one_of" and summary["expand"]["n_views"] == 2
    train = pl.read_parquet(expanded / "split" / "train.parquet")
    assert summary["rows_in"] == train.height
    # no held-out (user, item) pair that the user lacks in train appears in that user's views
    held = pl.concat([pl.read_parquet(expanded / "split" / f"{p}.parquet") for p in ("valid", "test")])
    leaked = (
        views.select("user_id", "item_id")
        .join(held.select("user_id", "item_id"), on=["user_id", "item_id"], how="semi")
        .join(train.select("user_id", "item_id"), on=["user_id", "item_id"], how="anti")
    )
    assert leaked.height == 0


def test_expand_policy_file_and_json(shop: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("policy: {op: reorder, beta: 0.3}\nn_views: 1\n", encoding="utf-8")
    result = invoke("expand", shop, "--policy", policy, "--seed", "3", "-o", tmp_path / "x", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["expand"]["policy"] == {"op": "reorder", "beta": 0.3} and doc["seed"] == 3


def test_expand_counts_the_views_it_drops_as_too_short(shop: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("policy: {op: crop, eta: 0.3}\nn_views: 2\nmin_length: 4\n", encoding="utf-8")
    result = invoke("expand", shop, "--policy", policy, "-o", tmp_path / "x")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "x" / "summary.json").read_text())
    train_users = pl.read_parquet(tmp_path / "x" / "split" / "train.parquet").get_column("user_id").n_unique()
    assert summary["views"] == 2 * train_users
    assert summary["views_dropped_short"] > 0
    assert summary["sequences"] + summary["views_dropped_short"] == summary["views"]
    lengths = pl.read_parquet(tmp_path / "x" / "sequences.parquet").group_by("sequence").len().get_column("len")
    assert lengths.len() == summary["sequences"] and lengths.min() >= 4
    assert f"{summary['views_dropped_short']:,} of {summary['views']:,} views" in result.output


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--op", "no-such-op"),
        ("--op", "crop:nokey=1"),
        ("--op", "crop", "--n-views", "0"),
        ("--op", "crop", "--policy", "p.yaml"),
    ],  # fmt: skip
)
def test_expand_bad_settings_are_usage_errors(shop: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    result = invoke("expand", shop, *args, "-o", tmp_path / "x")
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "x").exists()


# -- fuse / quality -----------------------------------------------------------------------------
def test_fuse_views_into_the_training_part(expanded: Path, tmp_path: Path) -> None:
    out = tmp_path / "fused"
    result = invoke("fuse", expanded / "split", expanded / "sequences.parquet", "-o", out,
                    "--ratio", "0.3", "--weight", "0.5", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["leakage_checked"] is False and doc["users_new"] > 0  # keep: no held-out data decides
    assert doc["settings"]["held_out_hits"] == "keep" and doc["diagnostics"]["held_out_hits_kept"] == 0
    fused = pl.read_parquet(out / "train.parquet")
    train = pl.read_parquet(expanded / "split" / "train.parquet")
    real = fused.filter(pl.col("source") == "real")
    assert real.height == train.height
    synthetic = fused.filter(pl.col("source") != "real")
    assert 0 < synthetic.height <= int(0.3 * train.height)
    assert set(synthetic.get_column("weight").unique()) == {0.5}
    assert (out / "fuse.json").is_file() and (out / "fuse.md").is_file()
    # refusing to overwrite
    again = invoke("fuse", expanded / "split", expanded / "sequences.parquet", "-o", out)
    assert again.exit_code == 2 and "--force" in again.stderr


def test_fuse_rejects_leaking_synthetic_rows(expanded: Path, tmp_path: Path) -> None:
    test = pl.read_parquet(expanded / "split" / "test.parquet").with_columns(pl.lit("gen").alias("source"))
    leak = tmp_path / "leak.parquet"
    test.write_parquet(leak)
    result = invoke("fuse", expanded / "split", leak, "-o", tmp_path / "f", "--held-out-hits", "error")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert not (tmp_path / "f").exists()
    # the default, keep: fused without reading held-out data, counted afterwards as a diagnostic
    result = invoke("fuse", expanded / "split", leak, "-o", tmp_path / "k", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "held_out_hit" not in doc["dropped"] and doc["leakage_checked"] is False
    # --held-out-hits drop: the guessed pairs are removed and counted, never fused
    result = invoke("fuse", expanded / "split", leak, "-o", tmp_path / "d", "--held-out-hits", "drop", "--json")
    assert result.exit_code == 0, result.output
    train = pl.read_parquet(expanded / "split" / "train.parquet")
    unseen = test.join(train, on=["user_id", "item_id"], how="anti")  # a repeat of a training item is no leak
    assert unseen.height > 0
    assert json.loads(result.stdout)["dropped"]["held_out_hit"] == unseen.height
    kept = pl.read_parquet(tmp_path / "d" / "train.parquet").filter(pl.col("source") != "real")
    assert kept.join(unseen, on=["user_id", "item_id"], how="semi").height == 0
    assert doc["diagnostics"]["held_out_hits_kept"] == unseen.height  # what keep trained on
    assert invoke("fuse", expanded / "split", leak, "-o", tmp_path / "e", "--held-out-hits", "maybe").exit_code == 2


def test_fuse_bad_inputs(expanded: Path, tmp_path: Path) -> None:
    missing = tmp_path / "none.parquet"
    result = invoke("fuse", expanded / "split", missing, "-o", tmp_path / "f")
    assert result.exit_code == 3 and str(missing) in result.stderr
    assert invoke("fuse", expanded / "split", expanded / "sequences.parquet", "--ratio", "-1",
                  "-o", tmp_path / "f").exit_code == 2  # fmt: skip
    assert invoke("fuse", expanded / "split", expanded / "sequences.parquet", "--ratio", "lots",
                  "-o", tmp_path / "f").exit_code == 2  # fmt: skip


def test_fuse_refuses_item_codes_outside_the_catalogue(expanded: Path, tmp_path: Path) -> None:
    train = pl.read_parquet(expanded / "split" / "train.parquet")
    top = max(pl.read_parquet(expanded / "split" / f"{p}.parquet").get_column("item_id").max()
              for p in ("train", "valid", "test"))  # fmt: skip
    rows = train.head(4).with_columns(pl.lit("gen").alias("source"))
    bad = tmp_path / "bad.parquet"
    rows.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit(5000)).otherwise(pl.col("item_id"))
                      .cast(pl.Int32).alias("item_id")).write_parquet(bad)  # fmt: skip
    result = invoke("fuse", expanded / "split", bad, "-o", tmp_path / "f")
    assert result.exit_code == 3 and not (tmp_path / "f").exists()
    message = result.stderr.strip()
    assert "\n" not in message and str(bad) in message and "row 2" in message
    assert "item code 5000" in message and f"2..{top}" in message
    ok = tmp_path / "ok.parquet"
    rows.with_columns(pl.lit(top).cast(pl.Int32).alias("item_id")).write_parquet(ok)  # the last code is fine
    assert invoke("fuse", expanded / "split", ok, "-o", tmp_path / "o").exit_code == 0


@pytest.mark.parametrize("dtype", [pl.Utf8, pl.Float64])
def test_fuse_wrong_dtype_is_a_one_line_error(expanded: Path, tmp_path: Path, dtype: pl.DataType) -> None:
    rows = pl.read_parquet(expanded / "split" / "train.parquet").head(4)
    rows = rows.with_columns(pl.lit("gen").alias("source"))
    bad = tmp_path / "bad.parquet"
    item = pl.col("item_id").cast(dtype)
    rows.with_columns(item + ("x" if dtype == pl.Utf8 else 0.5)).write_parquet(bad)
    result = invoke("fuse", expanded / "split", bad, "-o", tmp_path / "f")
    assert result.exit_code == 3 and not (tmp_path / "f").exists()
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message and "expression" not in message
    assert str(bad) in message and "'item_id'" in message and "integer" in message
    assert ("String" in message) if dtype == pl.Utf8 else ("Float64" in message)
    # digit strings and whole floats would be converted silently: refused too
    rows.with_columns(pl.col("item_id").cast(dtype)).write_parquet(bad)
    assert invoke("fuse", expanded / "split", bad, "-o", tmp_path / "g").exit_code == 3


def test_quality_table_and_json(shop: Path, expanded: Path, tmp_path: Path) -> None:
    result = invoke(
        "quality", shop, expanded / "sequences.parquet", "-o", tmp_path / "q", "--no-discriminator"
    )
    assert result.exit_code == 0, result.output
    assert "overall" in result.stdout and "privacy" in result.stdout
    assert (tmp_path / "q" / "quality.json").is_file() and (tmp_path / "q" / "quality.md").is_file()
    result = invoke("quality", expanded / "split", expanded / "sequences.parquet", "-o", tmp_path / "q2",
                    "--no-discriminator", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"length", "popularity", "transitions"} <= set(doc["scores"])
    assert 0.0 <= doc["privacy"] <= 1.0
    missing = tmp_path / "nope.parquet"
    result = invoke("quality", shop, missing, "-o", tmp_path / "q3")
    assert result.exit_code == 3 and str(missing) in result.stderr


# -- generate -----------------------------------------------------------------------------------
def run_vae_generate(shop: Path, out: Path, *options: str) -> tuple[dict, pl.DataFrame]:
    """``recaug generate`` with a one-epoch VAE: its JSON summary and synthetic rows."""
    result = invoke("generate", shop, "--method", "vae", "-p", "epochs=1", *options, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), pl.read_parquet(out / "synthetic.parquet")


def test_generate_samples_synthetic_users(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    doc, synthetic = run_vae_generate(shop, out, "--n-users", "20", "--seed", "1")
    assert doc["method"] == "vae" and doc["synthetic_users"] == 20
    assert synthetic.height == doc["rows_out"] > 0
    assert "real" not in set(synthetic.get_column("source").unique())
    train_users = set(pl.read_parquet(out / "split" / "train.parquet").get_column("user_id").unique())
    assert not set(synthetic.get_column("user_id").unique()) & train_users  # new users only
    fused = invoke("fuse", out / "split", out / "synthetic.parquet", "-o", tmp_path / "f", "--json")
    assert fused.exit_code == 0, fused.output
    assert json.loads(fused.stdout)["users_new"] == 20


def test_generate_complete_extends_only_short_users(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    doc, synthetic = run_vae_generate(shop, out, "--complete", "2", "--max-history", "4")
    assert doc["mode"] == "complete" and doc["complete_k"] == 2 and doc["max_history"] == 4
    train = pl.read_parquet(out / "split" / "train.parquet")
    counts = train.group_by("user_id").len()
    short = set(counts.filter(pl.col("len") <= 4).get_column("user_id"))
    assert short and set(synthetic.get_column("user_id").unique()) == short
    assert (synthetic.group_by("user_id").len().get_column("len") == 2).all()
    assert synthetic.join(train, on=["user_id", "item_id"], how="semi").height == 0  # new items only
    first = train.group_by("user_id").agg(pl.col("timestamp").min().alias("t0"))
    assert (synthetic.join(first, on="user_id")["timestamp"] < synthetic.join(first, on="user_id")["t0"]).all()
    assert invoke("generate", shop, "--method", "vae", "--complete", "2", "--n-users", "3",
                  "-o", tmp_path / "g2").exit_code == 2  # fmt: skip


def test_generate_complete_min_prob_adds_only_confident_items(shop: Path, tmp_path: Path) -> None:
    """``-p complete_min_prob=P`` reaches the synthesizer: a subset of the ungated completions."""
    _, free = run_vae_generate(shop, tmp_path / "free", "--complete", "3")
    doc, gated = run_vae_generate(shop, tmp_path / "gated", "--complete", "3", "-p", "complete_min_prob=0.02")
    assert doc["params"]["complete_min_prob"] == 0.02
    assert 0 < gated.height < free.height
    assert gated.join(free, on=["user_id", "item_id"], how="anti").height == 0


def test_generate_bad_settings(shop: Path, tmp_path: Path) -> None:
    assert invoke("generate", shop, "--method", "no-such", "-o", tmp_path / "g").exit_code == 2
    assert invoke("generate", shop, "--method", "vae", "-p", "bogus=1", "-o", tmp_path / "g").exit_code == 2
    assert invoke("generate", shop, "-o", tmp_path / "g").exit_code == 2  # --method is required
    assert not (tmp_path / "g").exists()
