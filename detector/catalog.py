"""What ``fakescope detector list`` shows: registered architectures and shipped trained models.

Shipped models are described from their config.json alone (no weights are read), so listing stays
instant and never fails because of one broken model directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from detector.io import CONFIG_FILE, list_weights, weights_root
from detector.registry import detector_spec, list_detectors


@dataclass(frozen=True)
class CatalogEntry:
    kind: Literal["architecture", "model"]
    name: str
    arch: str
    input_size: int | None
    summary: str
    sha256: str | None = None


def _model_summary(cfg: dict) -> str:
    test = (cfg.get("metrics") or {}).get("test") or {}
    parts = []
    if test.get("video_auc") is not None:
        parts.append(f"test video AUC {test['video_auc']:.3f}")
    if "threshold" in cfg:
        parts.append(f"threshold {cfg['threshold']:.3f}")
    data = (cfg.get("training_data") or {}).get("manifest_sha256")
    if data:
        parts.append(f"data {data[:12]}")
    return ", ".join(parts) or "no metrics recorded"


def catalog() -> list[CatalogEntry]:
    entries = [
        CatalogEntry("architecture", n, n, detector_spec(n).input_size, detector_spec(n).description)
        for n in list_detectors()
    ]
    for name in list_weights():
        try:
            cfg = json.loads((weights_root() / name / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            entries.append(CatalogEntry("model", name, "?", None, f"unreadable config.json: {e}"))
            continue
        entries.append(
            CatalogEntry(
                "model",
                name,
                str(cfg.get("arch", "?")),
                cfg.get("input_size"),
                _model_summary(cfg),
                cfg.get("weights_sha256"),
            )
        )
    return entries
