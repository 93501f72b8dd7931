"""Content credentials evidence: the file's C2PA manifest (if any) and fakescope's own watermark.

What each finding means for the verdict (JSON ``analyzers.credentials``; fusion weighs it like
provenance, outside the fitted model, see fakescope.scan.fusion):

* a manifest whose signature and content hashes validate and that declares AI-generated or
  synthetic content (IPTC digital source types such as ``trainedAlgorithmicMedia``) is strong
  fake evidence: the maker says so, whether or not its signer is on a trust list;
* fakescope's watermark (every fake our generator writes carries it; it survives re-encoding,
  resizing and cropping that strip manifests) is strong fake evidence;
* a validating manifest from a *trusted* signer (``FAKESCOPE_C2PA_TRUST_ANCHORS``) that declares a
  camera capture is real evidence. From an untrusted signer it is reported but not counted:
  anyone can self-sign a certificate that claims to be a camera;
* a manifest that does not validate (edited after signing, content changed, broken signature)
  is reported as invalid, with c2pa's failure codes, and is not counted either way;
* no manifest and no watermark: ``insufficient`` at 0.5, so the verdict is exactly what the other
  analyzers make of the video.

The evidence concerns the file, not a face, so it arrives through ``file_evidence()``: the scan
adds it to every face track and judges a file without faces on it alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.core.analyzers import AnalyzerBase, AnalyzerNeeds, CropCache
from fakescope.core.hashing import sha256_bytes, sha256_file
from fakescope.core.types import Evidence, FaceObservation, VideoInfo
from generator.labels import C2PA_SETTINGS, GENERATION_ASSERTION
from generator.watermark import SCHEME, THRESHOLD, WatermarkDetector, sample_indices

AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "trainedAlgorithmicData", "compositeWithTrainedAlgorithmicMedia",
                             "algorithmicMedia", "compositeSynthetic"})
CAPTURE_SOURCE_TYPES = frozenset({"digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm"})
AI_SCORE = 0.99  # a valid manifest declaring AI generation, or our watermark
BOTH_SCORE = 0.999  # both
CAPTURE_SCORE = 0.1  # a trusted camera-capture manifest (a camera can still film a screen)
UNTRUSTED = "signingCredential.untrusted"
# The JUMBF box type of a C2PA manifest store ("c2pa" + ISO suffix): its presence tells a manifest
# that c2pa could not parse apart from a file that simply has none.
_STORE_MARK = bytes.fromhex("6332706100110010800000aa00389b71")


def trust_anchors_file() -> Path | None:
    p = os.environ.get("FAKESCOPE_C2PA_TRUST_ANCHORS")
    return Path(p) if p else None


def _settings() -> dict[str, Any]:
    settings = json.loads(json.dumps(C2PA_SETTINGS))
    anchors = trust_anchors_file()
    if anchors is not None and anchors.is_file():
        settings["trust"] = {"trust_anchors": anchors.read_text()}
    return settings


def _has_store_mark(path: Path, chunk: int = 1 << 20) -> bool:
    tail = b""
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            if _STORE_MARK in tail + block:
                return True
            tail = block[-(len(_STORE_MARK) - 1):]
    return False


def _source_type(uri: Any) -> str:
    return str(uri).rsplit("/", 1)[-1] if uri else ""


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for a in manifest.get("assertions", []):
        if str(a.get("label", "")).startswith("c2pa.actions"):
            out.extend(x for x in (a.get("data") or {}).get("actions", []) if isinstance(x, dict))
    return out


def _claim_generator(manifest: dict[str, Any]) -> str:
    info = manifest.get("claim_generator_info") or []
    if info and isinstance(info[0], dict):
        return " ".join(str(x) for x in (info[0].get("name"), info[0].get("version")) if x)
    return str(manifest.get("claim_generator") or "")


def _signer(manifest: dict[str, Any]) -> str:
    sig = manifest.get("signature_info") or {}
    name, issuer = sig.get("common_name"), sig.get("issuer")
    return f"{name} ({issuer})" if name and issuer and issuer != name else str(name or issuer or "")


def summarize_store(store: dict[str, Any]) -> dict[str, Any]:
    """The DESIGN ``c2pa`` object (plus detail) from c2pa's manifest-store JSON."""
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest"), {})
    state = str(store.get("validation_state") or "Invalid")
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = results.get("failure")
    if failures is None:  # older stores: the flat status list
        failures = store.get("validation_status") or []
    errors = [f"{f.get('code')}: {f.get('explanation', '')}".rstrip(": ") for f in failures if f.get("code") != UNTRUSTED]
    actions = _actions(active)
    every_type = {_source_type(a.get("digitalSourceType")) for m in manifests.values() for a in _actions(m)} - {""}
    created = [_source_type(a.get("digitalSourceType")) for a in actions if a.get("action") == "c2pa.created"]
    ai = bool(every_type & AI_SOURCE_TYPES)
    own = next((a.get("data") for a in active.get("assertions", []) if a.get("label") == GENERATION_ASSERTION), None)
    out: dict[str, Any] = {
        "valid": state in ("Valid", "Trusted") and not errors,
        "claim_generator": _claim_generator(active),
        "signer": _signer(active),
        "ai_generated": ai,
        "errors": errors,
        "trusted": state == "Trusted",
        "state": state.lower(),
        "camera_capture": bool(set(created) & CAPTURE_SOURCE_TYPES) and not ai,
        "digital_source_types": sorted(every_type),
        "actions": [{"action": a.get("action"), "digital_source_type": _source_type(a.get("digitalSourceType")) or None}
                    for a in actions],
        "manifest": store.get("active_manifest"),
    }
    if isinstance(own, dict):
        out["fakescope"] = {k: own.get(k) for k in ("method", "params", "content_sha256", "watermark")}
    return out


def read_content_credentials(path: str | os.PathLike[str]) -> tuple[dict[str, Any] | None, str]:
    """(the ``c2pa`` object or None, a note on why there is none) for one file."""
    p = Path(path)
    if not p.is_file():
        return None, "file not readable"
    try:
        import c2pa
    except ImportError:
        return None, "c2pa-python is not installed: manifests were not read"
    try:
        with c2pa.Context(settings=c2pa.Settings.from_dict(_settings())) as ctx, p.open("rb") as fh:
            reader = c2pa.Reader.try_create(None, fh, None, ctx)
            if reader is None:
                return None, "no C2PA manifest"
            with reader:
                return summarize_store(json.loads(reader.json())), ""
    except c2pa.C2paError as exc:
        if isinstance(exc, c2pa.C2paError.NotSupported) or not _has_store_mark(p):
            return None, f"no C2PA manifest (c2pa cannot parse this container: {exc})"
        return {"valid": False, "claim_generator": "", "signer": "", "ai_generated": False,
                "errors": [f"manifest unreadable: {exc}"], "trusted": False, "state": "invalid",
                "camera_capture": False, "digital_source_types": [], "actions": [], "manifest": None}, ""


def credentials_evidence(c2pa_info: dict[str, Any] | None, watermark: dict[str, Any], note: str = "") -> Evidence:
    """Score and status from what the manifest and the watermark say (see the module docstring)."""
    details = {"c2pa": c2pa_info, "watermark": watermark}
    wm = bool(watermark.get("found"))
    valid = bool(c2pa_info and c2pa_info["valid"])
    ai = valid and bool(c2pa_info and c2pa_info["ai_generated"])
    if ai or wm:
        said = [x for x, on in (("a valid C2PA manifest declares AI-generated or synthetic content", ai),
                                (f"fakescope's watermark ({watermark.get('payload')}) is in the frames", wm)) if on]
        return Evidence("credentials", BOTH_SCORE if ai and wm else AI_SCORE, "ok", {**details, "reason": "; ".join(said)})
    if valid and c2pa_info and c2pa_info["camera_capture"]:
        if c2pa_info["trusted"]:
            return Evidence("credentials", CAPTURE_SCORE, "ok",
                            {**details, "reason": "a trusted signer's valid manifest declares a camera capture"})
        return Evidence("credentials", 0.5, "insufficient", {
            **details, "reason": "a valid manifest declares a camera capture, but its signer is on no trust list "
                                 "(anyone can sign such a claim): not counted"})
    if c2pa_info and not c2pa_info["valid"]:
        reason = "the C2PA manifest is invalid (changed after signing?): " + "; ".join(c2pa_info["errors"][:3])
    elif c2pa_info:
        reason = "a valid C2PA manifest that declares neither AI generation nor a camera capture (neutral)"
    else:
        reason = f"{note or 'no C2PA manifest'} and no fakescope watermark (neutral evidence)"
    return Evidence("credentials", 0.5, "insufficient", {**details, "reason": reason})


class CredentialsAnalyzer(AnalyzerBase):
    name = "credentials"

    def __init__(self) -> None:
        self._path: Path | None = None
        self._want: set[int] = set()
        self._detector = WatermarkDetector()
        self._evidence: Evidence | None = None

    @property
    def needs(self) -> AnalyzerNeeds:
        return AnalyzerNeeds(faceless_frames=True)  # the watermark is in every frame, face or not

    @property
    def model_hashes(self) -> dict[str, str]:
        """The watermark scheme and threshold, the c2pa version, and the trust anchors: a change in any
        of them makes a rescan a different scan (the case log does not skip it)."""
        try:
            from importlib.metadata import version

            c2pa_version = version("c2pa-python")
        except Exception:  # noqa: BLE001 - not installed: part of the identity too
            c2pa_version = "none"
        out = {"credentials": sha256_bytes(f"{SCHEME}|{THRESHOLD}|c2pa-python {c2pa_version}".encode())}
        anchors = trust_anchors_file()
        if anchors is not None and anchors.is_file():
            out["c2pa_trust_anchors"] = sha256_file(anchors)
        return out

    def start(self, info: VideoInfo) -> None:
        self._path = Path(info.path)
        self._want = set(sample_indices(info.frames))
        self._detector = WatermarkDetector()
        self._evidence = None

    def update(self, frame_index: int, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation],
               crops: CropCache) -> None:
        if frame_index in self._want:
            self._detector.add(frame_bgr)

    def finish(self) -> dict[int, Evidence]:
        """No per-face evidence: the file's evidence comes from file_evidence()."""
        wm = self._detector.result()
        info, note = read_content_credentials(self._path) if self._path is not None else (None, "no file")
        self._evidence = credentials_evidence(info, wm.as_json(), note)
        return {}

    def file_evidence(self) -> Evidence | None:
        return self._evidence


def make_analyzer(config: object = None) -> CredentialsAnalyzer:
    return CredentialsAnalyzer()
