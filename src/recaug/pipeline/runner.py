"""``run_pipeline``: run every variant and seed of a config through the cached stages.

The stages and their order come from :mod:`recaug.pipeline.registry`: the ``shared`` ones
(``data -> preprocess -> split``) run once for every variant and seed; with a ``search`` section
the product-search stages follow (``search_data`` once, then ``search_augment -> search`` per seed
and search arm; their results go to ``results.json`` under ``search``); the ``arm`` ones
(``generate``, ``expand``, ``fuse``, ``train``, ``evaluate``) run per (variant, seed) when they
apply (``generate``/``expand`` only when configured, ``fuse`` only when one of them made rows);
the ``final`` one (``report``) runs once at the end. Each stage is looked up in the cache by the
hash of what its registry record names (its settings, its seed and its input fingerprints); a hit
is reused, a miss (or a tampered entry, see :mod:`recaug.pipeline.cache`) runs the stage. Because
identical (settings, inputs, seed) share one entry, the control's and the variants' stages are
never computed twice.

``only`` (stage names) stops the run after the last named stage in pipeline order; the stages it
needs are computed or reused as usual. The search stages feed only themselves and the report, so
with ``only`` they run when it names one of them or the report (``--only train`` trains the
recommendation arms without the search task; ``--only search`` runs the search task alone).
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
from recaug.pipeline import registry
from recaug.pipeline.cache import Entry, StageCache, stable_hash, stage_key
from recaug.pipeline.config import Config, check_model, check_search_models, dump_config
from recaug.pipeline.errors import StageError
from recaug.pipeline.registry import Context, Stage
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
    #: the product-search results (``results.json``'s ``search``), None without a ``search`` section
    search: dict[str, Any] | None = None

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
    ) -> Entry:
        """Reuse ``name``'s cached output for (section, inputs, seed) or compute it with ``fn(out)``."""
        fps = _fingerprints(inputs)
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
                info = fn(tmp)
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

    def run_stage(self, stage: Stage, ctx: Context) -> Entry:
        """Run (or reuse) one registered ``shared``/``arm`` stage for ``ctx`` and record it in ``ctx.done``."""
        assert stage.key is not None, f"stage {stage.name} has no cache key"
        section, inputs = stage.key(ctx)

        def compute(out: Path) -> dict[str, Any]:
            checkpoint = None if stage.checkpoint is None else self._checkpoint(stage, ctx, section, inputs)
            return stage.run(ctx, out, checkpoint)

        entry = self.stage(stage.name, section, inputs, compute, seed=ctx.seed, variant=ctx.variant)
        ctx.done[stage.name] = entry
        return entry

    def _checkpoint(self, stage: Stage, ctx: Context, section: Any, inputs: dict[str, Entry | str]) -> Path:
        """The checkpoint file of a training stage: it outlives a failed attempt, so a resumed run
        continues the fit from its last epoch. It is keyed by what ``stage.checkpoint`` keeps of
        the settings (train: all but the epoch cap, so a raised cap continues the earlier fit)."""
        assert stage.checkpoint is not None
        fps = _fingerprints(inputs)
        path = self.cache.checkpoint_file(stage.name, stage_key(stage.name, stage.checkpoint(ctx, section), fps, ctx.seed))
        # a fit killed before checkpoints were keyed so left its file under the full stage key
        old = self.cache.checkpoint_file(stage.name, stage_key(stage.name, section, fps, ctx.seed))
        if old != path and old.is_file() and not path.exists():
            old.replace(path)
        return path

    def final_stage(self, stage: Stage, ctx: Context) -> Path:
        """Run a ``final`` stage (the report): it tells itself whether its output is up to date."""
        t0 = time.perf_counter()
        try:
            info = stage.run(ctx, self.run_dir, None)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.manifest.add_stage({"stage": stage.name, "variant": None, "seed": None, "status": "failed",
                                     "error": error})  # fmt: skip
            raise StageError(stage.name, exc) from exc
        path = Path(info["path"])
        record: dict[str, Any] = {"stage": stage.name, "variant": None, "seed": None}
        if info["cached"]:
            record.update(status="cached", dir=path.name)
        else:
            record.update(status="ran", seconds=round(time.perf_counter() - t0, 4), dir=path.name)
        self._log(record)
        self.manifest.add_stage(record)
        return path

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
        """The ``shared`` stages up to index ``last`` (data -> preprocess -> split), once for every arm."""
        ctx = Context(config)
        for stage in registry.up_to(last, "shared"):
            if stage.applies(ctx):
                self.run_stage(stage, ctx)
        return ctx.done

    def search(self, config: Config, last: int, shared: dict[str, Entry]) -> dict[str, Any] | None:
        """The search stages up to index ``last``: ``search`` ones once, then the ``search_arm`` ones
        per (seed, search arm); what ``results.json`` keeps of them (None without a search section)."""
        from recaug.pipeline.search_stages import CONTROL, search_arms

        search = config.search
        once = registry.up_to(last, "search")
        if search is None or not once:
            return None
        ctx = Context(config, done=dict(shared))
        own: dict[str, Entry] = {}
        for stage in once:
            if stage.applies(ctx):
                own[stage.name] = self.run_stage(stage, ctx)
        arms = search_arms(search)
        reference = next((a.model for a in arms if a.reference), None)
        doc: dict[str, Any] = {
            "stages": {k: str(e.path.relative_to(self.run_dir)) for k, e in own.items()},
            "info": {k: e.info for k, e in own.items()},
            "control": CONTROL,
            "augmented": None if search.augment is None else search.augment.name,
            "reference": reference,
            "models": list(dict.fromkeys(a.model for a in arms)),
            "model_names": {a.model: a.name for a in arms},
            "arms": {},
        }
        per_arm = registry.up_to(last, "search_arm")
        if not per_arm:
            return doc
        for seed in config.seeds:
            for arm in arms:
                actx = Context(config, seed, arm.label, done={**shared, **own}, search_arm=arm)
                entries: dict[str, Entry] = {}
                for stage in per_arm:
                    if stage.applies(actx):
                        entries[stage.name] = self.run_stage(stage, actx)
                doc["arms"].setdefault(arm.label, {})[str(seed)] = _search_record(self.run_dir, entries)
        return doc

    def arm(
        self, arm: Config, variant: str, seed: int, shared: dict[str, Entry], last: int
    ) -> dict[str, Entry]:
        """The ``arm`` stages up to index ``last`` (generate -> ... -> evaluate) for one (variant, seed)."""
        ctx = Context(arm, seed, variant, done=dict(shared))
        out: dict[str, Entry] = {}
        for stage in registry.up_to(last, "arm"):
            if stage.applies(ctx):
                out[stage.name] = self.run_stage(stage, ctx)
        return out

    def final(self, config: Config, last: int) -> Path | None:
        """The ``final`` stages up to index ``last`` (the report); the path the last one wrote."""
        ctx = Context(config)
        path = None
        for stage in registry.up_to(last, "final"):
            if stage.applies(ctx):
                path = self.final_stage(stage, ctx)
        return path


def _fingerprints(inputs: dict[str, Entry | str]) -> dict[str, str]:
    """Input name -> fingerprint (an upstream entry's output fingerprint, or the string given)."""
    return {k: (v.fingerprint if isinstance(v, Entry) else v) for k, v in inputs.items()}


def _numbers(info: dict[str, Any]) -> dict[str, Any]:
    return {k: info[k] for k in ("rows_in", "rows_out") if k in info}


def _search_record(run_dir: Path, entries: dict[str, Entry]) -> dict[str, Any]:
    """What results.json keeps for one (search arm, seed): stage folders, test metrics, costs."""
    fit = entries["search"].info if "search" in entries else {}
    aug = entries["search_augment"].info if "search_augment" in entries else {}
    return {
        "stages": {k: str(e.path.relative_to(run_dir)) for k, e in entries.items()},
        "summary": fit.get("summary", {}),
        "epochs": fit.get("epochs"),
        "best_epoch": fit.get("best_epoch"),
        "rows_added": aug.get("rows_added", 0),
        "augmented_share": aug.get("augmented_share", 0.0),
        "cost": {
            k: {"seconds": e.marker.get("seconds"), "peak_rss_mb": e.marker.get("peak_rss_mb"),
                "rows_in": e.info.get("rows_in"), "rows_out": e.info.get("rows_out")}
            for k, e in entries.items()
        },  # fmt: skip
    }


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
    last = registry.last_stage(only)
    search_last = registry.search_last_stage(only)
    if last >= registry.index("train"):
        check_model(config)  # the search models too
    elif config.search is not None and search_last >= registry.index("search"):
        check_search_models(config)
    prepare_run_dir(run_dir, resume=resume, force=force)
    write_text(run_dir / "config.resolved.yaml", dump_config(config))
    manifest = Manifest(run_dir / "manifest.json")
    device = resolve_device(config.train.device) if last >= registry.index("train") else config.train.device
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
            search = runner.search(config, search_last, shared)
            if registry.up_to(last, "arm"):
                for variant in config.variant_names():
                    arm = config.for_variant(variant)
                    arms[variant] = {}
                    for seed in config.seeds:
                        entries = runner.arm(arm, variant, seed, shared, last)
                        arms[variant][str(seed)] = arm_record(run_dir, entries, shared)
            _write_results(run_dir, config, shared, arms, search)
            if arms or (search and search["arms"]):  # the report (a final stage) reads the results
                report_path = runner.final(config, last)
        except BaseException as exc:
            killed = isinstance(exc, KeyboardInterrupt | SystemExit)  # Ctrl-C, or SIGTERM via the CLI
            manifest.finish("killed" if killed else "failed", time.perf_counter() - t0, error=str(exc) or None)
            raise
        seconds = time.perf_counter() - t0
        manifest.finish("ok", seconds)
    return RunResult(run_dir, arms, manifest.doc["stages"], report_path, seconds, search)


def _write_results(
    run_dir: Path, config: Config, shared: dict[str, Entry], arms: dict[str, Any], search: dict[str, Any] | None = None
) -> None:
    """``results.json`` (with ``search`` when the config has a search section) and ``protocol.json``."""
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
    doc: dict[str, Any] = {
        "name": config.name,
        "control": config.control,
        "variants": {v: config.variant_description(v) for v in config.variant_names()},
        "keep_twins": config.keep_twins(),
        "seeds": list(config.seeds),
        "primary_metric": config.evaluate.primary_metric,
        "shared": {k: str(e.path.relative_to(run_dir)) for k, e in shared.items()},
        "shared_info": {k: e.info for k, e in shared.items()},
        "arms": arms,
    }  # fmt: skip
    if search is not None:
        doc["search"] = search
    write_json(run_dir / "results.json", doc)
