import numpy as np
import pytest

from fakescope.core.types import Evidence
from fakescope.scan.fusion import FusionModel, fuse, label_for, weighed_analyzers
from fakescope.scan.fusion_fit import fit_fusion

MODEL = FusionModel(("detector", "edges", "blink"), (2.0, 1.0, 0.5), -0.2, {})


def test_insufficient_evidence_counts_as_absent() -> None:
    base = [Evidence("detector", 0.3, "ok"), Evidence("edges", 0.6, "ok")]
    with_insufficient = [*base, Evidence("blink", 0.99, "insufficient")]
    assert fuse(with_insufficient, MODEL).fake_probability == pytest.approx(fuse(base, MODEL).fake_probability)


def test_all_insufficient_is_inconclusive() -> None:
    v = fuse([Evidence("detector", 0.9, "insufficient")], MODEL)
    assert v.label == "inconclusive" and v.fake_probability == 0.5


def test_labels_follow_documented_thresholds() -> None:
    assert label_for(0.9) == "fake" and label_for(0.1) == "real" and label_for(0.5) == "inconclusive"
    assert fuse([Evidence("detector", 0.999, "ok")], MODEL).label == "fake"
    assert fuse([Evidence("detector", 0.001, "ok")], MODEL).label == "real"


def test_fit_learns_to_trust_the_informative_analyzer_and_never_a_negative_weight() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    ev = []
    for label in y:
        good = float(np.clip(rng.normal(0.8 if label else 0.2, 0.1), 0.01, 0.99))
        noise = float(rng.uniform(0.05, 0.95))
        anti = float(np.clip(rng.normal(0.3 if label else 0.7, 0.1), 0.01, 0.99))  # anti-correlated
        ev.append([Evidence("detector", good, "ok"), Evidence("edges", noise, "ok"), Evidence("blink", anti, "ok")])
    m = fit_fusion(ev, y, ("detector", "edges", "blink"))
    assert m.coef[0] > 1.0 and all(c >= 0 for c in m.coef)
    assert m.coef[2] == 0.0
    acc = np.mean([(m.predict(e) > 0.5) == bool(t) for e, t in zip(ev, y, strict=True)])
    assert acc > 0.9
    assert FusionModel.from_json(m.as_json()) == m


def test_fit_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both"):
        fit_fusion([[Evidence("detector", 0.5, "ok")]] * 3, [1, 1, 1])


def _two_analyzer_data(seed: int, edges_informative: bool) -> tuple[list, np.ndarray, list[str]]:
    """Per-identity videos: the detector always informative; edges informative or pure noise."""
    rng = np.random.default_rng(seed)
    ev, y, groups = [], [], []
    for person in range(6):
        for _ in range(20):
            label = int(rng.integers(0, 2))
            det = float(np.clip(rng.normal(0.65 if label else 0.35, 0.15), 0.01, 0.99))
            edg = (float(np.clip(rng.normal(0.65 if label else 0.35, 0.15), 0.01, 0.99)) if edges_informative
                   else float(rng.uniform(0.05, 0.95)))
            ev.append([Evidence("detector", det, "ok"), Evidence("edges", edg, "ok")])
            y.append(label)
            groups.append(f"p{person}")
    return ev, np.asarray(y), groups


def test_selection_drops_an_analyzer_that_adds_nothing_and_keeps_complementary_ones() -> None:
    from fakescope.scan.fusion_fit import select_fusion

    ev, y, groups = _two_analyzer_data(1, edges_informative=False)
    model, scores = select_fusion(ev, y, groups, ("detector", "edges"))
    assert model.meta["selection"]["chosen"] == "detector" and model.coef[1] == 0.0 and model.coef[0] > 0
    assert set(scores) == {"detector", "edges", "detector+edges"}
    ev, y, groups = _two_analyzer_data(2, edges_informative=True)  # two independent signals beat either one
    model, _ = select_fusion(ev, y, groups, ("detector", "edges"))
    assert model.meta["selection"]["chosen"] == "detector+edges" and min(model.coef) > 0


def test_reports_can_tell_which_analyzers_the_verdict_weighs() -> None:
    from fakescope.scan.fusion import weighed_analyzers

    model = FusionModel(("detector", "edges", "blink"), (0.0, 1.0, 0.5), 0.0, {})
    assert weighed_analyzers(model) == {"edges", "blink", "provenance", "credentials", "avsync"}
    # a zero-weight analyzer's confidence does not move the verdict
    a = fuse([Evidence("detector", 0.99, "ok"), Evidence("edges", 0.3, "ok")], model).fake_probability
    b = fuse([Evidence("detector", 0.01, "ok"), Evidence("edges", 0.3, "ok")], model).fake_probability
    assert a == pytest.approx(b)


def test_the_shipped_fusion_model_is_found_and_used() -> None:
    """A moved weights file must fail loudly here, not fall back to the unfitted rule in every scan."""
    from fakescope.scan.fusion import fusion_path, load_fusion

    model = load_fusion()
    assert fusion_path().is_file() and model is not None
    assert "detector" in model.analyzers
    assert weighed_analyzers() == frozenset(
        {a for a, c in zip(model.analyzers, model.coef, strict=True) if c > 0} | {"provenance", "credentials", "avsync"})


def _credentials(score: float, status: str = "ok") -> Evidence:
    return Evidence("credentials", score, status, {"c2pa": None, "watermark": {"found": status == "ok", "payload": None}})


@pytest.mark.parametrize("model", [MODEL, None])
def test_a_file_without_credentials_keeps_its_fused_probability_exactly(model: FusionModel | None) -> None:
    """No manifest and no watermark (insufficient at 0.5) must leave every verdict exactly as it was."""
    for base in ([Evidence("detector", 0.2, "ok"), Evidence("edges", 0.4, "ok")], [Evidence("detector", 0.8, "ok")],
                 [Evidence("detector", 0.5, "insufficient")]):
        without = fuse(base, model)
        with_neutral = fuse([*base, _credentials(0.5, "insufficient")], model)
        assert with_neutral.fake_probability == without.fake_probability and with_neutral.label == without.label


@pytest.mark.parametrize("model", [MODEL, None])
def test_declared_or_watermarked_fakes_are_fake_even_against_a_confident_detector(model: FusionModel | None) -> None:
    confident_real = [Evidence("detector", 0.0001, "ok"), Evidence("edges", 0.01, "ok"), Evidence("blink", 0.01, "ok")]
    assert fuse(confident_real, model).label == "real"
    assert fuse([*confident_real, _credentials(0.99)], model).label == "fake"
    assert fuse([_credentials(0.99)], model).label == "fake"  # nothing else to go on (e.g. no face)
    # a trusted camera-capture manifest pulls towards real
    assert fuse([Evidence("detector", 0.7, "ok"), _credentials(0.1)], model).fake_probability < 0.35


def test_audio_out_of_sync_can_only_push_a_verdict_towards_fake() -> None:
    from fakescope.core.types import Evidence
    from fakescope.scan.fusion import FusionModel, fuse

    model = FusionModel(("detector",), (1.0,), 0.0, {})
    detector = Evidence("detector", 0.2, "ok", {})
    alone = fuse([detector], model).fake_probability
    in_sync = fuse([detector, Evidence("avsync", 0.05, "ok", {})], model).fake_probability
    out_of_sync = fuse([detector, Evidence("avsync", 0.95, "ok", {})], model).fake_probability
    unjudged = fuse([detector, Evidence("avsync", 0.95, "insufficient", {})], model).fake_probability
    assert in_sync == alone == unjudged  # good sync is no evidence of a real face; no audio changes nothing
    assert out_of_sync > alone + 0.3
