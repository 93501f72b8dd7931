import csv
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.audit.run import (
    ItemScore,
    attack_info,
    audit,
    item_score_from_verdict,
    load_items,
    perturbations,
    run_audit,
)
from fakescope.core import metrics as M


def write_video(path: Path, shade: int, frames: int = 3) -> Path:
    """Tiny real MP4 (32x32, a few frames); ``shade`` makes every file's bytes different."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 32))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for f in range(frames):
        frame = np.full((32, 32, 3), (shade * 13 + f * 40) % 256, np.uint8)
        frame[shade % 32, :, 2] = 255
        writer.write(frame)
    writer.release()
    assert path.stat().st_size > 0
    return path


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    columns = columns or ["path", "label", "method", "params", "identity", "split"]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def dataset(tmp_path):
    """8 good rows plus one missing file, one bad label and one text file renamed .mp4."""
    root = tmp_path / "set"
    rows = []
    for k in range(8):
        fake = k % 2 == 1
        write_video(root / "v" / f"{k}.mp4", k)
        params = {"jpeg_quality": 50} if k in (2, 3, 4, 5) else {}
        rows.append({"path": f"v/{k}.mp4", "label": "fake" if fake else "real",
                     "method": ("ae_swap" if k % 4 == 1 else "self_blend") if fake else "",
                     "params": json.dumps(params), "identity": f"id{k // 4}", "split": "test"})
    (root / "v" / "notes.mp4").write_text("this is a text file, not a video\n")
    rows.insert(3, {"path": "v/missing.mp4", "label": "fake"})  # line 5
    rows.insert(5, {"path": "v/0.mp4", "label": "maybe"})  # line 7
    rows.append({"path": "v/notes.mp4", "label": "real"})  # line 12
    return write_csv(root / "labels.csv", rows)


def test_load_items_skips_bad_rows_with_clear_errors(dataset):
    items, errors = load_items([dataset])
    assert len(items) == 8
    by_line = {e.row_number: e for e in errors}
    assert sorted(by_line) == [5, 7, 12]
    assert "file not found" in by_line[5].reason and by_line[5].path == "v/missing.mp4"
    assert "bad label 'maybe'" in by_line[7].reason
    assert "not a video" in by_line[12].reason and by_line[12].path == "v/notes.mp4"
    for e in errors:
        assert e.source == str(dataset)
        assert f"line {e.row_number}" in str(e)
    it = items[1]
    assert it.label == "fake" and it.y == 1 and it.method == "ae_swap"
    assert it.sha256 == sha(it.path) and it.path.is_absolute()
    assert items[2].params == {"jpeg_quality": 50}
    assert [i.identity for i in items][:4] == ["id0"] * 4


def test_load_items_labels_paths_and_params(tmp_path):
    outside = write_video(tmp_path / "elsewhere" / "clip.mp4", 1)
    write_video(tmp_path / "sub" / "a.mp4", 2)
    write_video(tmp_path / "sub" / "b.mp4", 3)
    rows = [
        {"path": "a.mp4", "label": " 0 "},
        {"path": "b.mp4", "label": "FAKE"},
        {"path": "../elsewhere/clip.mp4", "label": "1"},  # '..' allowed: resolves to a real file
        {"path": "../../nowhere/x.mp4", "label": "1"},
        {"path": "a.mp4", "label": "0"},  # same file again
        {"path": "b.mp4", "label": "1", "params": "{not json"},
        {"path": "b.mp4", "label": "1", "params": "[1, 2]"},
        {"path": "", "label": "1"},
        {"path": "../sub", "label": "1"},  # a directory
    ]
    items, errors = load_items([write_csv(tmp_path / "sub" / "list.csv", rows)])
    assert [i.label for i in items] == ["real", "fake", "fake"]
    assert items[2].path == outside.resolve()
    reasons = {e.row_number: e.reason for e in errors}
    assert "file not found" in reasons[5]
    assert "already listed" in reasons[6] and "line 2" in reasons[6]
    assert "not valid JSON" in reasons[7]
    assert "JSON object" in reasons[8]
    assert "empty path" in reasons[9]
    assert "not a regular file" in reasons[10]


def test_load_items_whole_source_problems(tmp_path):
    (tmp_path / "empty_dir").mkdir()
    no_label = write_csv(tmp_path / "nolabel.csv", [{"path": "x.mp4"}], ["path", "method"])
    items, errors = load_items([tmp_path / "nope.csv", tmp_path / "empty_dir", no_label])
    assert items == []
    assert [e.row_number for e in errors] == [0, 0, 0]
    assert "not found" in errors[0].reason
    assert "no manifest.csv" in errors[1].reason
    assert "missing label" in errors[2].reason


def test_manifest_dir_checks_listed_sha256(tmp_path):
    a = write_video(tmp_path / "a.mp4", 1)
    b = write_video(tmp_path / "b.mp4", 2)
    rows = [{"path": "a.mp4", "label": "real", "sha256": sha(a)},
            {"path": "b.mp4", "label": "fake", "sha256": "0" * 64}]
    write_csv(tmp_path / "manifest.csv", rows, ["path", "label", "sha256"])
    items, errors = load_items([tmp_path])
    assert [i.path.name for i in items] == ["a.mp4"]
    assert len(errors) == 1 and "sha256 mismatch" in errors[0].reason and errors[0].row_number == 3
    assert b.exists()


def test_perturbation_params_parsing():
    # flat test-set layout; CRF 18 is the builder's lossless default, i.e. no perturbation
    assert perturbations({"jpeg_quality": 30, "crf": 18, "seed": 4}) == {"jpeg_quality": 30.0}
    assert perturbations({"crf": 28, "resize": 1.0}) == {"crf": 28.0}
    assert perturbations({"jpeg_quality": None, "gamma": "1.2", "brightness": True}) == {"gamma": 1.2}
    # a nested container is read alone, so method knobs outside it are not perturbations
    assert perturbations({"blur_sigma": 0.8, "perturb": {"blur": 1.5, "h264_crf": 28}}) == {
        "blur_sigma": 1.5, "crf": 28.0}
    assert perturbations({"blur_sigma": 0.8, "perturbations": [{"op": "resize", "factor": 0.5},
                                                               {"op": "noise", "sigma": 3}]}) == {
        "resize": 0.5, "noise_sigma": 3.0}
    assert perturbations({"face_size": 64, "perturb": {}}) == {}
    assert perturbations({}) == {}


def _score_table(items, fn):
    return {it.path: fn(it) for it in items}


class TableScorer:
    """Synthetic scorer: looks the score up by path and counts its calls (for cache tests)."""

    def __init__(self, table, threshold=None, fail_on=(), cache_key=None):
        self.table = table
        self.threshold = threshold
        self.fail_on = set(fail_on)
        self.calls = 0
        if cache_key is not None:
            self.cache_key = cache_key

    def __call__(self, path: Path) -> ItemScore:
        self.calls += 1
        if path.name in self.fail_on:
            raise RuntimeError(f"decoder exploded on {path.name}")
        v = self.table[path]
        return ItemScore(v, [(0, v), (1, min(1.0, v + 0.05)), (2, max(0.0, v - 0.05))], "ok", self.threshold)


def test_run_audit_end_to_end(dataset, tmp_path):
    items, errors = load_items([dataset])
    good = TableScorer(_score_table(items, lambda it: 0.2 + 0.6 * it.y - 0.1 * (it.path.stem == "7")), threshold=0.6)
    noisy = TableScorer(_score_table(items, lambda it: (int(it.path.stem) * 0.37) % 1.0), fail_on={"4.mp4"})
    out = tmp_path / "audit"
    res = run_audit(items, {"good": good, "noisy": noisy}, out, n_boot=60, seed=1, progress=False,
                    row_errors=errors, sources=[dataset])

    m = json.loads((out / "metrics.json").read_text())
    assert m == json.loads(json.dumps(res.metrics))
    assert m["n_items"] == 8 and m["n_row_errors"] == 3
    g, n = m["scorers"]["good"], m["scorers"]["noisy"]
    y = np.array([it.y for it in items])
    s = np.array([good.table[it.path] for it in items])
    assert g["video"]["auc"] == pytest.approx(M.roc_auc(y, s))
    assert g["video"]["eer"] == pytest.approx(M.eer(y, s))
    assert g["video"]["accuracy"] == pytest.approx(M.accuracy_at(y, s, 0.6))
    assert g["threshold"] == 0.6 and n["threshold"] == 0.5
    lo, hi = g["video"]["ci"]["auc"]
    assert lo <= g["video"]["auc"] <= hi
    assert g["frame"]["n"] == 24 and g["frame"]["n_videos"] == 8
    # the failing item is recorded, the rest are scored
    assert n["n_failed"] == 1 and "decoder exploded" in n["failures"][0]["error"]
    assert n["n_scored"] == 7 and n["video"]["n"] == 7
    # breakdowns: each method against all reals
    assert set(g["per_method"]) == {"ae_swap", "self_blend"}
    assert g["per_method"]["ae_swap"]["n_real"] == 4 and g["per_method"]["ae_swap"]["n_fake"] == 2
    assert g["per_perturbation"]["jpeg_quality=50"]["n_real"] == 2
    assert g["robustness"]["jpeg_quality"]["points"][0][:2] == [50.0, g["per_perturbation"]["jpeg_quality=50"]["auc"]]
    assert set(g["per_identity"]) == {"id0", "id1"}

    for name in ("roc", "pr", "reliability", "histograms", "frame_roc", "robustness_jpeg_quality"):
        assert res.plots[name].read_bytes().startswith(b"\x89PNG")
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 6
    assert "src=\"http" not in html and "<script" not in html
    for e in errors:
        assert e.reason.replace("'", "&#x27;") in html
    assert "decoder exploded" in html
    scores_csv = list(csv.DictReader((out / "scores.csv").open()))
    assert len(scores_csv) == 8 and sum(r["noisy:status"] == "failed" for r in scores_csv) == 1


def test_cache_scores_only_the_new_scorer(tmp_path):
    items, _ = load_items([write_csv(tmp_path / "l.csv", [
        {"path": str(write_video(tmp_path / f"{k}.mp4", k)), "label": k % 2} for k in range(4)])])
    table = _score_table(items, lambda it: 0.3 + 0.4 * it.y)
    a = TableScorer(table)
    out = tmp_path / "out"
    first = run_audit(items, {"a": a}, out, n_boot=20, progress=False, plots=False)
    assert a.calls == 4
    b = TableScorer(table)
    second = run_audit(items, {"a": a, "b": b}, out, n_boot=20, progress=False, plots=False)
    assert a.calls == 4 and b.calls == 4
    assert second.metrics["scorers"]["a"]["n_cached"] == 4
    assert second.metrics["scorers"]["a"]["video"] == first.metrics["scorers"]["a"]["video"]
    assert len(list((out / "cache").iterdir())) == 2

    # a corrupt cache entry is rescored; a changed cache_key (new weights) rescores everything
    next((out / "cache" / "a").glob("*.json")).write_text("{broken")
    run_audit(items, {"a": a}, out, n_boot=20, progress=False, plots=False)
    assert a.calls == 5
    a2 = TableScorer(table, cache_key="weights-v2")
    run_audit(items, {"a": a2}, out, n_boot=20, progress=False, plots=False)
    assert a2.calls == 4


def test_failed_items_are_retried_not_cached(tmp_path):
    items, _ = load_items([write_csv(tmp_path / "l.csv", [
        {"path": str(write_video(tmp_path / f"{k}.mp4", k)), "label": k % 2} for k in range(4)])])
    table = _score_table(items, lambda it: 0.3 + 0.4 * it.y)
    flaky = TableScorer(table, fail_on={"2.mp4"})
    run_audit(items, {"d": flaky}, tmp_path / "out", n_boot=0, progress=False, plots=False)
    fixed = TableScorer(table)
    res = run_audit(items, {"d": fixed}, tmp_path / "out", n_boot=0, progress=False, plots=False)
    assert fixed.calls == 1 and res.metrics["scorers"]["d"]["n_failed"] == 0


def test_attack_success_rate(tmp_path):
    clean = write_video(tmp_path / "clean.mp4", 1)
    rows = [
        {"path": "real0.mp4", "label": "real"}, {"path": "real1.mp4", "label": "real"},
        {"path": "clean.mp4", "label": "fake", "method": "ae_swap"},
        # paired: clean twin linked by hash -> "before" is the scorer's own score on clean.mp4
        {"path": "pgd_paired.mp4", "label": "fake", "method": "pgd",
         "params": json.dumps({"attack": "pgd", "epsilon": 4, "clean_sha256": sha(clean)})},
        # recorded: build-time scores of the attacked detector
        {"path": "fgsm_a.mp4", "label": "fake", "method": "fgsm",
         "params": json.dumps({"epsilon": 2, "score_before": 0.9, "score_after": 0.3, "detector": "det"})},
        {"path": "fgsm_b.mp4", "label": "fake", "method": "fgsm",
         "params": json.dumps({"epsilon": 2, "score_before": 0.8, "score_after": 0.7, "detector": "det"})},
        {"path": "fgsm_c.mp4", "label": "fake", "method": "fgsm",
         "params": json.dumps({"epsilon": 2, "score_before": 0.2, "score_after": 0.1, "detector": "det"})},
    ]
    for k, r in enumerate(rows):
        if r["path"] != "clean.mp4":
            write_video(tmp_path / r["path"], 10 + k)
    items, errors = load_items([write_csv(tmp_path / "m.csv", rows)])
    assert errors == []
    assert attack_info(items[3])["attack"] == "pgd" and attack_info(items[2]) is None
    now = {"real0": 0.1, "real1": 0.2, "clean": 0.9, "pgd_paired": 0.2, "fgsm_a": 0.3, "fgsm_b": 0.4, "fgsm_c": 0.1}
    det = TableScorer({it.path: now[it.path.stem] for it in items})
    other = TableScorer({it.path: now[it.path.stem] for it in items})
    m = run_audit(items, {"det": det, "other": other}, tmp_path / "out", n_boot=0, progress=False,
                  plots=False).metrics
    a = m["scorers"]["det"]["attack"]
    # det: pgd before 0.9 (paired) -> after 0.2: success; fgsm a: 0.9 -> 0.3 success; b: 0.8 -> 0.4 success;
    # c was called real before (0.2) so it does not count
    assert a["pgd eps=4"]["success_rate"] == 1.0 and a["pgd eps=4"]["before_from"]["paired"] == 1
    assert a["fgsm eps=2"]["n_called_fake_before"] == 2 and a["fgsm eps=2"]["success_rate"] == 1.0
    assert a["all"]["n"] == 4 and a["all"]["evasion_rate"] == 1.0
    # 'other' was not the fgsm target: only the paired pgd item has a "before" for it
    o = m["scorers"]["other"]["attack"]
    assert o["all"]["n_with_before"] == 1 and o["fgsm eps=2"]["success_rate"] is None
    rec = m["attacks_recorded_at_build"]["fgsm vs det"]
    assert rec["n_called_fake_before"] == 2 and rec["success_rate"] == 0.5


def test_report_escapes_csv_text(tmp_path):
    write_video(tmp_path / "a.mp4", 1)
    write_video(tmp_path / "b.mp4", 2)
    evil = "<script>alert(1)</script>"
    items, errors = load_items([write_csv(tmp_path / "m.csv", [
        {"path": "a.mp4", "label": "real", "identity": evil},
        {"path": "b.mp4", "label": "fake", "identity": evil, "method": evil},
        {"path": evil, "label": "fake"}])])
    table = _score_table(items, lambda it: 0.3 + 0.4 * it.y)
    res = run_audit(items, {evil: TableScorer(table)}, tmp_path / "out", n_boot=0, progress=False,
                    row_errors=errors, plots=False)
    html = res.report_path.read_text()
    assert "<script" not in html and "&lt;script&gt;" in html
    assert all(p.parent.name != evil for p in (tmp_path / "out" / "cache").iterdir())


def test_item_score_validation():
    with pytest.raises(ValueError, match="P\\(fake\\)"):
        ItemScore(1.5)
    with pytest.raises(ValueError, match="frame 3"):
        ItemScore(0.5, [(3, -0.1)])
    s = ItemScore(0.5, [[1, 0.25]], "insufficient", 0.4)
    assert s.frame_scores == ((1, 0.25),) and ItemScore.from_json(s.as_json()) == s


def test_run_audit_needs_a_scorer(tmp_path):
    with pytest.raises(ValueError, match="at least one scorer"):
        run_audit([], {}, tmp_path)


def test_item_score_from_verdict_json():
    verdict = {"verdict": "inconclusive", "fake_probability": 0.55,
               "analyzers": {"detector": {"score": 0.8, "status": "ok", "model": "m", "per_frame": [[0, 0.7], [5, 0.9]]},
                             "blink": {"score": 0.5, "status": "insufficient", "blinks": 0}}}
    fused = item_score_from_verdict(verdict)
    assert fused.video_score == 0.55 and fused.status == "insufficient" and fused.frame_scores == ()
    det = item_score_from_verdict(verdict, "detector", threshold=0.6)
    assert det.frame_scores == ((0, 0.7), (5, 0.9)) and det.threshold == 0.6 and det.status == "ok"
    assert item_score_from_verdict(verdict, "blink").status == "insufficient"
    with pytest.raises(ValueError, match="no analyzer 'edges'"):
        item_score_from_verdict(verdict, "edges")


def test_audit_convenience_lists_row_errors(dataset, tmp_path):
    table = {}
    res = audit([dataset], {"s": lambda p: ItemScore(table.setdefault(p, 0.5))}, tmp_path / "o", n_boot=0,
                progress=False, plots=False)
    assert res.metrics["n_items"] == 8 and res.metrics["n_row_errors"] == 3
    assert res.metrics["sources"] == [str(dataset)]
    assert res.metrics["scorers"]["s"]["video"]["auc"] == 0.5  # constant scorer: chance
