"""The evaluation report: runs the chosen metrics, writes report.json and report.md.

report.json has one key per metric (value, spread, sample sizes, notes, details) and
an "evaluation" key describing the inputs and timings; report.md shows the same with
the figures, readable on its own.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from crackgan import plots
from crackgan.config import ConfigError, EvaluateConfig
from crackgan.fileio import atomic_write_bytes, atomic_write_json
from crackgan.metrics import (
    EvaluationInputs, Metric, MetricSkipped, select_metrics, skipped_json)
from crackgan.metrics.fid import UNBIASED_MIN_IMAGES
from crackgan.metrics.loading import read_cache, read_generated, reference_label

LOGGER = logging.getLogger(__name__)
GRID_IMAGES = 64
# Figures this module and the metrics write; stale ones are removed before a run.
KNOWN_FIGURES = ("real_grid.png", "generated_grid.png", "nearest.png",
                 "downstream.png")
QUESTIONS = {"realistic": "Realistic?", "new": "New?", "useful": "Useful?"}


def check_output_folder(config: EvaluateConfig) -> Path:
    """The report folder, refusing one that is (inside) an input folder."""
    if Path(config.out).exists() and not Path(config.out).is_dir():
        raise ConfigError(f"--out: {config.out} is a file, expected a folder")
    out = Path(config.out).resolve()
    for flag, folder in (("--data", config.data), ("--generated", config.generated)):
        if out == Path(folder).resolve() or Path(folder).resolve() in out.parents:
            raise ConfigError(f"--out: {config.out} is inside {flag} {folder}; "
                              "nothing is written into an input folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def load_inputs(config: EvaluateConfig, out: Path) -> tuple[EvaluationInputs, dict]:
    """Read both folders and pick the real reference set."""
    cache = read_cache(config.data)
    resolution = cache["images"].shape[1]
    generated, info = read_generated(config.generated, resolution)
    label = reference_label(config.label, info, cache["label_names"])
    if label is None:
        real = cache["images"]
    else:
        real = cache["images"][cache["labels"] == cache["label_names"].index(label)]
    if len(real) < 2:
        raise ConfigError(f"--label: {label!r} has {len(real)} images in "
                          f"{config.data}; expected at least 2")
    inputs = EvaluationInputs(
        real=real, generated=generated, label=label,
        generated_label=info.get("label") or config.label, all_images=cache["images"],
        all_labels=cache["labels"], label_names=cache["label_names"],
        sources=cache["sources"], out_dir=out, seed=config.seed,
        classifier_steps=config.classifier_steps,
        classifier_repeats=config.classifier_repeats,
        feature_batch_size=config.feature_batch_size)
    return inputs, info


def run_metrics(metrics: list[Metric], inputs: EvaluationInputs) -> dict[str, Any]:
    """Each metric's report.json entry, with its wall time; skips are recorded."""
    results: dict[str, Any] = {}
    for metric in metrics:
        LOGGER.info("Computing %s ...", metric.name)
        started = time.monotonic()
        try:
            entry = metric.compute(inputs).to_json()
        except MetricSkipped as reason:
            LOGGER.warning("Skipped %s: %s", metric.name, reason)
            entry = skipped_json(str(reason))
        entry["seconds"] = round(time.monotonic() - started, 1)
        if entry["status"] == "ok":
            LOGGER.info("%s = %s (%.1f s)", metric.name, format_number(entry["value"]),
                        entry["seconds"])
        results[metric.name] = entry
    return results


def build_report(config: EvaluateConfig) -> dict[str, Any]:
    """Run the whole evaluation and write every output; returns report.json's data."""
    started = time.monotonic()
    metrics = select_metrics(config.metrics)
    out = check_output_folder(config)
    inputs, info = load_inputs(config, out)
    for name in KNOWN_FIGURES:
        (out / name).unlink(missing_ok=True)
    LOGGER.info("Real reference set: %d images (label %s); generated: %d images",
                len(inputs.real), inputs.label, len(inputs.generated))

    # Image grids, the metrics, then the two report files.
    rng = np.random.default_rng(config.seed)
    for name, images in (("real", inputs.real), ("generated", inputs.generated)):
        shown = images[np.sort(rng.choice(len(images), min(GRID_IMAGES, len(images)),
                                          replace=False))]
        plots.save_image_grid(shown, out / f"{name}_grid.png", columns=8,
                              title=f"{name} ({len(images)} images)")
    report = run_metrics(metrics, inputs)
    seconds = time.monotonic() - started
    report["evaluation"] = describe_run(config, inputs, info, seconds)
    atomic_write_json(out / "report.json", report)
    atomic_write_bytes(out / "report.md", render_markdown(report).encode("utf-8"))
    return report


def describe_run(config: EvaluateConfig, inputs: EvaluationInputs, info: dict,
                 seconds: float) -> dict[str, Any]:
    """The inputs, versions and timing of this evaluation."""
    try:
        torch_version: str | None = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    return {
        "data": config.data, "generated": config.generated, "label": inputs.label,
        "generated_label": inputs.generated_label, "real_count": len(inputs.real),
        "generated_count": len(inputs.generated), "cache_count": len(inputs.all_images),
        "resolution": int(inputs.real.shape[1]), "seed": config.seed,
        "checkpoint_step": info.get("checkpoint_step"),
        "classifier_steps": config.classifier_steps,
        "classifier_repeats": config.classifier_repeats, "torch": torch_version,
        "total_seconds": round(seconds, 1),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
    }


def format_number(value: float | None) -> str:
    """Four significant digits, or a dash for a missing value."""
    return "-" if value is None else f"{value:.4g}"


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: inputs, grids, the metric table, notes, figures and timings."""
    run = report["evaluation"]
    lines = [
        "# Evaluation report", "",
        f"Generated images from `{run['generated']}` ({run['generated_count']}, "
        f"checkpoint step {run['checkpoint_step']}) against the real images of label "
        f"`{run['label'] or 'all'}` in `{run['data']}` ({run['real_count']} of "
        f"{run['cache_count']}), at {run['resolution']}x{run['resolution']}. "
        f"Seed {run['seed']}; written {run['created']} in {run['total_seconds']} s.",
        "", "| real | generated |", "|---|---|",
        "| ![real](real_grid.png) | ![generated](generated_grid.png) |", "",
    ]
    lines += metric_table(report) + fid_note(report)
    lines += section_new(report) + section_useful(report) + notes_section(report)
    return "\n".join(lines) + "\n"


def metric_table(report: dict[str, Any]) -> list[str]:
    """One row per metric: question, value, spread, sample sizes, meaning."""
    from crackgan.metrics import REGISTRY

    lines = ["## Metrics", "",
             "| question | metric | value | spread | samples | what it means |",
             "|---|---|---|---|---|---|"]
    for name, entry in report.items():
        if name not in REGISTRY:
            continue
        metric = REGISTRY[name]
        if entry["status"] != "ok":
            lines.append(f"| {QUESTIONS[metric.question]} | {name} | skipped | | | "
                         f"{entry['reason']} |")
            continue
        value = format_number(entry["value"])
        spread = ("" if entry["spread"] is None
                  else f"± {format_number(entry['spread'])}")
        if name == "precision_recall":
            details = entry["details"]
            value = (f"P {value} / R {format_number(details['recall'])}")
            spread = (f"± {format_number(details['precision_spread'])} / "
                      f"± {format_number(details['recall_spread'])}")
        sizes = ", ".join(f"{k} {v}" for k, v in entry["sample_sizes"].items())
        lines.append(f"| {QUESTIONS[metric.question]} | {name} | {value} | {spread} | "
                     f"{sizes} | {metric.meaning} |")
    lines.append("")
    return lines


def fid_note(report: dict[str, Any]) -> list[str]:
    """The warning that FID on small sets is biased."""
    entry = report.get("fid", {})
    if entry.get("status") != "ok":
        return []
    smaller = min(entry["sample_sizes"].values())
    if smaller >= UNBIASED_MIN_IMAGES:
        return []
    return [f"**FID bias.** FID estimates a 2048x2048 covariance; with {smaller} "
            f"images per set (fewer than {UNBIASED_MIN_IMAGES}) it is biased upwards "
            "by an amount that shrinks with the sample size, so it is only comparable "
            "between evaluations with the same set sizes. KID is unbiased and is the "
            "better number here.", ""]


def section_new(report: dict[str, Any]) -> list[str]:
    """The near-copy check with nearest.png."""
    entry = report.get("memorisation", {})
    if entry.get("status") != "ok":
        return []
    details = entry["details"]
    verdict = "**flagged as copying**" if details["flagged"] else "not flagged"
    lines = ["## New? Nearest training images", "",
             f"Verdict: {verdict}. Near-copies per feature space (expected about 5%):",
             "", "| space | near-copies | median distance ratio |", "|---|---|---|"]
    for space, result in details["spaces"].items():
        lines.append(f"| {space} | {result['share']:.1%} | "
                     f"{result['median_ratio']:.2f} |")
    return lines + [
        "", "The distance ratio is the median distance from a generated image to "
        "its nearest training real over the same for held-out reals; below 1 "
        "means generated images sit closer to training images than new photos "
        f"do. Pairs below are the closest in {details['figure_space']} space.", "",
        "![nearest pairs](nearest.png)", ""]


def section_useful(report: dict[str, Any]) -> list[str]:
    """Downstream accuracies per condition with downstream.png."""
    entry = report.get("downstream", {})
    if entry.get("status") != "ok":
        return []
    lines = ["## Useful? Cracked vs intact on held-out real photos", "",
             "| training set | mean accuracy | std |", "|---|---|---|"]
    for name, summary in entry["details"]["conditions"].items():
        lines.append(f"| {name} | {summary['mean']:.3f} | {summary['std']:.3f} |")
    return lines + ["", f"Split: {', '.join(entry['details']['split'])}.", "",
                    "![downstream accuracies](downstream.png)", ""]


def notes_section(report: dict[str, Any]) -> list[str]:
    """Every metric's notes and wall time."""
    lines = ["## Notes", ""]
    for name, entry in report.items():
        if name == "evaluation":
            continue
        for note in entry.get("notes", []) or [entry.get("reason", "")]:
            lines.append(f"- **{name}**: {note}")
    lines += ["", "## Time", "",
              "The first Inception metric's time includes extracting the features of "
              "both sets (cached in features/ for later runs).", "",
              "| metric | seconds |", "|---|---|"]
    lines += [f"| {name} | {entry['seconds']} |" for name, entry in report.items()
              if name != "evaluation"]
    lines.append(f"| total | {report['evaluation']['total_seconds']} |")
    return lines
