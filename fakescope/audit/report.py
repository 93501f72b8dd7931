"""report.html for `fakescope audit`, rendered from the metrics.json dict (one source of truth).

Rendering from the written metrics (not from in-memory arrays) guarantees the report shows
exactly the numbers other tools read from metrics.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fakescope.core.errors import one_line
from fakescope.report import html as H


def _ci(value: float | None, ci: list[float | None] | None) -> str:
    if value is None:
        return "-"
    if not ci or ci[0] is None or ci[1] is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _auc(row: Mapping[str, Any], ci: list[float | None] | None = None) -> str:
    """The AUC cell: value [CI], or why it is undefined (e.g. only fake videos in the group)."""
    if row.get("auc") is None and row.get("undefined_reason"):
        return str(row["undefined_reason"])
    return _ci(row.get("auc"), ci)


def _summary_rows(scorers: Mapping[str, Any], level: str) -> list[dict[str, Any]]:
    rows = []
    for name, m in scorers.items():
        b = m.get(level)
        if not b:
            continue
        ci = b.get("ci") or {}
        rows.append({
            "scorer": name,
            "n (real/fake)": f"{b['n']} ({b['n_real']}/{b['n_fake']})",
            "AUC [95% CI]": _auc(b, ci.get("auc")),
            "AP [95% CI]": _ci(b.get("ap"), ci.get("ap")),
            "EER [95% CI]": _ci(b.get("eer"), ci.get("eer")),
            "threshold": m["threshold"],
            "accuracy": b.get("accuracy"),
            "F1": b.get("f1"),
            "TPR@1%FPR": b.get("tpr_at_1pct_fpr"),
            "Brier": b.get("brier"),
            "ECE": b.get("ece"),
        })
    return rows


def _breakdown(scorers: Mapping[str, Any], key: str, label: str) -> H.Markup:
    """One row per group, columns AUC / detection rate / false alarms per scorer side by side."""
    groups: dict[str, dict[str, Any]] = {}
    for name, m in scorers.items():
        for g, row in (m.get(key) or {}).items():
            r = groups.setdefault(g, {label: g, "reals": row["n_real"], "fakes": row["n_fake"]})
            auc = row.get("auc")
            r[f"{name} AUC"] = (_auc(row, row.get("auc_ci")) if "auc_ci" in row or auc is None
                                else auc)
            r[f"{name} detected"] = row.get("detection_rate")
            r[f"{name} false alarms"] = row.get("false_alarm_rate")
            if row.get("filled_from_unperturbed"):
                r["note"] = f"{row['filled_from_unperturbed']} items taken from unperturbed set"
    if not groups:
        return H.paragraph("No groups.", "note")
    return H.table(list(groups.values()))


def _attack_rows(scorers: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, m in scorers.items():
        for group, a in (m.get("attack") or {}).items():
            rows.append({"scorer": name, "attack": group, "n": a["n"], "evasion rate": a["evasion_rate"],
                         "called fake before": a["n_called_fake_before"], "success rate": a["success_rate"],
                         "before from (paired/recorded)": f"{a['before_from']['paired']}/{a['before_from']['recorded']}"})
    return rows


def render_report(metrics: Mapping[str, Any], plots: Mapping[str, Path]) -> str:
    scorers = metrics["scorers"]
    parts: list[Any] = []
    parts.append(H.paragraph(
        f"{metrics['n_items']} videos audited ({metrics['n_real']} real, {metrics['n_fake']} fake) "
        f"with {len(scorers)} scorer(s); {metrics['n_row_errors']} input row(s) skipped"
        + (f", {metrics['n_row_notes']} repeated row(s) counted once" if metrics.get("n_row_notes") else "")
        + ". "
        + f"Bootstrap: {metrics['bootstrap']['n_boot']} resamples, seed {metrics['bootstrap']['seed']}, "
        f"{metrics['bootstrap']['method']}. Generated {metrics['created']} by fakescope {metrics['fakescope_version']}."))
    if metrics.get("sources"):
        parts.append(H.paragraph("Sources: " + ", ".join(one_line(s) for s in metrics["sources"]), "note"))
    if metrics["n_items"] and not (metrics["n_real"] and metrics["n_fake"]):
        only = "fake" if metrics["n_fake"] else "real"
        parts.append(H.paragraph(
            f"AUC, AP, EER and TPR@1%FPR are undefined for this audit: only {only} videos were audited, and "
            f"these metrics compare real with fake videos. Add {'real' if only == 'fake' else 'fake'} videos to "
            "measure how well each scorer separates them; the detection / false-alarm rates below still apply.",
            "bad"))

    def fig(key: str, caption: str) -> H.Markup | None:
        return H.image(plots[key], caption, caption) if key in plots else None

    parts.append(H.section("Video level", H.table(_summary_rows(scorers, "video")),
                           H.figures(*[f for f in (fig("roc", "ROC curves, all scorers"),
                                                   fig("pr", "Precision-recall curves, all scorers"),
                                                   fig("reliability", "Reliability diagram (10 equal-width bins)"),
                                                   fig("histograms", "Score histograms per class"))
                                       if f is not None])))
    frame_rows = _summary_rows(scorers, "frame")
    if frame_rows:
        parts.append(H.section("Frame level", H.paragraph(
            "Frames inherit their video's label; intervals resample whole videos.", "note"),
            H.table(frame_rows), H.figures(*[f for f in (fig("frame_roc", "ROC, frame level"),) if f])))

    cov = [{"scorer": n, "scored": m["n_scored"], "from cache": m["n_cached"], "newly scored": m["n_newly_scored"],
            "failed": m["n_failed"], "insufficient": m["n_insufficient"], "threshold source": m["threshold_source"]}
           for n, m in scorers.items()]
    parts.append(H.section("Coverage", H.table(cov)))

    parts.append(H.section("Per method (each fake method against all reals)", _breakdown(scorers, "per_method", "method")))
    parts.append(H.section("Per perturbation", _breakdown(scorers, "per_perturbation", "condition")))
    robust = [H.image(p, f"AUC against {k.removeprefix('robustness_')}", f"AUC against {k.removeprefix('robustness_')}")
              for k, p in plots.items() if k.startswith("robustness_")]
    if robust:
        parts.append(H.section("Robustness curves", H.figures(*robust)))
    parts.append(H.section("Per identity", _breakdown(scorers, "per_identity", "identity")))

    attack_rows = _attack_rows(scorers)
    if attack_rows:
        rec = metrics.get("attacks_recorded_at_build") or {}
        rec_rows = [{"attack": k, **v} for k, v in rec.items()]
        parts.append(H.section("Adversarial attacks", H.table(attack_rows),
                               H.paragraph("Recorded at build time against the attack's own target:", "note"),
                               H.table(rec_rows) if rec_rows else H.paragraph("none recorded", "note")))

    fail_rows = [{"scorer": n, **f} for n, m in scorers.items() for f in m["failures"]]
    parts.append(H.section("Scorer failures", H.table(fail_rows, ["scorer", "path", "error"]) if fail_rows
                           else H.paragraph("None: every scorer returned a score for every item.", "note")))
    skipped = [{**e, "kind": "error: left out"} for e in metrics["row_errors"]]
    skipped += [{**e, "kind": "note: counted once"} for e in metrics.get("row_notes", [])]
    skipped = [{**e, "source": one_line(e["source"]), "path": one_line(e["path"]), "reason": one_line(e["reason"])}
               for e in skipped]
    parts.append(H.section("Skipped input rows",
                           H.table(skipped, ["kind", "source", "row_number", "path", "reason"],
                                   headers={"row_number": "line"}) if skipped
                           else H.paragraph("None.", "note")))
    parts.append(H.section("Definitions", H.table([{"metric": k, "definition": v}
                                                   for k, v in metrics["definitions"].items()])))
    return H.page("fakescope audit", *parts)
