"""``fakescope swap render``: swap the face in every frame of a video to a trained identity.

Per frame: landmarks (shared face pipeline) -> crop -> encode -> decode as the target identity
-> colour transfer onto the original face -> eroded, feathered mask -> warp back with the inverse
affine -> blend. Frames without a face are written unchanged, so the output always has the
input's frame count and frame rate. :class:`SwapEngine` exposes the single-frame step for the
test-set builder, which needs the swap and its mask without writing a video.

Every written frame carries fakescope's invisible watermark and the final MP4 a signed C2PA
manifest declaring it AI-generated (generator.labels); the watermark is checked to read back from
the written file, and an output that cannot be labelled is removed, never left behind.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from fakescope.core.checkpoint import load_checkpoint, load_module
from fakescope.core.faces import AlignedFace, FacePipeline, align_face
from fakescope.core.hashing import sha256_file
from fakescope.core.video import probe
from generator.blend import (
    BlendMode,
    DetailMode,
    MaskShape,
    blend_mask,
    paste_face,
    shape_mask,
    upscale_with_detail,
)
from generator.colour import ColourMode, transfer_colour
from generator.labels import LabelError, load_signing_identity, read_file, sign_video, strength_for_crf
from generator.models import FaceSwapModel, Preset, autocast_dtype, images_to_tensor, tensor_to_images
from generator.threads import torch_threads
from generator.video_out import OpenCVSink, finalize
from generator.watermark import THRESHOLD, WatermarkEmbedder, payload_for

MaskMode = Literal["hull", "predicted", "both"]


@dataclass(frozen=True)
class RenderOptions:
    colour: ColourMode = "reinhard"
    blend: BlendMode = "feather"
    mask: MaskMode = "hull"  # hull of the input's landmarks, the decoder's mask head, or their intersection
    shape: MaskShape = "hull"  # the landmark mask's shape (generator.blend.shape_mask): hull, ellipse, region
    erode: float = 0.04  # fraction of the crop size
    feather: float = 0.05  # Gaussian sigma, fraction of the crop size
    # Upscale the decoded face to 128 px and sharpen it there to this fraction of the original face's
    # detail (Laplacian variance; generator.blend.upscale_with_detail); None: as decoded, softer than the footage.
    detail: float | None = None
    detail_mode: DetailMode = "sharpen"  # "transfer": the original face's finest band first (pulls identity back; docs)
    all_faces: bool = False  # swap every tracked face, not only the largest one
    h264: bool = True  # re-encode with ffmpeg/libx264 when available
    crf: int = 18
    keep_audio: bool = True
    precision: str = "auto"
    batch_frames: int = 8  # frames decoded per model call
    # Torch threads for the decoder. One by default: the face pipeline and ffmpeg are
    # single-threaded anyway, and small ops on 2 busy cores stall at OpenMP barriers
    # (generator.threads); None leaves torch's setting alone.
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.detail is not None and not 0.0 < self.detail <= 2.0:
            raise ValueError(f"detail={self.detail} is a share of the original face's detail: give a value in (0, 2], "
                             "e.g. 0.8, or leave it out to keep the face as decoded")


@dataclass(frozen=True)
class RenderResult:
    output: Path
    frames: int
    frames_swapped: int
    fps: float
    width: int
    height: int
    seconds: float
    codec: str
    audio: bool
    swapped_frames: tuple[int, ...] = field(default=(), repr=False)
    # How the output is labelled: method, watermark read back from the file, C2PA manifest
    label: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def swap_method(meta: dict[str, Any], step: int | None = None) -> str:
    """The test-set method name of a run's swaps: ``ae_gan_swap`` once its discriminator has been active."""
    from generator.trainer import TrainOptions  # lazy: only needed once a run is loaded

    options = TrainOptions.from_json(meta["options"])
    done = int(meta.get("step", 0) if step is None else step)
    return "ae_gan_swap" if options.gan and done > options.gan_start(Preset.from_json(meta["preset"])) else "ae_swap"


class SwapEngine:
    """A trained run loaded for inference (from its newest checkpoint; safetensors only)."""

    def __init__(self, run_dir: Path, precision: str = "auto") -> None:
        ckpt = load_checkpoint(Path(run_dir))
        if ckpt is None:
            raise ValueError(f"{run_dir} has no checkpoint; train first with `fakescope swap train --out {run_dir}`")
        self.run_dir = Path(run_dir)
        self.step = ckpt.step
        self.meta = ckpt.meta
        self.preset = Preset.from_json(ckpt.meta["preset"])
        self.model = FaceSwapModel(self.preset, ckpt.meta["identities"]).to(memory_format=torch.channels_last)
        load_module("model", self.model, ckpt.tensors)
        self.model.eval()
        self.dtype = autocast_dtype(precision)

    @property
    def identities(self) -> list[str]:
        return list(self.model.identities)

    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast("cpu", dtype=self.dtype) if self.dtype is not None else contextlib.nullcontext()

    @torch.inference_mode()
    def decode_faces(self, crops: np.ndarray, to_identity: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Crops (N, S, S, 3) uint8 -> faces as ``to_identity`` (uint8) and mask-head output in [0, 1] (or None)."""
        idx = self.model.index(to_identity)
        with self._autocast():
            rgb, mlogits = self.model(images_to_tensor(crops), idx)
        masks = None if mlogits is None else torch.sigmoid(mlogits.float())[:, 0].numpy()
        return tensor_to_images(rgb), masks

    def crop(self, frame_bgr: np.ndarray, landmarks: np.ndarray) -> AlignedFace:
        p = self.preset
        return align_face(frame_bgr, landmarks, p.size, p.margin, p.shift_y)

    def paste(
        self, frame_bgr: np.ndarray, crop: AlignedFace, face: np.ndarray, pred_mask: np.ndarray | None, options: RenderOptions
    ) -> tuple[np.ndarray, np.ndarray]:
        """Colour-match a decoded face to its crop, build the blend mask, and paste it into the frame."""
        o = options
        hull = crop.mask if o.shape in ("hull", "eroded_hull") else shape_mask(crop.landmarks, crop.mask.shape, o.shape)
        if o.mask == "hull" or pred_mask is None:
            region = hull
        elif o.mask == "predicted":
            region = pred_mask
        elif o.mask == "both":
            region = np.minimum(hull, pred_mask)
        else:
            raise ValueError(f"unknown mask mode {o.mask!r}; use 'hull', 'predicted' or 'both'")
        face = transfer_colour(face, crop.image, region, o.colour)
        mask, inverse = blend_mask(region, o.erode, o.feather), crop.inverse
        if o.detail is not None:
            face, mask, inverse = upscale_with_detail(frame_bgr, face, mask, region, inverse, o.detail, o.detail_mode)
        return paste_face(frame_bgr, face, mask, inverse, o.blend)

    def swap_frame(
        self, frame_bgr: np.ndarray, landmarks: np.ndarray, to_identity: str, options: RenderOptions | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Swap one face (given by its 68 frame landmarks) to ``to_identity``.

        Returns the new frame and the float32 full-frame mask of where it was changed.
        """
        o = options or RenderOptions()
        crop = self.crop(frame_bgr, landmarks)
        with torch_threads(o.threads):
            faces, pred = self.decode_faces(crop.image[None], to_identity)
        return self.paste(frame_bgr, crop, faces[0], None if pred is None else pred[0], o)

    def swap_frames(
        self, items: list[tuple[np.ndarray, list[np.ndarray]]], to_identity: str, options: RenderOptions | None = None
    ) -> list[np.ndarray]:
        """Swap every listed face of several frames with one batched decoder call (much faster per face)."""
        o = options or RenderOptions()
        crops = [[self.crop(frame, lm) for lm in lms] for frame, lms in items]
        flat = [c for cs in crops for c in cs]
        if not flat:
            return [frame for frame, _ in items]
        with torch_threads(o.threads):
            faces, pred = self.decode_faces(np.stack([c.image for c in flat]), to_identity)
        out, k = [], 0
        for (frame, _), cs in zip(items, crops, strict=True):
            for c in cs:
                frame, _ = self.paste(frame, c, faces[k], None if pred is None else pred[k], o)
                k += 1
            out.append(frame)
        return out


def render_swap(
    run_dir: Path,
    input_video: Path,
    to_identity: str,
    output_path: Path,
    options: RenderOptions | None = None,
    progress: bool = True,
) -> RenderResult:
    """Write ``input_video`` with its face swapped to ``to_identity`` at ``output_path``."""
    o = options or RenderOptions()
    engine = SwapEngine(run_dir, o.precision)
    engine.model.index(to_identity)  # fail before decoding anything if the name is wrong
    info = probe(input_video)
    output_path = Path(output_path)
    if output_path.suffix.lower() != ".mp4":
        raise ValueError(f"output {output_path} must end in .mp4")
    t0 = time.perf_counter()
    identity = load_signing_identity()  # before any work: a fake that cannot be signed is not rendered
    method = swap_method(engine.meta)
    embedder = WatermarkEmbedder(payload_for(method), strength_for_crf(o.crf if o.h264 else 18))
    sink = OpenCVSink(output_path, info.fps, info.width, info.height)
    swapped: list[int] = []
    frames = FacePipeline().run(input_video, info)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, total=info.frames or None, desc=f"render >{to_identity}", unit="frame")
    pending: list[tuple[np.ndarray, list[np.ndarray]]] = []

    def flush() -> None:
        for out in engine.swap_frames(pending, to_identity, o):
            sink.write(embedder.embed(out))
        pending.clear()

    try:
        for index, _ts, frame, faces in frames:
            if frame.shape[1] != sink.size[0] or frame.shape[0] != sink.size[1]:
                raise ValueError(f"{input_video}: frame {index} changes size; variable-size videos are not supported")
            chosen = sorted(faces, key=lambda f: -f.size)[: None if o.all_faces else 1]
            if chosen:
                swapped.append(index)
            pending.append((frame, [f.landmarks for f in chosen]))
            if len(pending) >= o.batch_frames:
                flush()
        flush()
    except BaseException:
        sink.abort()
        raise
    n = sink.frames
    fin = finalize(sink, Path(input_video), h264=o.h264, crf=o.crf, keep_audio=o.keep_audio)
    label = _label_output(output_path, method, embedder, identity, {
        "run": engine.run_dir.name, "run_step": int(engine.step), "to": to_identity, "input": Path(input_video).name,
        "input_sha256": sha256_file(input_video), "colour": o.colour, "blend": o.blend, "mask": o.mask,
        "erode": o.erode, "feather": o.feather, "all_faces": o.all_faces, "codec": fin.codec,
        "crf": o.crf if fin.codec == "h264" else None,
    })
    return RenderResult(
        output=output_path, frames=n, frames_swapped=len(swapped), fps=info.fps, width=info.width, height=info.height,
        seconds=time.perf_counter() - t0, codec=fin.codec, audio=fin.audio, swapped_frames=tuple(swapped), label=label,
    )


def _label_output(path: Path, method: str, embedder: WatermarkEmbedder, identity: Any,
                  params: dict[str, Any]) -> dict[str, Any]:
    """Check the watermark reads back from the written file, then sign it; remove the file if either fails."""
    got = read_file(path)
    if not (got.found and got.payload == embedder.payload):
        path.unlink(missing_ok=True)
        raise LabelError(f"the watermark does not read back from {path} (score {got.score:.1f} < {THRESHOLD}); "
                         "the unlabelled output was removed")
    params = {**params, "watermark_strength": embedder.strength}
    signed = sign_video(path, method, params, identity, watermark_payload=embedder.payload)
    return {"method": method, "watermark": got.as_json(), "c2pa": {**signed.as_params(), "signer": signed.signer},
            "sha256": signed.sha256}
