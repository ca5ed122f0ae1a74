"""``recaug doctor``: versions, accelerator, threads and optional extras, for bug reports."""

import importlib.metadata
import importlib.util
import os
import platform
from typing import Annotated, Any

import typer
from rich.table import Table

from recaug.cli._common import out, print_json, reporting_errors

_PACKAGES = ("recaug", "numpy", "polars", "pyarrow", "torch", "scipy", "pydantic", "typer", "rich")
_EXTRAS = {"optuna": "tune", "pyspark": "spark"}


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _torch_info() -> dict[str, Any]:
    if importlib.util.find_spec("torch") is None:
        return {"installed": False}
    import torch

    info: dict[str, Any] = {
        "installed": True,
        "cuda_available": bool(torch.cuda.is_available()),
        "cuda_version": torch.version.cuda,
        "threads": torch.get_num_threads(),
    }
    if info["cuda_available"]:
        info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    info["mps_available"] = bool(mps is not None and mps.is_available())
    info["device"] = "cuda" if info["cuda_available"] else "mps" if info["mps_available"] else "cpu"
    return info


def collect() -> dict[str, Any]:
    """Everything ``recaug doctor`` reports, as a JSON-ready dict."""
    import polars as pl

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in _PACKAGES},
        "torch": _torch_info(),
        "threads": {"cpu_count": os.cpu_count(), "polars": pl.thread_pool_size()},
        "extras": {f"{pkg} ({extra})": _version(pkg) for pkg, extra in _EXTRAS.items()},
    }


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
) -> None:
    """Print versions, the torch device, thread counts and which optional extras are installed."""
    with reporting_errors():
        info = collect()
        if as_json:
            print_json(info)
            return
        table = Table(title="recaug doctor", show_header=False, title_justify="left")
        table.add_column("what")
        table.add_column("value")
        table.add_row("python", f"{info['python']} ({info['platform']})")
        for package, version in info["versions"].items():
            table.add_row(package, version or "not installed")
        torch_info = info["torch"]
        if torch_info["installed"]:
            devices = ", ".join(torch_info.get("devices", [])) or "none"
            table.add_row(
                "torch device",
                f"{torch_info['device']} (cuda available: {torch_info['cuda_available']}, GPUs: {devices})",
            )
            table.add_row("torch threads", str(torch_info["threads"]))
        table.add_row("cpu count", str(info["threads"]["cpu_count"]))
        table.add_row("polars threads", str(info["threads"]["polars"]))
        for extra, version in info["extras"].items():
            table.add_row(extra, version or "not installed")
        out.print(table)
