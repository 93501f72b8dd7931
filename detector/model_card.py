"""Model card for a trained detector, written from its config.json so the figures cannot drift.

    fakescope detector card MODEL_DIR [--notes TEXT]
"""

from __future__ import annotations

import json
from pathlib import Path

from fakescope.core.atomicio import write_text_atomic

CROSS_FILE = "crossdataset.json"  # `detector eval` results on cross-dataset manifests, beside the weights


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
        *([f"- familiarity: logits of crops farther than {cfg['familiarity']['edge']:.2f} (RMS standardised feature "
           f"distance; the training crops' {cfg['familiarity'].get('quantile', 0.95):.0%} quantile) from the training "
           f"crops are shrunk toward 0.5 by (edge/d)^{cfg['familiarity'].get('power', 2.0):g} (detector.familiarity)"]
          if cfg.get("familiarity") else []),
        f"- training data: manifest sha256 `{data.get('manifest_sha256')}`, counts {json.dumps(data.get('counts'))}, "
        f"excluded methods {data.get('exclude_methods') or 'none'}, online self-blend share of each batch "
        f"{data.get('sbi_fraction', 0.0)}",
        *([f"- feature layers started from `detector pretrain` output `{data['init']}` (contrastive, real "
           f"train-split crops only; weights sha256 `{data.get('init_sha256')}`)"] if data.get("init") else []),
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
    cross_file = model_dir / CROSS_FILE
    cross = json.loads(cross_file.read_text()) if cross_file.is_file() else []
    lines += ["", "## Cross-dataset (fakes made by other people's tools; measured, never trained or tuned on)", ""]
    if cross:
        lines += ["| set | images with a face | frame AUC (95% CI) | ECE | mean P(fake) real / fake |",
                  "|---|---|---|---|---|"]
        for r in cross:
            auc = "-" if r.get("auc") is None else f"{r['auc']:.3f} ({r['auc_low']:.3f}-{r['auc_high']:.3f})"
            lines.append(f"| {Path(r['manifest']).parent.name} | {r['with_face']}/{r['images']} | {auc} | "
                         f"{_fmt(r.get('ece'))} | {_fmt(r.get('mean_p_real'))} / {_fmt(r.get('mean_p_fake'))} |")
    else:
        lines.append(f"Not measured: train with `--cross MANIFEST` or run `fakescope detector eval` and save its "
                     f"JSON as `{CROSS_FILE}`.")
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
