"""Model card for a trained detector, written from its config.json so the figures cannot drift.

    fakescope detector card MODEL_DIR [--notes TEXT]
"""

from __future__ import annotations

import json
from pathlib import Path

from fakescope.core.atomicio import write_text_atomic


def _fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else "-" if v is None else str(v)


def model_card(model_dir: Path, notes: str = "") -> str:
    cfg = json.loads((model_dir / "config.json").read_text())
    m = cfg.get("metrics", {})
    data = cfg.get("training_data", {})
    lines = [
        f"# Detector `{cfg.get('name', model_dir.name)}`",
        "",
        f"- architecture: `{cfg['arch']}` {json.dumps(cfg.get('kwargs', {}))}, input {cfg['input_size']} px "
        f"(aligned crops of {cfg.get('crop_size')} px, margin 0.3, resized), mean {cfg['mean']}, std {cfg['std']}"
        + (", plus the face's landmark-hull mask as a 4th input plane" if cfg.get("in_channels", 3) == 4 else ""),
        f"- weights: `model.safetensors`, sha256 `{cfg.get('weights_sha256')}`",
        f"- calibration: {cfg.get('calibration', {}).get('kind', cfg.get('calibration'))}; video threshold "
        f"{_fmt(cfg.get('threshold'))} (chosen on the validation split), frame threshold {_fmt(cfg.get('frame_threshold'))}",
        f"- aggregation: {cfg.get('aggregation')}",
        f"- training data: manifest sha256 `{data.get('manifest_sha256')}`, counts {json.dumps(data.get('counts'))}, "
        f"excluded methods {data.get('exclude_methods') or 'none'}, online self-blend share of each batch "
        f"{data.get('sbi_fraction', 0.0)}",
        f"- code: {cfg.get('code')}",
        "",
        "## Metrics (identity-disjoint splits of our own test set)",
        "",
        "| split | videos | frame AUC | video AUC | video accuracy @ threshold | video Brier |",
        "|---|---|---|---|---|---|",
    ]
    for split in ("val", "test"):
        s = m.get(split) or {}
        lines.append(f"| {split} | {s.get('n_videos', '-')} | {_fmt(s.get('frame_auc'))} | {_fmt(s.get('video_auc'))} | "
                     f"{_fmt(s.get('video_accuracy'))} | {_fmt(s.get('video_brier'))} |")
    per = (m.get("test") or {}).get("per_method_video_auc", {})
    if per:
        lines += ["", "Test video AUC per fake method (each method's fakes vs all test reals):", ""]
        lines += [f"- {k}: {_fmt(v)}" for k, v in sorted(per.items())]
    if notes:
        lines += ["", "## Notes", "", notes]
    return "\n".join(lines) + "\n"


def write_model_card(model_dir: Path, notes: str = "") -> Path:
    """``MODEL_DIR/MODEL_CARD.md`` from its config.json (`fakescope detector card MODEL_DIR`)."""
    return write_text_atomic(model_dir / "MODEL_CARD.md", model_card(model_dir, notes))
