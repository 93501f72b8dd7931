"""`fakescope testset build`: reproducible adversarial test sets with provenance.

Each real video is cut into a few short segments. From every segment we write the real clip
and one clip per fake method, each passed through a randomly drawn perturbation chain and
H.264-encoded. Every item gets aligned face crops (decoded back from the written clip, so they
show what a scan sees) for fast detector training.

Methods: ``self_blend`` and ``warp`` (pseudo-fakes of the real face), ``reenact`` (another
person's mouth motion drives the lower face, generator.reenact), ``animate`` (the segment's first
frame moved by another person's head and face motion, generator.animate), and with generator
runs ``ae_swap`` / ``ae_gan_swap`` (the face swapped to another identity) and ``ae_recon`` (the
face through its own identity's decoder, or a generic decoder trained on still photos). The
face-changing ones draw their blending per item (generator.blend.sample_blend_params). Drivers of
``reenact`` and ``animate`` are segments of other train-split identities of the same build; a
method that cannot serve a segment (no driver, no decoder of that identity) is skipped for it and
the reason is listed in ``build.json``.
Each fake also leaves a preview pair (generator.contact) and the build ends with
``contact_sheet.png``.

Reproducibility: all randomness flows from ``seed`` and the item id, frames are encoded with
bit-exact single-threaded x264, so the same inputs and seed give the same files and hashes.
Resumability: an item is finished when its sidecar JSON exists; a rerun skips finished items.

Labels (generator.labels): every fake item carries fakescope's watermark (checked to read back from
the encoded clip; the strength rises for harsh CRFs) and a signed C2PA manifest; reals carry
neither. The C2PA signature is salted at random by c2pa, so byte-identical rebuilds hold on one
installation (the first manifest of a clip is reused) while ``params.label.content_sha256``, the
hash of the clip before its manifest, is the same everywhere. A fake's training crops are decoded
from an unlabelled twin encode of the same frames, so no detector can learn the watermark as
the sign of a fake.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from fakescope import __version__
from fakescope.core.atomicio import write_bytes_atomic, write_json_atomic, write_png_atomic
from fakescope.core.errors import UnusableInputError
from fakescope.core.faces import FaceTracker
from fakescope.core.hashing import sha256_bytes, sha256_file
from fakescope.core.manifest import write_manifest as write_manifest_rows
from fakescope.core.video import IMAGE_SUFFIXES, expand_video_inputs, iter_frames, probe
from generator.blend import sample_blend_params
from generator.clips import encode_h264, extract_crops, stable_rng
from generator.contact import preview_pair, write_contact_sheet
from generator.labels import encode_labelled, sign_video_bytes
from generator.perturb import apply_frame, sample_perturbation
from generator.warpfake import sample_warp_params, warp_fake_frame

if TYPE_CHECKING:
    from generator.attacks import AttackTarget
    from generator.reenact import MouthPatch



@dataclass(frozen=True)
class TestsetConfig:
    __test__ = False  # not a pytest test class despite the name

    seed: int = 0
    clip_frames: int = 48  # frames per item
    segments_per_video: int = 3
    max_side: int = 512  # frames are downscaled so their long side is at most this
    crop_size: int = 160
    crops_per_item: int = 16
    min_face_fraction: float = 0.9  # segments where the face is found less often are skipped
    # ae_* need generator runs (``runs``); reenact/animate need another train-split identity as driver
    methods: tuple[str, ...] = ("self_blend", "warp", "reenact", "animate", "ae_swap", "ae_gan_swap", "ae_recon")
    # train, val, test (by identity); a large test share because a few dozen identities is all we have
    split_fractions: tuple[float, float, float] = (0.5, 0.2, 0.3)
    runs: tuple[str, ...] = ()  # generator run dirs for ae_swap / ae_gan_swap / ae_recon
    attack: str | None = None  # fgsm | pgd
    attack_detector: str | None = None
    attack_eps: tuple[int, ...] = (2, 4, 8)  # in 1/255 units
    pgd_steps: int = 10


@dataclass(frozen=True)
class Segment:
    source: Path
    identity: str
    index: int
    start: int
    frames: list[np.ndarray] = field(repr=False)
    landmarks: list[np.ndarray | None] = field(repr=False)


ALL_METHODS = ("self_blend", "warp", "reenact", "animate", "ae_swap", "ae_gan_swap", "ae_recon")
DRIVEN = ("reenact", "animate")  # methods that take another person's motion
# Autoencoder swaps and reconstructions: as decoded (0) or sharpened to this share of the replaced face's
# detail (generator.blend.upscale_with_detail), so softness is no shortcut for the detector.
DETAIL_CHOICES = (0.0, 0.6, 0.8, 1.0)


class MethodUnavailable(Exception):
    """A method cannot make an item from this segment (the reason says why); the item is skipped."""


@dataclass(frozen=True)
class Driver:
    """A train-split segment's landmark track, lent to other identities' reenact/animate items."""

    source: Path
    identity: str
    index: int
    start: int
    landmarks: np.ndarray = field(repr=False)  # (n, 68, 2), frames without a face filled from the nearest
    tracked: tuple[np.ndarray | None, ...] = field(default=(), repr=False)  # as tracked (None: no face)
    # its mouth in each frame (generator.reenact.mouth_patch; None: closed or no face), lent to
    # reenact/animate items whose mouth_fill is ``driver``
    mouths: tuple[MouthPatch | None, ...] = field(default=(), repr=False)

    def as_params(self) -> dict[str, Any]:
        return {"source": str(self.source), "identity": self.identity, "segment": self.index,
                "start_frame": self.start}


@dataclass(frozen=True)
class Clip:
    """A made item's frames and their face landmarks, and the frame each was made from with its landmarks."""

    frames: list[np.ndarray] = field(repr=False)
    landmarks: list[np.ndarray | None] = field(repr=False)
    inputs: list[np.ndarray] = field(repr=False)
    input_landmarks: list[np.ndarray | None] = field(repr=False)


def find_videos(inputs: Sequence[str | Path]) -> list[Path]:
    out = expand_video_inputs(inputs)
    for p in out:
        if not p.is_file():
            raise UnusableInputError(str(p), "no such file or directory")
    return out


def clip_name(path: Path) -> str:
    """One name per video (the file stem, made unique with its parent folder): item ids and seeds."""
    return f"{path.parent.name}_{path.stem}".replace(" ", "_")


_MEAD_SPEAKER = re.compile(r"^([MW]\d{3})_")
_CLIP_SUFFIX = re.compile(r"_?clip_?\d+(_short)?$")


def identity_of(path: Path) -> str:
    """The person in a video, so that several clips of one person land in one split.

    Collections name clips of one person alike: MEAD ``M030_front_angry_level3_001`` (speaker
    ``M030``), StyleTalk ``andrew_clip_1`` / ``feifeili_clip2_short`` (``andrew``, ``feifeili``).
    Any other file is its own identity (folder and stem), as before.
    """
    stem = path.stem
    if m := _MEAD_SPEAKER.match(stem):
        person = m.group(1)
    else:
        person = _CLIP_SUFFIX.sub("", stem) or stem
    return f"{path.parent.name}_{person}".replace(" ", "_")


def assign_splits(identities: Sequence[str], seed: int, fractions: tuple[float, float, float]) -> dict[str, str]:
    """Identity-disjoint splits: whole identities go to one split, shuffled by the seed."""
    ids = sorted(set(identities))
    order = stable_rng(seed, "splits").permutation(len(ids))
    n = len(ids)
    n_test = max(1, round(n * fractions[2])) if n >= 3 else 0
    n_val = max(1, round(n * fractions[1])) if n >= 3 else 0
    out = {}
    for rank, i in enumerate(order):
        out[ids[i]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return out


def plan_segments(n_frames: int, cfg: TestsetConfig, rng: np.random.Generator) -> list[int]:
    """Non-overlapping segment starts spread over the video, jittered by the seed."""
    if n_frames < cfg.clip_frames:
        return []
    k = min(cfg.segments_per_video, n_frames // cfg.clip_frames)
    slot = n_frames // k
    starts = []
    for i in range(k):
        free = slot - cfg.clip_frames
        starts.append(i * slot + (int(rng.integers(0, free + 1)) if free > 0 else 0))
    return starts


def read_segments(path: Path, cfg: TestsetConfig,
                  known: dict[int, list[np.ndarray | None]] | None = None) -> Iterator[Segment]:
    """The video's segments with their frames and landmarks; ``known`` (segment index -> landmarks,
    from an earlier pass over the same video) skips face tracking for those segments."""
    info = probe(path)
    starts = plan_segments(info.frames, cfg, stable_rng(cfg.seed, "segments", clip_name(path)))
    if not starts:
        return
    scale = min(1.0, cfg.max_side / max(info.width, info.height))
    want = {s + i: (si, s) for si, s in enumerate(starts) for i in range(cfg.clip_frames)}
    cur: dict[str, Any] | None = None
    tracker: FaceTracker | None = None
    for index, ts, frame in iter_frames(path, info):
        if index not in want:
            continue
        si, start = want[index]
        if cur is None or cur["index"] != si:
            tracker = FaceTracker()
            cur = {"index": si, "start": start, "frames": [], "lms": []}
        if scale < 1.0:
            frame = cv2.resize(frame, (round(info.width * scale) // 2 * 2, round(info.height * scale) // 2 * 2),
                               interpolation=cv2.INTER_AREA)
        elif frame.shape[0] % 2 or frame.shape[1] % 2:  # H.264 4:2:0 needs even sizes
            frame = np.ascontiguousarray(frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2])
        cur["frames"].append(frame)
        if known is not None and si in known:
            cur["lms"].append(known[si][len(cur["frames"]) - 1])
        else:
            assert tracker is not None
            faces = tracker.process(index, ts, frame)
            main = min(faces, key=lambda f: f.track_id) if faces else None
            cur["lms"].append(None if main is None else main.landmarks)
        if len(cur["frames"]) == cfg.clip_frames:
            found = sum(lm is not None for lm in cur["lms"]) / cfg.clip_frames
            if found >= cfg.min_face_fraction:
                yield Segment(path, identity_of(path), si, start, cur["frames"], cur["lms"])
            cur = None


def run_uses_gan(meta: dict[str, Any]) -> bool:
    """A run's swaps count as ``ae_gan_swap`` once its discriminator has been active."""
    from generator.render import swap_method  # lazy: needs torch (only called once a swap engine is loaded)

    return swap_method(meta) == "ae_gan_swap"


class MethodBank:
    """Fake makers by method name; swap engines load lazily from generator runs, drivers come from the build."""

    def __init__(self, cfg: TestsetConfig, drivers: Sequence[Driver] = ()) -> None:
        self.cfg = cfg
        self.drivers = list(drivers)
        self._engines: dict[str, Any] = {}
        self._runs: dict[str, Any] = {}

    def available(self) -> list[str]:
        """Methods this build makes (a method may still be unavailable for a given segment)."""
        unknown = sorted(set(self.cfg.methods) - set(ALL_METHODS))
        if unknown:
            raise ValueError(f"unknown fake method {', '.join(unknown)}; choose from {', '.join(ALL_METHODS)}")
        methods = [m for m in self.cfg.methods if m in ("self_blend", "warp", "reenact", "animate")]
        for m in ("ae_swap", "ae_gan_swap"):
            if m in self.cfg.methods and self._engine(m) is not None:
                methods.append(m)
        if "ae_recon" in self.cfg.methods and self.cfg.runs:
            methods.append("ae_recon")
        return methods

    def _load(self, run: str) -> Any:
        if run not in self._runs:
            from generator.render import SwapEngine  # lazy: needs torch

            self._runs[run] = SwapEngine(Path(run))
        return self._runs[run]

    def _engine(self, method: str) -> Any:
        if method not in self._engines:
            self._engines[method] = None
            for run in self.cfg.runs:
                eng = self._load(run)
                if (method == "ae_gan_swap") == run_uses_gan(eng.meta):
                    self._engines[method] = eng
                    break
        return self._engines[method]

    def recon_engine(self, identity: str) -> tuple[Any, str] | None:
        """The decoder that renders ``identity``'s own face: the first run (in ``cfg.runs`` order) with a
        decoder trained on that identity's video, else the first *generic* decoder (one trained on
        still photos only, e.g. thousands of people from ../shared/data/faces), else None.

        Why the generic fallback: per-identity decoders exist for the handful of people a swap run
        was trained on, so ``ae_recon`` covered only those; a decoder that learnt faces in general
        renders every identity of the build, so the autoencoder look is not tied to a few people."""
        generic = None
        for run in self.cfg.runs:
            eng = self._load(run)
            own = self.decoder_identities(eng)
            for name, ident in own.items():
                if ident == identity:
                    return eng, name
            if generic is None:
                generic = next(((eng, n) for n in eng.identities if n not in own and self._photo_only(eng, n)), None)
        return generic

    @staticmethod
    def _photo_only(eng: Any, name: str) -> bool:
        srcs = eng.meta.get("data", {}).get(name, {}).get("sources", [])
        return bool(srcs) and all(Path(x).suffix.lower() in IMAGE_SUFFIXES for x in srcs)

    @staticmethod
    def decoder_identities(eng: Any) -> dict[str, str]:
        """Generator identity name -> test-set identity of the video it was trained on (where it was one)."""
        out = {}
        for name in eng.identities:
            srcs = eng.meta.get("data", {}).get(name, {}).get("sources", [])
            videos = [Path(x) for x in srcs if Path(x).suffix.lower() not in IMAGE_SUFFIXES]
            if videos:
                out[name] = identity_of(videos[0])
        return out

    def check_identity_leaks(self, splits: dict[str, str]) -> None:
        """Refuse swap engines whose decoders learnt a val/test identity's face.

        Why: a swap *to* identity X shows X's face. If X's real videos sit in the test split, the
        detector is trained to call X's face fake and then meets X's real videos in the test,
        which breaks the identity-disjointness the test split promises.

        ``ae_recon`` needs no such check: it shows a person's own face (through their own
        decoder) in that person's own items, so the face stays in its identity's split. A run
        with val/test decoders is therefore fine for ``ae_recon`` alone; pass it to a build
        whose ``methods`` leave out the swaps, or order ``runs`` so the swaps pick another one.
        """
        for method in ("ae_swap", "ae_gan_swap"):
            eng = self._engine(method) if method in self.cfg.methods else None
            if eng is None:
                continue
            leaks = {g: t for g, t in self.decoder_identities(eng).items() if splits.get(t, "train") != "train"}
            if leaks:
                train = sorted(k for k, v in splits.items() if v == "train")
                raise ValueError(
                    f"generator run {eng.run_dir} has decoders for {', '.join(f'{g} ({t}, {splits[t]} split)' for g, t in leaks.items())}; "
                    f"swaps to them would teach the detector those faces as fake. Train the generator on train-split "
                    f"identities only: {', '.join(train)}")

    def _driver(self, segment: Segment, rng: np.random.Generator) -> Driver:
        pool = [d for d in self.drivers if d.identity != segment.identity]
        if not pool:
            raise MethodUnavailable(f"no driver: no train-split identity other than {segment.identity} has a usable segment")
        return pool[int(rng.integers(len(pool)))]

    def item_params(self, method: str, segment: Segment, rng: np.random.Generator) -> dict[str, Any]:
        """Every knob of one item, drawn from the item's rng; MethodUnavailable if the method cannot serve this segment."""
        if method == "self_blend":
            return {"frame_seed": int(rng.integers(2**31)), **sample_blend_params(rng)}
        if method == "warp":
            return sample_warp_params(rng)
        if method in ("ae_swap", "ae_gan_swap"):
            eng = self._engine(method)
            own = self.decoder_identities(eng)
            targets = [t for t in eng.identities if own.get(t) != segment.identity] or list(eng.identities)
            return {"run": Path(eng.run_dir).name, "run_step": int(eng.step), "to": targets[int(rng.integers(len(targets)))],
                    **sample_blend_params(rng), "detail": float(rng.choice(DETAIL_CHOICES))}
        if method == "ae_recon":
            found = self.recon_engine(segment.identity)
            if found is None:
                runs = ", ".join(Path(r).name for r in self.cfg.runs)
                raise MethodUnavailable(f"no decoder of {segment.identity} in the generator runs ({runs}), and none of "
                                        "them has a generic decoder (an identity trained on photos only)")
            eng, name = found
            generic = {"generic": True} if self._photo_only(eng, name) else {}
            return {"run": Path(eng.run_dir).name, "run_step": int(eng.step), "to": name, **generic,
                    "gan": run_uses_gan(eng.meta), **sample_blend_params(rng), "detail": float(rng.choice(DETAIL_CHOICES))}
        if method == "reenact":
            from generator.reenact import MIN_OWN_OPENING, most_open_frame, sample_reenact_params

            driver = self._driver(segment, rng)
            p = {"driver": driver.as_params(), **sample_reenact_params(rng), **sample_blend_params(rng)}
            _driver_mouth_fallback(p, driver.mouths)
            if p["mouth_fill"] == "own_frame":
                k, opening = most_open_frame(segment.landmarks)
                if opening < MIN_OWN_OPENING:  # the target never opens its mouth: nothing of its own to show
                    p["mouth_fill"] = "shade"
                    p["mouth_fill_fallback"] = f"own mouth opens {opening:.2f} < {MIN_OWN_OPENING}"
                else:
                    p["mouth_frame"] = k
            return p
        if method == "animate":
            from generator.animate import sample_animate_params

            driver = self._driver(segment, rng)
            still = next(i for i, lm in enumerate(segment.landmarks) if lm is not None)
            p = {"driver": driver.as_params(), "still_frame": still, **sample_animate_params(rng)}
            _driver_mouth_fallback(p, driver.mouths[: len(segment.frames)])
            return p
        return {}

    def make_frame(self, method: str, frame: np.ndarray, lm: np.ndarray, params: dict[str, Any],
                   engine: Any = None) -> np.ndarray:
        """One frame of a per-frame method (self_blend, warp, swaps; ae_recon with its ``engine``)."""
        if method == "self_blend":
            from generator.selfblend import self_blend

            # The same parameters on every frame of the clip (fresh rng per frame) avoid flicker.
            return self_blend(frame, lm, np.random.default_rng(params["frame_seed"]), mask=params["mask"],
                              erode=params["erode"], feather=params["feather"], colour=params["colour"],
                              blend=params["blend"])[0]
        if method == "warp":
            return warp_fake_frame(frame, lm, params)[0]
        if method in ("ae_swap", "ae_gan_swap", "ae_recon"):
            from generator.render import RenderOptions

            opts = RenderOptions(colour=params["colour"], blend="seamless" if params["blend"] == "poisson" else "feather",
                                 shape=params["mask"], erode=params["erode"], feather=params["feather"], precision="fp32",
                                 detail=params.get("detail") or None)  # 0 or absent (older manifests): as decoded
            eng = engine if engine is not None else self._engine(method)
            return eng.swap_frame(frame, lm, params["to"], opts)[0]
        raise ValueError(f"unknown fake method {method!r}")

    def driver_track(self, params: dict[str, Any]) -> np.ndarray:
        return self._driver_of(params).landmarks

    def _driver_of(self, params: dict[str, Any]) -> Driver:
        d = params["driver"]
        for drv in self.drivers:
            if (str(drv.source), drv.index) == (d["source"], d["segment"]):  # one identity may have several clips
                return drv
        raise ValueError(f"driver {d['identity']} segment {d['segment']} is not in this build")

    def make_clip(self, method: str, seg: Segment, params: dict[str, Any]) -> Clip:
        """A whole item's frames (before perturbation), their landmarks and their input frames."""
        if method == "real":
            return Clip(list(seg.frames), list(seg.landmarks), list(seg.frames), list(seg.landmarks))
        if method == "reenact":
            from generator.reenact import reenact_clip

            drv = self._driver_of(params)
            frames, lms = reenact_clip(seg.frames, seg.landmarks, drv.landmarks, params, drv.mouths)
            return Clip(frames, lms, list(seg.frames), list(seg.landmarks))
        if method == "animate":
            from generator.animate import animate_clip

            k = int(params["still_frame"])
            still, still_lm = seg.frames[k], seg.landmarks[k]
            assert still_lm is not None
            drv = self._driver_of(params)
            n = len(seg.frames)
            frames, lms = animate_clip(still, still_lm, drv.landmarks[:n], params, drv.mouths[:n])
            return Clip(frames, list(lms), [still] * len(frames), [still_lm] * len(frames))
        engine = None
        if method == "ae_recon":
            found = self.recon_engine(seg.identity)
            if found is None:
                raise MethodUnavailable(f"no decoder of {seg.identity} in the generator runs")
            engine = found[0]
        frames = [frame if lm is None else self.make_frame(method, frame, lm, params, engine)
                  for frame, lm in zip(seg.frames, seg.landmarks, strict=True)]
        return Clip(frames, list(seg.landmarks), list(seg.frames), list(seg.landmarks))


def _driver_mouth_fallback(params: dict[str, Any], mouths: Sequence[Any]) -> None:
    """``mouth_fill: driver`` with a driver that never opens its mouth shades every frame: say so in the params."""
    if params.get("mouth_fill") == "driver" and not any(m is not None for m in mouths):
        params["mouth_fill"] = "shade"
        params["mouth_fill_fallback"] = "the driver's mouth never opens in this segment"


def collect_drivers(videos: Sequence[Path], splits: dict[str, str], cfg: TestsetConfig) -> list[Driver]:
    """Landmark tracks of every usable segment of the train-split videos, in a stable order."""
    from generator.reenact import fill_gaps, mouth_patch

    out = []
    for video in sorted(videos, key=lambda v: identity_of(v)):
        if splits.get(identity_of(video)) != "train":
            continue
        try:
            for seg in read_segments(video, cfg):
                mouths = tuple(None if lm is None else mouth_patch(f, lm)
                               for f, lm in zip(seg.frames, seg.landmarks, strict=True))
                out.append(Driver(seg.source, seg.identity, seg.index, seg.start, fill_gaps(seg.landmarks),
                                  tuple(seg.landmarks), mouths))
        except UnusableInputError:
            continue
    return out


def _known_landmarks(drivers: Sequence[Driver], video: Path) -> dict[int, list[np.ndarray | None]]:
    """Landmarks the driver pass already tracked for this video's segments (the same as tracking again)."""
    return {d.index: list(d.tracked) for d in drivers if d.source == video and d.tracked}


def build_testset(real: Sequence[str | Path], out_dir: Path, cfg: TestsetConfig | None = None,
                  progress: bool = True, attack_target: AttackTarget | None = None) -> Path:
    """Build (or resume) a test set; returns the manifest path."""
    from tqdm import tqdm

    cfg = cfg or TestsetConfig()
    out_dir = Path(out_dir)
    unknown = sorted(set(cfg.methods) - set(ALL_METHODS))
    if unknown:  # before anything is written
        raise ValueError(f"unknown fake method {', '.join(unknown)}; choose from {', '.join(ALL_METHODS)}")
    videos = find_videos(real)
    if not videos:
        raise ValueError("no real videos found: pass video files or folders with --real")
    problems = {v: _unusable_because(v, cfg) for v in videos}
    usable = [v for v in videos if problems[v] is None]
    if not usable:  # say why before anything is written: an empty test set helps nobody
        shown = "; ".join(f"{v.name}: {problems[v]}" for v in videos[:5])
        raise ValueError(f"none of the {len(videos)} input videos can make test-set items ({shown}"
                         f"{'; ...' if len(videos) > 5 else ''})")
    (out_dir / "items").mkdir(parents=True, exist_ok=True)
    (out_dir / "crops").mkdir(exist_ok=True)
    splits = assign_splits([identity_of(v) for v in usable], cfg.seed, cfg.split_fractions)
    bank = MethodBank(cfg)
    methods = ["real", *bank.available()]
    bank.check_identity_leaks(splits)
    sources = {str(v): sha256_file(v) for v in videos}
    build = {"config": _jsonable(asdict(cfg)), "methods": methods, "sources": sources, "splits": splits,
             "fakescope": __version__}
    write_json_atomic(out_dir / "build.json", build)
    if any(m in DRIVEN for m in methods):
        # Drivers first: a reenact/animate item of any video may borrow any train identity's motion.
        bank.drivers = collect_drivers(usable, splits, cfg)

    bar = tqdm(total=len(videos) * cfg.segments_per_video * len(methods), unit="item", desc="testset",
               disable=not progress)
    unavailable: dict[str, str] = {}
    for video in usable:
        try:
            segments = list(read_segments(video, cfg, _known_landmarks(bank.drivers, video)))
        except UnusableInputError as exc:
            bar.write(f"skipping {video}: {exc.reason}")
            continue
        for seg in segments:
            for method in methods:
                why = _build_item(seg, method, bank, splits[seg.identity], out_dir, cfg)
                if why is not None:
                    item = f"{clip_name(seg.source)}_s{seg.index}_{method}"
                    unavailable[item] = why
                    bar.write(f"{item}: {method} unavailable: {why}")
                bar.update(1)
    bar.close()
    if unavailable:
        write_json_atomic(out_dir / "build.json", {**build, "unavailable": unavailable})
    if not any((out_dir / "items").glob("*.json")):
        raise ValueError(f"no test-set item could be made from {len(usable)} video(s): no {cfg.clip_frames}-frame "
                         f"segment had a face in {cfg.min_face_fraction:.0%} of its frames (lower --frames, or "
                         "pass videos with one visible face)")
    _resplit(out_dir, splits)
    if cfg.attack:
        from generator.attacks import attack_testset

        if attack_target is None:
            raise ValueError(f"attack {cfg.attack!r} needs the detector to attack (attack_target)")
        attack_testset(out_dir, cfg, attack_target, progress=progress)
    write_contact_sheet(out_dir, methods)
    return write_manifest(out_dir)


def _unusable_because(video: Path, cfg: TestsetConfig) -> str | None:
    """Why a video cannot give an item (None: it can)."""
    try:
        frames = probe(video).frames
    except UnusableInputError as exc:
        return exc.reason
    if frames < cfg.clip_frames:
        return f"{frames} frames, shorter than one {cfg.clip_frames}-frame item (lower --frames)"
    return None


def _resplit(out_dir: Path, splits: dict[str, str]) -> None:
    """Splits are a function of the config, not of item content: keep finished items in step."""
    for sidecar in sorted((out_dir / "items").glob("*.json")):
        row = json.loads(sidecar.read_text())
        if row["identity"] in splits and row["split"] != splits[row["identity"]]:
            row["split"] = splits[row["identity"]]
            write_json_atomic(sidecar, row)


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def _build_item(seg: Segment, method: str, bank: MethodBank, split: str, out_dir: Path,
                cfg: TestsetConfig) -> str | None:
    """Write one item (skipped if finished); returns why the method cannot serve this segment, else None."""
    item_id = f"{clip_name(seg.source)}_s{seg.index}_{method}"
    sidecar = out_dir / "items" / f"{item_id}.json"
    if sidecar.exists():
        return None  # finished in an earlier run
    rng = stable_rng(cfg.seed, item_id)
    try:
        params: dict[str, Any] = bank.item_params(method, seg, rng) if method != "real" else {}
        clip = bank.make_clip(method, seg, params)
    except MethodUnavailable as exc:
        return str(exc)
    pert = sample_perturbation(rng)
    frames = [apply_frame(out, pert, rng) for out in clip.frames]
    fps = 25.0
    tmp = out_dir / "items" / f".{item_id}.tmp.mp4"
    video_path = out_dir / "items" / f"{item_id}.mp4"
    item_params: dict[str, Any] = {**params, "perturb": pert.as_params()}
    if method == "real":
        data = encode_h264(frames, fps, pert.crf, tmp)
        write_bytes_atomic(video_path, data)
        crops = extract_crops(video_path, clip.landmarks, cfg.crop_size, cfg.crops_per_item)
    else:
        clip_bytes = encode_labelled(frames, fps, pert.crf, method, tmp)
        signed = sign_video_bytes(clip_bytes.data, video_path.name, method, item_params,
                                  watermark_payload=clip_bytes.payload, reproducible=True)
        assert signed.data is not None
        data = signed.data
        item_params["label"] = {**signed.as_params(), "watermark": clip_bytes.payload,
                                "watermark_strength": clip_bytes.strength,
                                "watermark_score": round(clip_bytes.readback.score, 1)}
        twin = out_dir / "items" / f".{item_id}.unlabelled.mp4"
        write_bytes_atomic(twin, encode_h264(frames, fps, pert.crf, tmp))
        try:
            crops = extract_crops(twin, clip.landmarks, cfg.crop_size, cfg.crops_per_item)
        finally:
            twin.unlink(missing_ok=True)
        write_bytes_atomic(video_path, data)
        mid = len(clip.frames) // 2
        write_png_atomic(out_dir / "previews" / f"{item_id}.png",
                         preview_pair(clip.inputs[mid], clip.frames[mid], clip.input_landmarks[mid], clip.landmarks[mid]))
    buf = io.BytesIO()
    np.savez_compressed(buf, **crops)
    write_bytes_atomic(out_dir / "crops" / f"{item_id}.npz", buf.getvalue())
    row = {
        "path": f"items/{item_id}.mp4", "label": "real" if method == "real" else "fake",
        "source": str(seg.source), "identity": seg.identity, "method": method,
        "params": json.dumps(item_params, sort_keys=True), "seed": cfg.seed, "split": split,
        "sha256": sha256_bytes(data), "crops": f"crops/{item_id}.npz", "source_start_frame": seg.start,
        "frames": len(frames),
    }
    write_json_atomic(sidecar, row)
    return None


def write_manifest(out_dir: Path) -> Path:
    """The manifest of every item written so far (items/*.json), in a stable order."""
    return write_manifest_rows(out_dir, [json.loads(p.read_text()) for p in sorted((out_dir / "items").glob("*.json"))])
