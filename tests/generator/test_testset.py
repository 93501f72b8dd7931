from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.core.faces import FacePipeline
from fakescope.core.manifest import MANIFEST_COLUMNS, read_manifest
from generator.perturb import Perturbation, apply_frame, sample_perturbation
from generator.testset import TestsetConfig, assign_splits, build_testset
from generator.warpfake import dilated_region, warp_fake_frame

TINY = dict(clip_frames=8, segments_per_video=2, crops_per_item=3, methods=("self_blend", "warp"))


@pytest.fixture(scope="module")
def frame_and_landmarks(talking_head: Path) -> tuple[np.ndarray, np.ndarray]:
    _, _, frame, faces = next(iter(FacePipeline().run(talking_head)))
    return frame, faces[0].landmarks


def _two_identities(tmp: Path, talking_head: Path) -> list[Path]:
    """Two 'identities': the fixture and its mirror image saved as another video."""
    b = tmp / "mirror" / "other.mp4"
    b.parent.mkdir(parents=True)
    cap = cv2.VideoCapture(str(talking_head))
    w = cv2.VideoWriter(str(b), cv2.VideoWriter_fourcc(*"mp4v"), 30, (436, 500))
    for _ in range(40):
        ok, f = cap.read()
        w.write(cv2.flip(f, 1))
    w.release()
    return [talking_head, b]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, talking_head: Path) -> tuple[Path, list[Path]]:
    tmp = tmp_path_factory.mktemp("ts")
    videos = _two_identities(tmp, talking_head)
    build_testset(videos, tmp / "a", TestsetConfig(seed=3, **TINY), progress=False)
    return tmp, videos


@pytest.mark.slow
def test_manifest_schema_and_files(built: tuple[Path, list[Path]]) -> None:
    tmp, _ = built
    rows = read_manifest(tmp / "a")
    assert rows and tuple(rows[0].keys())[:9] == MANIFEST_COLUMNS[:9]
    assert {r["method"] for r in rows} == {"real", "self_blend", "warp"}
    for r in rows:
        assert r["label"] == ("real" if r["method"] == "real" else "fake")
        assert r["split"] in {"train", "val", "test"}
        data = (tmp / "a" / r["path"]).read_bytes()
        import hashlib

        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        crops = np.load(tmp / "a" / r["crops"])
        assert crops["images"].shape[1:] == (160, 160, 3) and len(crops["frames"]) == 3


@pytest.mark.slow
def test_same_seed_same_hashes_and_resume(built: tuple[Path, list[Path]]) -> None:
    tmp, videos = built
    again = tmp / "again"
    build_testset(videos, again, TestsetConfig(seed=3, **TINY), progress=False)
    a = [r["sha256"] for r in read_manifest(tmp / "a")]
    assert a == [r["sha256"] for r in read_manifest(again)]
    other = tmp / "other"
    build_testset(videos, other, TestsetConfig(seed=4, **TINY), progress=False)
    assert set(a).isdisjoint(r["sha256"] for r in read_manifest(other))
    # Resume: a finished item is not rebuilt (its file is left exactly as it was).
    item = again / read_manifest(again)[0]["path"]
    before = item.stat().st_mtime_ns
    build_testset(videos, again, TestsetConfig(seed=3, **TINY), progress=False)
    assert item.stat().st_mtime_ns == before


@pytest.mark.slow
def test_fakes_carry_manifest_and_watermark_and_reals_neither(built: tuple[Path, list[Path]]) -> None:
    import json

    from fakescope.provenance.credentials import read_content_credentials
    from generator.labels import read_file

    tmp, _ = built
    rows = read_manifest(tmp / "a")
    assert {r["label"] for r in rows} == {"real", "fake"}
    for r in rows:
        path = tmp / "a" / r["path"]
        info, _ = read_content_credentials(path)
        mark = read_file(path)
        params = json.loads(r["params"])
        if r["label"] == "real":
            assert info is None and not mark.found and "label" not in params
            continue
        assert info is not None and info["valid"] and info["ai_generated"]
        assert info["fakescope"]["method"] == r["method"]
        assert info["fakescope"]["params"]["perturb"] == params["perturb"]  # the manifest declares every knob
        assert mark.found and mark.payload == f"fakescope:{r['method']}"
        assert params["label"]["content_sha256"] == info["fakescope"]["content_sha256"]
        assert params["label"]["watermark"] == mark.payload


def test_splits_are_identity_disjoint() -> None:
    ids = [f"person{i}" for i in range(20)]
    splits = assign_splits(ids, seed=0, fractions=(0.6, 0.2, 0.2))
    assert set(splits.values()) == {"train", "val", "test"}
    assert sorted(splits) == sorted(ids)  # each identity in exactly one split
    assert assign_splits(ids, seed=0, fractions=(0.6, 0.2, 0.2)) == splits


def test_warp_changes_only_the_face_region(frame_and_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    frame, lm = frame_and_landmarks
    params = {"face_size": 64, "blur_sigma": 1.0, "feather": 9}
    fake, _ = warp_fake_frame(frame, lm, params)
    region = dilated_region(lm, frame.shape[:2], 9)
    assert np.array_equal(fake[~region], frame[~region])
    assert np.abs(fake[region].astype(int) - frame[region]).mean() > 1.0


def test_self_blend_changes_only_the_face_region(frame_and_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    from generator.selfblend import self_blend

    frame, lm = frame_and_landmarks
    fake, mask, _ = self_blend(frame, lm, np.random.default_rng(0))
    assert np.array_equal(fake[mask == 0], frame[mask == 0])
    region = dilated_region(lm, frame.shape[:2], 25)
    assert not (mask[~region] > 0).any()


def test_perturbations_are_recorded_and_applied(frame_and_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    frame, _ = frame_and_landmarks
    rng = np.random.default_rng(0)
    assert apply_frame(frame, Perturbation(), rng) is frame
    blurred = apply_frame(frame, Perturbation(blur_sigma=2.5), rng)
    assert cv2.Laplacian(blurred, cv2.CV_64F).var() < cv2.Laplacian(frame, cv2.CV_64F).var()
    kinds = {k for _ in range(200) for k in sample_perturbation(rng).as_params()}
    assert kinds == {"jpeg_quality", "crf", "resize", "blur_sigma", "noise_sigma", "gamma"}


def _bank_with_engine(identity_sources: dict[str, list[str]]):
    from types import SimpleNamespace

    from generator.testset import MethodBank, TestsetConfig

    eng = SimpleNamespace(identities=list(identity_sources), run_dir=Path("runs/gen"),
                          meta={"data": {k: {"sources": v} for k, v in identity_sources.items()}})
    bank = MethodBank(TestsetConfig(methods=("ae_swap",)))
    bank._engines["ae_swap"] = eng
    return bank, eng


def test_a_generator_that_learnt_a_test_identity_is_refused() -> None:
    """Swaps *to* a test identity would teach the detector that face as fake (its real test videos
    then score as fakes): the builder names the offending decoder and the train identities to use."""
    bank, _ = _bank_with_engine({"a": ["videos/clips/alice.mp4"], "b": ["videos/clips/bob.mp4"],
                                 "c": ["photos/carol/1.jpg"]})
    splits = {"clips_alice": "train", "clips_bob": "test", "clips_dave": "train"}
    with pytest.raises(ValueError, match=r"b \(clips_bob, test split\).*clips_alice, clips_dave"):
        bank.check_identity_leaks(splits)
    bank.check_identity_leaks({"clips_alice": "train", "clips_bob": "train"})  # photo-only identity c is no leak


def test_a_swap_never_targets_the_videos_own_identity() -> None:
    from generator.testset import Segment

    bank, eng = _bank_with_engine({"a": ["videos/clips/alice.mp4"], "b": ["videos/clips/bob.mp4"]})
    eng.step = 10
    seg = Segment(Path("videos/clips/alice.mp4"), "clips_alice", 0, 0, [], [])
    targets = {bank.item_params("ae_swap", seg, np.random.default_rng(i))["to"] for i in range(20)}
    assert targets == {"b"}
