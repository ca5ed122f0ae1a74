"""``run_pipeline``: run every variant and seed of a config through the cached stages.

Stages ``data -> preprocess -> split`` are shared by every variant and seed; ``generate``,
``expand``, ``fuse``, ``train`` and ``evaluate`` run per (variant, seed) (``generate``/``expand``
only when configured, ``fuse`` only when one of them made rows); ``report`` runs once at the
end. Each stage is looked up in the cache by the hash of its config section, its seed and its
input fingerprints; a hit is reused, a miss (or a tampered entry, see
:mod:`recaug.pipeline.cache`) runs the stage. Because identical (section, inputs, seed) share one
entry, the control's and the variants' stages are never computed twice.

``only`` (stage names) stops the run after the last named stage in pipeline order; the stages it
needs are computed or reused as usual.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recaug import progress
from recaug.atomic import write_json, write_text
from recaug.errors import ConfigError
from recaug.pipeline import stages as S
from recaug.pipeline.cache import Entry, StageCache, stable_hash, stage_key
from recaug.pipeline.config import STAGES, Config, check_model, dump_config
from recaug.pipeline.errors import StageError
from recaug.pipeline.rundir import Manifest, attach_json_log, prepare_run_dir, read_json

log = logging.getLogger("recaug.pipeline")


# -- memory -----------------------------------------------------------------------------------
def _reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS counter of this process (Linux; silently ignored elsewhere)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float | None:
    """Peak resident memory since the last reset, in MiB (None when unknown)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    except Exception:
        return None


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"`` (no torch import otherwise)."""
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


# -- results ----------------------------------------------------------------------------------
@dataclass
class RunResult:
    """What a run produced: where, per-(variant, seed) stage folders and summaries, and the report."""

    run_dir: Path
    arms: dict[str, dict[str, dict[str, Any]]]
    stages: list[dict[str, Any]]
    report: Path | None = None
    seconds: float = 0.0

    @property
    def ran(self) -> list[str]:
        """``"stage[variant/seed]"`` of every stage this invocation computed."""
        return [_label(s) for s in self.stages if s["status"] != "cached"]

    @property
    def cached(self) -> list[str]:
        """``"stage[variant/seed]"`` of every stage reused from the cache."""
        return [_label(s) for s in self.stages if s["status"] == "cached"]

    def summary(self, target: str = "test") -> dict[str, dict[int, dict[str, float]]]:
        """``{variant: {seed: {metric: value}}}`` for ``target``."""
        return {
            v: {int(seed): arm["summary"].get(target, {}) for seed, arm in seeds.items()}
            for v, seeds in self.arms.items()
        }


def _label(s: dict[str, Any]) -> str:
    if s.get("variant") is None:
        return s["stage"]
    return f"{s['stage']}[{s['variant']}/{s['seed']}]"


# -- the runner -------------------------------------------------------------------------------
class Runner:
    """Executes stages against one run directory's cache and records them in the manifest."""

    def __init__(self, run_dir: Path, manifest: Manifest) -> None:
        self.run_dir = run_dir
        self.cache = StageCache(run_dir / "stages")
        self.manifest = manifest

    def stage(
        self,
        name: str,
        section: Any,
        inputs: dict[str, Entry | str],
        fn: Callable[[Path], dict[str, Any]],
        *,
        seed: int | None = None,
        variant: str | None = None,
        checkpoint: bool = False,
    ) -> Entry:
        """Reuse ``name``'s cached output for (section, inputs, seed) or compute it with ``fn(out)``.

        ``checkpoint``: call ``fn(out, checkpoint_file)`` instead, with a file that outlives a
        failed attempt (:meth:`StageCache.checkpoint_file`), for stages that train.
        """
        fps = {k: (v.fingerprint if isinstance(v, Entry) else v) for k, v in inputs.items()}
        key = stage_key(name, section, fps, seed)
        entry, status = self.cache.lookup(name, key)
        record: dict[str, Any] = {"stage": name, "variant": variant, "seed": seed, "key": key, "inputs": fps}
        if entry is not None:
            record.update(
                status="cached",
                dir=str(entry.path.relative_to(self.run_dir)),
                **_numbers(entry.marker.get("info", {})),
                seconds=entry.marker.get("seconds"),
                peak_rss_mb=entry.marker.get("peak_rss_mb"),
            )
            self._log(record)
            self.manifest.add_stage(record)
            return entry
        if status == "tampered":
            log.warning(
                "stage %s: cached output %s does not match its fingerprints (tampered); re-running",
                name,
                self.cache.folder(name, key),
                extra={"stage": name, "event": "tampered"},
            )
        tmp = self.cache.begin(name, key)
        _reset_peak_rss()
        t0 = time.perf_counter()
        try:
            tag = f"[{variant or 'shared'}{'' if seed is None else f' seed {seed}'}]"
            with progress.labelled(tag):
                info = fn(tmp, self.cache.checkpoint_file(name, key)) if checkpoint else fn(tmp)
        except BaseException as exc:
            self.cache.discard(tmp)
            killed = isinstance(exc, KeyboardInterrupt | SystemExit)
            record.update(status="killed" if killed else "failed", error=f"{type(exc).__name__}: {exc}")
            self.manifest.add_stage(record)
            if killed:
                raise
            raise StageError(name, exc, variant=variant, seed=seed) from exc
        seconds = round(time.perf_counter() - t0, 4)
        peak = _peak_rss_mb()
        entry = self.cache.commit(name, key, tmp, info, {"seconds": seconds, "peak_rss_mb": peak})
        record.update(
            status="reran_tampered" if status == "tampered" else "ran",
            dir=str(entry.path.relative_to(self.run_dir)),
            seconds=seconds,
            peak_rss_mb=peak,
            **_numbers(info),
        )
        self._log(record)
        self.manifest.add_stage(record)
        return entry

    @staticmethod
    def _log(record: dict[str, Any]) -> None:
        where = "" if record["variant"] is None else f" [{record['variant']} seed {record['seed']}]"
        secs = record.get("seconds")
        log.info(
            "stage %s%s: %s, %s -> %s rows%s", record["stage"], where, record["status"],
            record.get("rows_in"), record.get("rows_out"), "" if secs is None else f" in {secs:.2f} s",
            extra={k: record.get(k) for k in ("stage", "variant", "seed", "status", "rows_in", "rows_out",
                                              "seconds", "peak_rss_mb")},
        )  # fmt: skip

    # -- the flow ---------------------------------------------------------------------------
    def shared(self, config: Config, last: int) -> dict[str, Entry]:
        """data -> preprocess -> split (shared by every variant and seed)."""
        from pathlib import Path as _P

        out: dict[str, Entry] = {}
        data = config.data
        source_fp = "simulate" if data.source == "simulate" else _input_fingerprint(_P(str(data.path)))
        side_fp = _input_fingerprint(_P(data.item_side)) if data.item_side else ""
        data_section = config.section("data")
        data_section.pop("path", None)  # the file's contents, not its location, identify the data
        data_section.pop("item_side", None)
        out["data"] = self.stage(
            "data", data_section, {"source": source_fp, "item_side": side_fp}, lambda o: S.run_data(data, o)
        )
        if last < STAGES.index("preprocess"):
            return out
        steps = config.preprocess.steps
        out["preprocess"] = self.stage(
            "preprocess",
            config.section("preprocess"),
            {"data": out["data"]},
            lambda o: S.run_preprocess(steps, out["data"].path, o),
        )
        if last < STAGES.index("split"):
            return out
        out["split"] = self.stage(
            "split",
            config.section("split"),
            {"dataset": out["preprocess"]},
            lambda o: S.run_split(config.split, out["preprocess"].path, o),
        )
        return out

    def arm(
        self, arm: Config, variant: str, seed: int, shared: dict[str, Entry], last: int
    ) -> dict[str, Entry]:
        """generate -> expand -> fuse -> train -> evaluate for one (variant, seed)."""
        ds, sp = shared["preprocess"], shared["split"]
        out: dict[str, Entry] = {}
        kw = {"seed": seed, "variant": variant}
        if arm.generate.method is not None and last >= STAGES.index("generate"):
            out["generate"] = self.stage(
                "generate",
                arm.section("generate"),
                {"split": sp},
                lambda o, ckpt: S.run_generate(arm.generate, sp.path, ds.path, seed, o, checkpoint=ckpt),
                checkpoint=True,
                **kw,
            )
        if arm.expand.policy is not None and last >= STAGES.index("expand"):
            out["expand"] = self.stage(
                "expand",
                arm.section("expand"),
                {"split": sp},
                lambda o: S.run_expand(arm.expand, sp.path, seed, o),
                **kw,
            )
        if last < STAGES.index("fuse"):
            return out
        if out:
            gen, exp = out.get("generate"), out.get("expand")
            inputs: dict[str, Entry | str] = {
                "split": sp,
                "dataset": ds,
                "generate": gen or "",
                "expand": exp or "",
            }
            out["fuse"] = self.stage(
                "fuse", arm.section("fuse"), inputs,
                lambda o: S.run_fuse(arm.fuse, sp.path, ds.path, gen and gen.path, exp and exp.path, seed, o), **kw,
            )  # fmt: skip
            train_src, train_file = out["fuse"], out["fuse"].path / "train.parquet"
        else:
            train_src, train_file = sp, sp.path / "train.parquet"
        if last < STAGES.index("train"):
            return out
        out["train"] = self.stage(
            "train",
            arm.section("train"),
            {"train": train_src, "split": sp, "dataset": ds},
            lambda o, ckpt: S.run_train(arm.train, train_file, sp.path, ds.path, seed, o, checkpoint=ckpt),
            checkpoint=True,
            **kw,
        )
        if last < STAGES.index("evaluate"):
            return out
        model = out["train"]
        evaluate = arm.section("evaluate")
        evaluate.pop("primary_metric", None)  # reporting settings do not change the numbers
        evaluate.pop("bootstrap", None)
        evaluate.pop("confidence", None)
        fused_input = arm.evaluate.test_input == "fused" and train_src is not sp
        inputs = {"model": model, "split": sp, "dataset": ds}
        if fused_input:
            inputs["input"] = train_src
        if evaluate.get("test_input") == "real":  # the default: stage keys of earlier runs stay valid
            evaluate.pop("test_input")
        out["evaluate"] = self.stage(
            "evaluate",
            evaluate,
            inputs,
            lambda o: S.run_evaluate(
                arm.evaluate, model.path, sp.path, ds.path, seed, o, input_train=train_file if fused_input else None
            ),
            **kw,
        )
        return out


def _numbers(info: dict[str, Any]) -> dict[str, Any]:
    return {k: info[k] for k in ("rows_in", "rows_out") if k in info}


def _input_fingerprint(path: Path) -> str:
    from recaug.pipeline.cache import path_fingerprint

    if not path.exists():
        raise ConfigError(f"data.path: no such file or folder: {path}")
    return path_fingerprint(path)


def _last_stage(only: list[str] | None) -> int:
    if not only:
        return len(STAGES) - 1
    bad = [s for s in only if s not in STAGES]
    if bad:
        raise ConfigError(f"only: unknown stage(s) {bad}; stages are {list(STAGES)}")
    return max(STAGES.index(s) for s in only)


def arm_record(run_dir: Path, entries: dict[str, Entry], shared: dict[str, Entry]) -> dict[str, Any]:
    """What results.json keeps for one (variant, seed): stage folders and headline numbers."""
    rec: dict[str, Any] = {
        "stages": {k: str(e.path.relative_to(run_dir)) for k, e in {**shared, **entries}.items()}
    }
    rec["summary"] = entries["evaluate"].info.get("summary", {}) if "evaluate" in entries else {}
    rec["cost"] = {
        k: {
            "seconds": e.marker.get("seconds"),
            "peak_rss_mb": e.marker.get("peak_rss_mb"),
            "rows_in": e.info.get("rows_in"),
            "rows_out": e.info.get("rows_out"),
        }
        for k, e in entries.items()
    }
    if "fuse" in entries:
        info = entries["fuse"].info
        rec["rows_added"] = info.get("rows_added", 0)
        rec["synthetic_share"] = info.get("synthetic_share", 0.0)
        rec["quality"] = info.get("quality")
        rec["held_out_hits_dropped"] = info.get("held_out_hits_dropped", 0)
        rec["held_out_hits_kept"] = info.get("held_out_hits_kept")
    else:
        rec["rows_added"], rec["synthetic_share"], rec["quality"] = 0, 0.0, None
    return rec


def run_pipeline(
    config: Config,
    out_dir: str | Path,
    resume: bool = False,
    force: bool = False,
    only: list[str] | None = None,
) -> RunResult:
    """Run every variant and seed of ``config`` into ``out_dir`` and write the report.

    Refuses a folder holding another run (or other files) unless ``resume`` (continue it: every
    unchanged stage is reused) or ``force`` (replace it). A failing stage raises
    :class:`StageError` naming it; stages finished before it stay cached for ``resume``.
    """
    run_dir = Path(out_dir)
    last = _last_stage(only)
    if last >= STAGES.index("train"):
        check_model(config)
    prepare_run_dir(run_dir, resume=resume, force=force)
    write_text(run_dir / "config.resolved.yaml", dump_config(config))
    manifest = Manifest(run_dir / "manifest.json")
    device = resolve_device(config.train.device) if last >= STAGES.index("train") else config.train.device
    manifest.start(
        config_hash=stable_hash(config.model_dump(mode="json")),
        seeds=list(config.seeds),
        device=device,
        resume=resume,
        only=only,
    )
    runner = Runner(run_dir, manifest)
    t0 = time.perf_counter()
    arms: dict[str, dict[str, dict[str, Any]]] = {}
    report_path: Path | None = None
    with attach_json_log(run_dir / "logs.jsonl"):
        try:
            removed = runner.cache.clean_temporaries()
            if removed:
                log.info("removed %d unfinished stage folder(s) of an interrupted run", removed)
            shared = runner.shared(config, last)
            if last >= STAGES.index("generate"):
                for variant in config.variant_names():
                    arm = config.for_variant(variant)
                    arms[variant] = {}
                    for seed in config.seeds:
                        entries = runner.arm(arm, variant, seed, shared, last)
                        arms[variant][str(seed)] = arm_record(run_dir, entries, shared)
            _write_results(run_dir, config, shared, arms)
            if last >= STAGES.index("report") and config.report.enabled and arms:
                report_path = _report_stage(runner, run_dir)
        except BaseException as exc:
            killed = isinstance(exc, KeyboardInterrupt | SystemExit)  # Ctrl-C, or SIGTERM via the CLI
            manifest.finish("killed" if killed else "failed", time.perf_counter() - t0, error=str(exc) or None)
            raise
        seconds = time.perf_counter() - t0
        manifest.finish("ok", seconds)
    return RunResult(run_dir, arms, manifest.doc["stages"], report_path, seconds)


def _write_results(run_dir: Path, config: Config, shared: dict[str, Entry], arms: dict[str, Any]) -> None:
    """``results.json`` and the top-level ``protocol.json``."""
    protocol = None
    for seeds in arms.values():
        for rec in seeds.values():
            ev = rec["stages"].get("evaluate")
            if ev:
                for target in ("test", "valid"):
                    doc = read_json(run_dir / ev / target / "summary.json")
                    if doc:
                        protocol = doc["protocol"]
                        break
            if protocol:
                break
        if protocol:
            break
    if protocol is None and "split" in shared:
        protocol = read_json(shared["split"].path / "protocol.json")
    if protocol is not None:
        write_json(run_dir / "protocol.json", protocol)
    write_json(run_dir / "results.json", {
        "name": config.name,
        "control": config.control,
        "variants": {v: config.variant_description(v) for v in config.variant_names()},
        "keep_twins": config.keep_twins(),
        "seeds": list(config.seeds),
        "primary_metric": config.evaluate.primary_metric,
        "shared": {k: str(e.path.relative_to(run_dir)) for k, e in shared.items()},
        "shared_info": {k: e.info for k, e in shared.items()},
        "arms": arms,
    })  # fmt: skip


def _report_stage(runner: Runner, run_dir: Path) -> Path:
    """Write the report unless it already reflects the current ``results.json`` (and tuning results)."""
    from recaug.report import REPORT_VERSION, inputs_fingerprint, write_report

    fp = inputs_fingerprint(run_dir)
    existing = read_json(run_dir / "report.json", default={}) or {}
    html = run_dir / "report.html"
    if (
        existing.get("inputs_fingerprint") == fp
        and existing.get("report_version") == REPORT_VERSION
        and html.is_file()
    ):
        record = {"stage": "report", "variant": None, "seed": None, "status": "cached", "dir": html.name}
        runner._log(record)
        runner.manifest.add_stage(record)
        return html
    t0 = time.perf_counter()
    try:
        path = write_report(run_dir)
    except Exception as exc:
        runner.manifest.add_stage(
            {
                "stage": "report",
                "variant": None,
                "seed": None,
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
            }
        )
        raise StageError("report", exc) from exc
    record = {
        "stage": "report",
        "variant": None,
        "seed": None,
        "status": "ran",
        "seconds": round(time.perf_counter() - t0, 4),
        "dir": path.name,
    }
    runner._log(record)
    runner.manifest.add_stage(record)
    return path
