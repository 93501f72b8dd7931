from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.core.faces import FacePipeline
from fakescope.core.manifest import MANIFEST_COLUMNS, read_manifest
from generator.perturb import Perturbation, apply_frame, sample_perturbation
from generator.testset import DETAIL_CHOICES, TestsetConfig, assign_splits, build_testset
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


DRIVEN = dict(clip_frames=8, segments_per_video=2, crops_per_item=3, methods=("self_blend", "reenact", "animate"))


@pytest.fixture(scope="module")
def built_driven(tmp_path_factory: pytest.TempPathFactory, talking_head: Path) -> tuple[Path, list[Path]]:
    tmp = tmp_path_factory.mktemp("ts_driven")
    videos = _two_identities(tmp, talking_head)
    build_testset(videos, tmp / "a", TestsetConfig(seed=5, **DRIVEN), progress=False)
    return tmp, videos


@pytest.mark.slow
def test_reenact_and_animate_items_name_their_driver_and_every_knob(built_driven: tuple[Path, list[Path]]) -> None:
    import json

    tmp, videos = built_driven
    rows = read_manifest(tmp / "a")
    assert {r["method"] for r in rows} == {"real", "self_blend", "reenact", "animate"}
    sources = {str(v) for v in videos}
    for r in rows:
        p = json.loads(r["params"])
        if r["method"] in ("reenact", "animate"):
            d = p["driver"]
            assert d["identity"] != r["identity"] and d["source"] in sources and d["source"] != r["source"]
            assert isinstance(d["start_frame"], int) and isinstance(d["segment"], int)
            assert p["smoothing"]["kind"] in ("ema", "one_euro") and p["warp"] in ("pwa", "tps") and p["gain"] > 0
            assert r["label"] == "fake" and r["identity"] in r["path"]  # the target's identity, not the driver's
        if r["method"] == "reenact":
            assert p["mouth_fill"] in ("shade", "own_frame", "driver")
        if r["method"] == "animate":
            assert isinstance(p["still_frame"], int) and p["mouth_fill"] in ("shade", "driver", "none")
        if r["method"] in ("self_blend", "reenact"):
            assert {"colour", "mask", "erode", "feather", "blend"} <= set(p)
    assert not json.loads((tmp / "a" / "build.json").read_text()).get("unavailable")


@pytest.mark.slow
def test_the_contact_sheet_has_one_strip_per_method(built_driven: tuple[Path, list[Path]]) -> None:
    from generator.contact import LABEL_H, PREVIEW_SIZE

    tmp, _ = built_driven
    sheet = cv2.imread(str(tmp / "a" / "contact_sheet.png"))
    assert sheet is not None
    strip_h = 2 * LABEL_H + PREVIEW_SIZE
    assert sheet.shape[0] == 3 * strip_h and sheet.shape[1] == 3 * PREVIEW_SIZE  # self_blend, reenact, animate
    for k in range(3):
        cells = sheet[k * strip_h + 2 * LABEL_H:(k + 1) * strip_h]
        inp, fake, diff = (cells[:, i * PREVIEW_SIZE:(i + 1) * PREVIEW_SIZE].astype(int) for i in range(3))
        assert np.abs(fake - inp).max() > 5 and diff.max() > 20  # each method changed something, and it shows
    previews = sorted(p.stem for p in (tmp / "a" / "previews").glob("*.png"))
    assert previews == sorted(r["path"][6:-4] for r in read_manifest(tmp / "a") if r["label"] == "fake")


@pytest.mark.slow
def test_driven_methods_rebuild_byte_identically(built_driven: tuple[Path, list[Path]]) -> None:
    tmp, videos = built_driven
    again = tmp / "again"
    build_testset(videos, again, TestsetConfig(seed=5, **DRIVEN), progress=False)
    a, b = read_manifest(tmp / "a"), read_manifest(again)
    assert [(r["path"], r["sha256"], r["params"]) for r in a] == [(r["path"], r["sha256"], r["params"]) for r in b]
    assert (tmp / "a" / "contact_sheet.png").read_bytes() == (again / "contact_sheet.png").read_bytes()


@pytest.mark.slow
def test_a_method_that_cannot_serve_a_segment_is_skipped_and_says_why(tmp_path: Path, talking_head: Path) -> None:
    import json

    cfg = TestsetConfig(seed=0, clip_frames=8, segments_per_video=1, crops_per_item=2, methods=("reenact",))
    build_testset([talking_head], tmp_path / "one", cfg, progress=False)
    assert [r["method"] for r in read_manifest(tmp_path / "one")] == ["real"]  # nobody else to drive the face
    why = json.loads((tmp_path / "one" / "build.json").read_text())["unavailable"]
    assert list(why) == ["fixtures_talking_head_s0_reenact"] and "no driver" in why["fixtures_talking_head_s0_reenact"]


def test_ae_recon_uses_the_segments_own_decoder_and_is_unavailable_without_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from generator import testset
    from generator.testset import MethodBank, MethodUnavailable, Segment

    monkeypatch.setattr(testset, "run_uses_gan", lambda meta: False)
    bank, eng = _bank_with_engine({"a": ["videos/clips/alice.mp4"], "b": ["videos/clips/bob.mp4"]})
    eng.step = 7
    bank = MethodBank(TestsetConfig(methods=("ae_recon",), runs=("runs/gen",)))
    bank._runs["runs/gen"] = eng
    assert bank.available() == ["ae_recon"]
    alice = Segment(Path("videos/clips/alice.mp4"), "clips_alice", 0, 0, [], [])
    p = bank.item_params("ae_recon", alice, np.random.default_rng(0))
    assert p["to"] == "a" and p["run"] == "gen" and p["run_step"] == 7 and p["gan"] is False
    assert {"colour", "mask", "erode", "feather", "blend"} <= set(p)
    carol = Segment(Path("videos/clips/carol.mp4"), "clips_carol", 0, 0, [], [])
    with pytest.raises(MethodUnavailable, match="no decoder of clips_carol"):
        bank.item_params("ae_recon", carol, np.random.default_rng(0))
    # a recon shows a person's own face in their own items: test-split decoders are no leak
    bank.check_identity_leaks({"clips_alice": "test", "clips_bob": "val"})


def test_ae_recon_falls_back_to_a_generic_decoder_trained_on_photos(monkeypatch: pytest.MonkeyPatch) -> None:
    from generator import testset
    from generator.testset import MethodBank, Segment

    monkeypatch.setattr(testset, "run_uses_gan", lambda meta: False)
    _, own = _bank_with_engine({"a": ["videos/clips/alice.mp4"], "b": ["videos/clips/bob.mp4"]})
    _, gen = _bank_with_engine({"crowd": ["faces/lfw/x/x_0001.jpg", "faces/lfw/y/y_0001.png"],
                                "mixed": ["faces/p.jpg", "videos/clips/dave.mp4"]})
    own.step = gen.step = 3
    gen.run_dir = Path("runs/photos")
    bank = MethodBank(TestsetConfig(methods=("ae_recon",), runs=("runs/gen", "runs/photos")))
    bank._runs.update({"runs/gen": own, "runs/photos": gen})
    alice = Segment(Path("videos/clips/alice.mp4"), "clips_alice", 0, 0, [], [])
    carol = Segment(Path("videos/clips/carol.mp4"), "clips_carol", 0, 0, [], [])
    p = bank.item_params("ae_recon", alice, np.random.default_rng(0))
    assert (p["run"], p["to"]) == ("gen", "a") and "generic" not in p  # the own decoder first
    q = bank.item_params("ae_recon", carol, np.random.default_rng(0))
    assert (q["run"], q["to"], q["generic"]) == ("photos", "crowd", True)  # not "mixed": it saw a video


@pytest.mark.slow
def test_ae_recon_items_from_a_tiny_run(tmp_path: Path, talking_head: Path, tiny_preset, two_facesets) -> None:
    import dataclasses
    import json

    from generator.train import train_facesets

    videos = _two_identities(tmp_path, talking_head)
    # decoder "alice" was trained (in name) on the talking head; "bob" on a video not in the test set
    sets = {"alice": dataclasses.replace(two_facesets["alice"], sources=(str(talking_head),)),
            "bob": dataclasses.replace(two_facesets["bob"], sources=(str(tmp_path / "elsewhere.mp4"),))}
    run = tmp_path / "run"
    train_facesets(sets, run, tiny_preset, max_steps=2, progress=False)
    cfg = TestsetConfig(seed=0, clip_frames=8, segments_per_video=1, crops_per_item=2, methods=("ae_recon",),
                        runs=(str(run),))
    build_testset(videos, tmp_path / "ts", cfg, progress=False)
    rows = {r["identity"]: r for r in read_manifest(tmp_path / "ts") if r["method"] == "ae_recon"}
    assert list(rows) == ["fixtures_talking_head"]
    p = json.loads(rows["fixtures_talking_head"]["params"])
    assert p["to"] == "alice" and p["run"] == "run"
    assert p["detail"] in DETAIL_CHOICES  # as decoded or sharpened, drawn per item
    why = json.loads((tmp_path / "ts" / "build.json").read_text())["unavailable"]
    assert "no decoder of mirror_other" in why["mirror_other_s0_ae_recon"]


def test_an_unknown_method_is_refused_before_anything_is_written(tmp_path: Path, talking_head: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from fakescope.cli import main

    out = tmp_path / "ts"
    assert main(["testset", "build", "--real", str(talking_head), "--out", str(out), "--methods", "reenact",
                 "faceswap", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown fake method faceswap" in err and "reenact" in err and "ae_recon" in err
    assert not out.exists()


def test_clips_of_one_person_share_an_identity_and_so_a_split() -> None:
    from generator.testset import assign_splits, clip_name, identity_of

    mead = [Path(f"videos/mead/M030_front_{e}_level3_001.mp4") for e in ("angry", "happy", "sad")]
    style = [Path("videos/styletalk/source_video/andrew_clip_1.mp4"), Path("videos/styletalk/source_video/andrew_clip_2.mp4"),
             Path("videos/styletalk/source_video/feifeili_clip2_short.mp4")]
    assert {identity_of(p) for p in mead} == {"mead_M030"}
    assert [identity_of(p) for p in style] == ["source_video_andrew", "source_video_andrew", "source_video_feifeili"]
    assert identity_of(Path("videos/driving/d10.mp4")) == "driving_d10" == clip_name(Path("videos/driving/d10.mp4"))
    assert len({clip_name(p) for p in mead}) == 3  # items and seeds stay per clip
    others = [Path(f"videos/x/p{k}.mp4") for k in range(12)]
    splits = assign_splits([identity_of(p) for p in mead + style + others], 0, (0.5, 0.2, 0.3))
    assert len({splits[identity_of(p)] for p in mead}) == 1
