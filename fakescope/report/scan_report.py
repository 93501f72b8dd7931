"""Self-contained HTML report of a scan: the verdict and the evidence a reader can check.

Plain-language explanations sit next to every number because the readers (journalists,
trust-and-safety staff) must be able to defend the verdict without knowing the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fakescope.core.atomicio import write_text_atomic
from fakescope.core.types import FAKE_THRESHOLD, REAL_THRESHOLD, KeyFrame
from fakescope.report import html as H

EXPLAIN = {
    "detector": "A neural network trained on our own face swaps, self-blends and warps looks at sampled face crops. "
                "Score = calibrated probability that the face was synthesised or pasted in.",
    "blink": "People blink about 17 times a minute at rest (26 while talking, 4.5 while reading), with 2-10 s "
             "between blinks and 100-400 ms per blink. Rates, gaps or durations far outside that are suspicious.",
    "edges": "Looks at the band where a pasted face meets the rest of the head: a mismatch in sharpness, colour or "
             "noise between inside and outside of the face boundary suggests blending.",
    "spectrum": "Generators up-sample images, which leaves regular traces in the high-frequency spectrum of the face.",
    "pulse": "Real skin shows a faint colour change with every heartbeat; synthesised faces usually lack a "
             "consistent pulse.",
    "provenance": "Compares the video with a registry of authentic originals: a match with a changed face is strong "
                  "evidence of manipulation.",
    "avsync": "Compares the mouth's opening with the loudness of the speech on the audio track. On genuine footage they "
              "move together with the sound at most a few hundred ms late; replaced or shifted audio (a 'cheapfake' "
              "that keeps real footage) breaks that. Good sync is no evidence of a real face (a face swap keeps the "
              "audio), so only poor sync moves the verdict.",
    "temporal": "Looks at the face over time: identity that drifts, landmarks that jitter without head motion, and "
                "a face or mouth that flickers more than the rest of the picture, as frame-by-frame generators leave.",
    "credentials": "Reads the file's Content Credentials (a signed C2PA manifest saying which camera or tool made it) "
                   "and looks for the invisible watermark fakescope puts in every fake it makes. A valid manifest "
                   "declaring AI generation, or our watermark, is strong evidence of a fake; a trusted camera "
                   "manifest points to a real video; a manifest changed after signing is reported as invalid; "
                   "most videos carry neither, which says nothing either way.",
}


def _png(img_bgr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img_bgr)
    if not ok:  # pragma: no cover
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def counted_analyzers(rec: dict[str, Any]) -> set[str]:
    """Analyzers of a verdict record whose evidence the fused verdict weighed (``ok`` and weighed by the fusion)."""
    an = rec.get("analyzers", {})
    weighed = set(rec.get("fusion", {}).get("weighed", an))  # older records: assume every analyzer counted
    return {name for name, a in an.items() if a.get("status") == "ok" and name in weighed}


def status_text(name: str, a: dict[str, Any]) -> str:
    if a.get("status") != "ok":
        return "not enough evidence: " + str(a.get("reason", "too little usable face time"))
    s = float(a["score"])
    lean = "points to a fake" if s >= 0.65 else "points to a real video" if s <= 0.35 else "is undecided"
    extra = ""
    if name == "blink":
        rate = a.get("rate_per_min")
        extra = f" ({a.get('blinks', 0)} blinks" + (f", {rate:.1f} per minute)" if rate is not None else ")")
    elif name == "provenance" and (m := a.get("match")):
        changed = ", ".join(f"{x:.1f}-{y:.1f} s" for x, y in m.get("changed_segments", []))
        extra = (f": copy of registered original '{m['label']}' (id {m['id']}, offset {m['offset_s']:+.2f} s, "
                 f"background similarity {m['background_similarity']:.2f}); "
                 + (f"the face differs from the original in {changed}" if changed else "the face matches the original"))
    elif name == "pulse":
        extra = f" (pulse {a['bpm']:.0f} bpm)" if a.get("bpm") is not None else " (no consistent pulse found)"
    elif name == "avsync" and a.get("lag_ms") is not None:
        extra = (f" (best lag {a['lag_ms']:+.0f} ms, correlation {a['correlation']:.2f}"
                 + (f", {len(a['disagreeing_windows'])} stretch(es) where mouth and speech disagree)"
                    if a.get("disagreeing_windows") else ")"))
    elif name == "credentials" and a.get("reason"):
        extra = f": {a['reason']}"
    return f"{lean}{extra}"


def credentials_rows(a: dict[str, Any]) -> list[dict[str, Any]]:
    """What the Content Credentials section shows, in plain words (also used by UIs)."""
    c, wm = a.get("c2pa"), a.get("watermark") or {}
    if c is None:
        rows = [{"item": "C2PA manifest", "value": "none found"}]
    else:
        state = ("valid, trusted signer" if c.get("trusted") else "valid signature, untrusted signer") if c.get("valid") \
            else "INVALID (changed after signing, or damaged)"
        rows = [{"item": "C2PA manifest", "value": state},
                {"item": "signer", "value": c.get("signer") or "unknown"},
                {"item": "claim generator", "value": c.get("claim_generator") or "unknown"},
                {"item": "declares AI-generated or synthetic content", "value": "yes" if c.get("ai_generated") else "no"},
                {"item": "digital source type", "value": ", ".join(c.get("digital_source_types") or []) or "not declared"}]
        if c.get("camera_capture"):
            rows.append({"item": "declares a camera capture", "value": "yes"})
        if (own := c.get("fakescope")) and own.get("method"):
            rows.append({"item": "made by fakescope", "value": f"method {own['method']}"})
        if c.get("errors"):
            rows.append({"item": "validation failures", "value": "; ".join(c["errors"])})
    found = bool(wm.get("found"))
    rows.append({"item": "fakescope watermark", "value": (f"found: {wm.get('payload')}" if found else "not found")
                 + (f" (score {wm['score']:.1f}, threshold {wm.get('threshold', 0):.1f})" if "score" in wm else "")})
    return rows


def track_rows(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per face track of a verdict record (also used by UIs): every person is shown, not only the chosen one."""
    chosen = rec.get("selected_track")
    rows = []
    for t in rec.get("tracks", []):
        not_judged = ", ".join(f"{k} {v}" for k, v in (t.get("not_judged") or {}).items() if v)
        scores = ", ".join(f"{n} {a['score']:.2f}" for n, a in sorted(t.get("analyzers", {}).items())
                           if a.get("status") == "ok")
        rows.append({"track": t["track_id"], "verdict": ("> " if t["track_id"] == chosen else "") + t["verdict"],
                     "P(fake)": float(t["fake_probability"]), "frames": t["frames"],
                     "frames judged": t.get("frames_judged"), "not judged": not_judged or "-",
                     "analyzer scores": scores or "-"})
    return rows


def evidence_figures(rec: dict[str, Any]) -> list[tuple[bytes, str, str]]:
    """(PNG, alt text, caption) of every plot a verdict record supports, for the report and the dashboard."""
    from fakescope.report.plots import avsync_plot, ear_curve, pulse_plot, timeline

    an = rec.get("analyzers", {})
    fps = float(rec["video"]["fps"]) or None
    out: list[tuple[bytes, str, str]] = []
    series = {n: an[n]["per_frame"] for n in ("detector", "edges", "temporal") if n in an and an[n].get("per_frame")}
    if series:
        out.append((timeline(series, fps=fps, title="Per-frame scores"), "per-frame scores",
                    "Scores over time: sustained high values mark manipulated stretches."))
    if "blink" in an and an["blink"].get("ear"):
        out.append((ear_curve(an["blink"]["ear"], an["blink"].get("events", []), fps=fps), "eye aspect ratio",
                    "Eye openness per frame; shaded spans are detected blinks."))
    if "pulse" in an and an["pulse"].get("signals"):
        p = an["pulse"]
        out.append((pulse_plot(p["signals"], p.get("spectra", {}), p.get("bpm")), "skin colour pulse",
                    "Pulse signal of each skin region and its spectrum: a real face beats in step everywhere."))
    if "avsync" in an and an["avsync"].get("curves", {}).get("t"):
        a = an["avsync"]
        plausible = a.get("plausible_lag_ms")
        out.append((avsync_plot(a["curves"], a.get("lag_curve", []), a.get("lag_ms"), a.get("disagreeing_windows", []),
                                (plausible[0] / 1000.0, plausible[1] / 1000.0) if plausible else None),
                    "mouth and speech", "Mouth opening against the loudness of the speech: on a genuine clip they "
                    "rise and fall together, with the sound at most a few hundred ms after the mouth."))
    return out


def _video_section(rec: dict[str, Any], key_frames: Sequence[KeyFrame]) -> Any:
    an = rec.get("analyzers", {})
    label = rec["verdict"]
    colour = {"fake": "#a00", "real": "#070", "inconclusive": "#a60"}[label]
    parts: list[Any] = [
        H.tag("p", H.tag("strong", f"Verdict: {label.upper()}", style=f"color:{colour};font-size:1.3em"),
              f"  probability of manipulation {rec['fake_probability']:.3f}"),
        H.paragraph(f"Labelled fake above {FAKE_THRESHOLD}, real below {REAL_THRESHOLD}, inconclusive in between or "
                    "when evidence is insufficient. " + (rec.get("reason") or ""), cls="note"),
    ]
    counted = counted_analyzers(rec)
    rows = []
    for name, a in an.items():
        rows.append({"analyzer": name, "score P(fake)": float(a.get("score", 0.5)), "status": a.get("status"),
                     "in the verdict": "yes" if name in counted else "no", "reading": status_text(name, a),
                     "what it measures": EXPLAIN.get(name, "")})
    parts.append(H.table(rows))
    figs = [H.image(png, alt, caption) for png, alt, caption in evidence_figures(rec)]
    if figs:
        parts.append(H.figures(*figs))
    if "credentials" in an:
        parts.append(H.section("Content credentials", H.table(credentials_rows(an["credentials"])),
                               H.paragraph(EXPLAIN["credentials"], cls="note")))
    if key_frames:
        kf = []
        for k in key_frames:
            kf.append(H.image(_png(k.thumbnail), f"frame {k.frame_index}",
                              f"{k.analyzer}: frame {k.frame_index}, score {k.score:.2f}. {k.caption}"))
            if k.overlay is not None:
                kf.append(H.image(_png(k.overlay), f"heatmap frame {k.frame_index}",
                                  f"{k.analyzer} heatmap of frame {k.frame_index}: warm colours drove the score."))
        parts.append(H.section("Key frames", H.figures(*kf)))
    if rec.get("tracks"):
        parts.append(H.section("Faces", H.table(track_rows(rec)),
                               H.paragraph("Every face track is judged on its own; the verdict is the track that "
                                           "points most clearly to a fake. Frames not judged had a face too small, too "
                                           "turned or too uncertain to score.", cls="note")))
    v, f = rec["video"], rec["faces"]
    facts = [
        {"item": "file", "value": rec["file"]}, {"item": "sha256", "value": rec["sha256"]},
        {"item": "video", "value": f"{v['width']}x{v['height']}, {v['frames']} frames, {v['fps']:.2f} fps, "
                                   f"{v['duration_s']:.1f} s"},
        {"item": "faces", "value": f"{f['frames_with_face']} frames with a face, {f['tracks']} track(s); "
                                   f"judged track: {rec.get('selected_track')}"},
        {"item": "scan time", "value": f"{rec['timing']['seconds']:.1f} s ({rec['timing']['frames_per_second']:.0f} frames/s)"},
        {"item": "fakescope", "value": rec["versions"]["fakescope"]},
    ]
    facts += [{"item": f"model {k}", "value": h} for k, h in rec["versions"].get("models", {}).items()]
    parts.append(H.section("Provenance of this report", H.table(facts)))
    return H.section(Path(rec["file"]).name, *parts)


def write_scan_report(results: Sequence[Any], out: Path) -> Path:
    """``results`` are ScanResults (or bare verdict records when no key frames are available)."""
    sections = []
    for r in results:
        rec = r if isinstance(r, dict) else r.record
        frames = [] if isinstance(r, dict) else list(getattr(r, "key_frames", ()))
        sections.append(_video_section(rec, frames))
    return write_text_atomic(out, H.page("fakescope scan report", *sections))
