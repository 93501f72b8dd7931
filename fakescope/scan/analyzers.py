"""Which analyzers a scan runs: the factories by name, built for one scan configuration.

Names map to "module:callable" strings and are imported on demand, so a missing optional
dependency leaves one analyzer out (and says why) instead of breaking the scan.
"""

from __future__ import annotations

import importlib
from typing import Any

from fakescope.core.analyzers import Analyzer

# Each callable takes the scan config and returns an Analyzer, or raises LookupError when it is not
# configured (e.g. no registry given).
ANALYZER_FACTORIES: dict[str, str] = {
    "detector": "detector.analyzer:make_analyzer",
    "blink": "forensics.blink:make_analyzer",
    "edges": "forensics.edges:make_analyzer",
    "spectrum": "forensics.spectrum:make_analyzer",
    "pulse": "forensics.pulse:make_analyzer",
    "temporal": "forensics.temporal:make_analyzer",
    "avsync": "forensics.avsync:make_analyzer",
    "provenance": "fakescope.provenance.analyzer:make_analyzer",
    "credentials": "fakescope.provenance.credentials:make_analyzer",
}


def build_analyzers(config: object, names: list[str] | None = None,
                    detector_model: Any = None) -> tuple[list[Analyzer], dict[str, str]]:
    """Instantiate the analyzers that are installed and configured.

    Returns the analyzers and, for each one left out, why, so the report can say which evidence
    is missing instead of silently omitting it. ``detector_model``: an already loaded detector
    (fakescope.scan.models.load_detector) for servers that load it once, instead of per scan.
    """
    analyzers: list[Analyzer] = []
    skipped: dict[str, str] = {}
    for name in names or list(ANALYZER_FACTORIES):
        if name not in ANALYZER_FACTORIES:
            raise ValueError(f"unknown analyzer {name!r}; choose from {', '.join(ANALYZER_FACTORIES)}")
        if name == "detector" and detector_model is not None:
            from detector.analyzer import DetectorAnalyzer

            analyzers.append(DetectorAnalyzer(detector_model, every=int(getattr(config, "detector_every", 3))))
            continue
        module_name, attr = ANALYZER_FACTORIES[name].split(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            skipped[name] = f"not installed ({exc.__class__.__name__})"
            continue
        try:
            analyzers.append(factory(config))
        except LookupError as exc:
            skipped[name] = str(exc)
    return analyzers, skipped
