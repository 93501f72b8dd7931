"""Content credentials evidence: what a manifest and the watermark say, and what they do to a verdict."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from fakescope.core.video import iter_frames
from fakescope.provenance.credentials import credentials_evidence, read_content_credentials, summarize_store
from fakescope.scan.pipeline import ScanConfig, scan_video
from generator.labels import encode_labelled, load_signing_identity, sign_video_bytes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NO_WATERMARK = {"found": False, "payload": None}
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def _label(frames: list[np.ndarray], out: Path, method: str = "ae_swap") -> Path:
    clip = encode_labelled(frames, 25.0, 18, method, out.with_suffix(".tmp.mp4"))
    signed = sign_video_bytes(clip.data, out.name, method, {"to": "bob"}, watermark_payload=clip.payload)
    assert signed.data is not None
    out.write_bytes(signed.data)
    return out


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake as the generator writes it: watermarked frames, then a signed manifest."""
    frames = [f for _, _, f in iter_frames(FIXTURES / "generator_clip.mp4")]
    return _label(frames, tmp_path_factory.mktemp("cred") / "fake.mp4")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture clip with a manifest only (fast: for the tests about the manifest)."""
    out = tmp_path_factory.mktemp("cred") / "signed.mp4"
    res = sign_video_bytes((FIXTURES / "generator_clip.mp4").read_bytes(), out.name, "ae_swap", {"to": "bob"})
    assert res.data is not None
    out.write_bytes(res.data)
    return out


def _flip(src: Path, dst: Path, at: int) -> Path:
    data = bytearray(src.read_bytes())
    data[at] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst


def test_a_labelled_fake_has_a_valid_manifest_declaring_ai_generation(signed: Path) -> None:
    info, note = read_content_credentials(signed)
    assert info is not None and note == ""
    assert info["valid"] and not info["trusted"] and info["state"] == "valid" and info["errors"] == []
    assert info["ai_generated"] and info["digital_source_types"] == ["trainedAlgorithmicMedia"]
    assert info["claim_generator"].startswith("fakescope") and "fakescope generator" in info["signer"]
    assert info["fakescope"]["method"] == "ae_swap" and info["fakescope"]["params"] == {"to": "bob"}
    ev = credentials_evidence(info, NO_WATERMARK)
    assert ev.status == "ok" and ev.score >= 0.99


def test_a_trust_anchor_makes_the_signer_trusted(signed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = load_signing_identity().directory
    assert directory is not None
    monkeypatch.setenv("FAKESCOPE_C2PA_TRUST_ANCHORS", str(directory / "ca.pem"))
    info, _ = read_content_credentials(signed)
    assert info is not None and info["trusted"] and info["state"] == "trusted" and info["valid"]


def test_a_manifest_edited_after_signing_is_invalid(signed: Path, tmp_path: Path) -> None:
    data = signed.read_bytes()
    edited = _flip(signed, tmp_path / "edited.mp4", data.index(b"ae_swap"))
    info, _ = read_content_credentials(edited)
    assert info is not None and not info["valid"] and info["state"] == "invalid"
    assert any("hashedURI.mismatch" in e for e in info["errors"])
    ev = credentials_evidence(info, NO_WATERMARK)
    assert (ev.status, ev.score) == ("insufficient", 0.5) and "invalid" in ev.details["reason"]


def test_video_data_changed_after_signing_is_invalid(signed: Path, tmp_path: Path) -> None:
    data = signed.read_bytes()
    changed = _flip(signed, tmp_path / "changed.mp4", data.index(b"mdat") + 400)
    info, _ = read_content_credentials(changed)
    assert info is not None and not info["valid"]
    assert any("bmffHash.mismatch" in e for e in info["errors"])


def test_a_broken_signature_is_invalid_not_absent(signed: Path, tmp_path: Path) -> None:
    data = signed.read_bytes()
    broken = _flip(signed, tmp_path / "broken.mp4", data.index(b"c2pa.signature") + 200)
    info, _ = read_content_credentials(broken)
    assert info is not None and not info["valid"] and info["errors"]


def test_no_manifest_and_no_watermark_is_neutral(talking_head: Path, tmp_path: Path) -> None:
    info, note = read_content_credentials(talking_head)
    assert info is None and "no C2PA manifest" in note
    ev = credentials_evidence(info, NO_WATERMARK, note)
    assert (ev.analyzer, ev.status, ev.score) == ("credentials", "insufficient", 0.5)
    assert ev.details["c2pa"] is None and ev.details["watermark"] == NO_WATERMARK
    assert read_content_credentials(tmp_path / "missing.mp4")[0] is None
    text = tmp_path / "x.mp4"
    text.write_text("not a video")
    assert read_content_credentials(text)[0] is None  # not a manifest problem: no manifest at all


def _store(actions: list[dict], state: str = "Valid", ingredient_actions: list[dict] | None = None) -> dict:
    manifests = {"urn:a": {"claim_generator_info": [{"name": "Camera", "version": "1"}],
                           "signature_info": {"common_name": "Maker Cam", "issuer": "Maker"},
                           "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}]}}
    if ingredient_actions is not None:
        manifests["urn:b"] = {"assertions": [{"label": "c2pa.actions", "data": {"actions": ingredient_actions}}]}
    status = [] if state == "Trusted" else [{"code": "signingCredential.untrusted"}]
    return {"active_manifest": "urn:a", "manifests": manifests, "validation_state": state,
            "validation_results": {"activeManifest": {"success": [], "failure": status}}}


def test_camera_capture_counts_only_from_a_trusted_signer() -> None:
    capture = [{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}]
    trusted = summarize_store(_store(capture, "Trusted"))
    assert trusted["valid"] and trusted["camera_capture"] and not trusted["ai_generated"]
    assert trusted["signer"] == "Maker Cam (Maker)" and trusted["claim_generator"] == "Camera 1"
    ev = credentials_evidence(trusted, NO_WATERMARK)
    assert ev.status == "ok" and ev.score <= 0.1  # real evidence
    untrusted = summarize_store(_store(capture, "Valid"))
    assert untrusted["valid"] and untrusted["errors"] == []  # untrusted is not invalid
    assert credentials_evidence(untrusted, NO_WATERMARK).status == "insufficient"


def test_ai_generation_anywhere_in_the_provenance_chain_is_declared() -> None:
    edit = [{"action": "c2pa.edited"}]
    info = summarize_store(_store(edit, "Valid", [{"action": "c2pa.created",
                                                   "digitalSourceType": IPTC + "compositeWithTrainedAlgorithmicMedia"}]))
    assert info["ai_generated"] and not info["camera_capture"]
    assert credentials_evidence(info, NO_WATERMARK).score >= 0.99
    invalid = summarize_store({**_store(edit, "Invalid"), "validation_results": {"activeManifest": {
        "failure": [{"code": "assertion.dataHash.mismatch", "explanation": "hash mismatch"}]}}})
    assert not invalid["valid"] and invalid["errors"] == ["assertion.dataHash.mismatch: hash mismatch"]


def test_our_watermark_alone_is_strong_fake_evidence() -> None:
    ev = credentials_evidence(None, {"found": True, "payload": "fakescope:ae_swap"})
    assert ev.status == "ok" and ev.score >= 0.99 and "fakescope:ae_swap" in ev.details["reason"]


@pytest.mark.slow
def test_scan_reports_credentials_and_calls_a_labelled_fake_fake(labelled: Path) -> None:
    rec = scan_video(labelled, ScanConfig(analyzers=("credentials",), progress=False)).record
    cred = rec["analyzers"]["credentials"]
    assert cred["status"] == "ok" and cred["score"] >= 0.99
    assert cred["c2pa"]["valid"] and cred["c2pa"]["ai_generated"]
    assert cred["watermark"]["found"] and cred["watermark"]["payload"] == "fakescope:ae_swap"
    assert rec["verdict"] == "fake" and "credentials" in rec["fusion"]["weighed"]


@pytest.mark.slow
def test_a_faceless_labelled_file_is_judged_on_its_credentials(tmp_path: Path, no_face_video: Path) -> None:
    rng = np.random.default_rng(1)
    ramp = np.tile(np.linspace(40, 200, 192, dtype=np.float32), (144, 1))
    frames = []
    for i in range(30):
        f = np.clip(ramp[..., None] + rng.normal(0, 6, (144, 192, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
        f[40:80, 20 + 3 * i:60 + 3 * i] = (30, 160, 220)
        frames.append(f)
    fake = _label(frames, tmp_path / "faceless.mp4", "warp")
    rec = scan_video(fake, ScanConfig(analyzers=("credentials",), progress=False)).record
    assert rec["faces"]["tracks"] == 0
    assert rec["analyzers"]["credentials"]["watermark"]["payload"] == "fakescope:warp"
    assert rec["verdict"] == "fake" and "content credentials" in rec["reason"]
    plain = scan_video(no_face_video, ScanConfig(analyzers=("credentials",), progress=False)).record
    assert plain["verdict"] == "inconclusive" and plain["analyzers"]["credentials"]["status"] == "insufficient"


@pytest.mark.slow
def test_a_file_without_credentials_gets_exactly_the_verdict_it_got_before(talking_head: Path) -> None:
    others = ("detector", "blink", "edges")
    before = scan_video(talking_head, ScanConfig(analyzers=others, progress=False)).record
    after = scan_video(talking_head, ScanConfig(analyzers=(*others, "credentials"), progress=False)).record
    cred = after["analyzers"]["credentials"]
    assert (cred["status"], cred["score"], cred["c2pa"], cred["watermark"]["found"]) == ("insufficient", 0.5, None, False)
    assert after["fake_probability"] == before["fake_probability"] and after["verdict"] == before["verdict"]
    assert os.environ.get("FAKESCOPE_C2PA_TRUST_ANCHORS") is None
