"""Labelled output: the signing identity, signed manifests, and watermarked clips that read back."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fakescope.core.video import iter_frames
from generator.labels import (
    LabelError,
    encode_labelled,
    load_signing_identity,
    manifest_definition,
    read_file,
    sign_video,
    sign_video_bytes,
    source_type_for,
    validation_state,
)
from tests.conftest import needs_ffmpeg

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    return [f for i, _, f in iter_frames(FIXTURES / "talking_head.mp4") if i < 24]


def test_local_identity_is_created_once_with_a_private_key(tmp_path: Path) -> None:
    d = tmp_path / "signing"
    a = load_signing_identity(d)
    assert a.source == "local" and a.alg == "es256" and "fakescope generator" in a.subject
    assert (d / "key.pem").stat().st_mode & 0o777 == 0o600
    assert (d / "cert.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 2  # signing cert + its CA
    assert load_signing_identity(d).fingerprint == a.fingerprint  # not re-created
    assert not list(d.glob(".*.tmp"))


def _user_certificate(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    ca_key, key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Newsroom Test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA384()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Newsroom Lab")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA384()))
    pem = serialization.Encoding.PEM
    tmp_path.mkdir(exist_ok=True)
    chain, key_file = tmp_path / "chain.pem", tmp_path / "user.key"
    chain.write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return chain, key_file


def test_a_user_brings_their_own_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chain, key = _user_certificate(tmp_path)
    monkeypatch.setenv("FAKESCOPE_SIGNING_CERT", str(chain))
    monkeypatch.setenv("FAKESCOPE_SIGNING_KEY", str(key))
    ident = load_signing_identity(tmp_path / "unused")
    assert ident.source == "user" and ident.alg == "es384" and "Newsroom Lab" in ident.subject
    signed = sign_video_bytes((FIXTURES / "generator_clip.mp4").read_bytes(), "x.mp4", "warp", {}, ident)
    assert signed.signer == ident.subject and validation_state(io.BytesIO(signed.data)) == "Valid"
    monkeypatch.delenv("FAKESCOPE_SIGNING_KEY")
    with pytest.raises(ValueError, match="both"):
        load_signing_identity(tmp_path / "unused")
    other_key = tmp_path / "other.key"
    other_key.write_bytes(_user_certificate(tmp_path / "other")[1].read_bytes())
    monkeypatch.setenv("FAKESCOPE_SIGNING_KEY", str(other_key))
    with pytest.raises(ValueError, match="does not belong"):
        load_signing_identity(tmp_path / "unused")


def test_manifest_declares_source_type_and_method() -> None:
    d = manifest_definition("x.mp4", "ae_swap", {"to": "bob"}, "ab" * 32, "fakescope:ae_swap")
    action = d["assertions"][0]["data"]["actions"][0]
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert action["parameters"]["org.fakescope.method"] == "ae_swap"
    assert d["assertions"][1]["data"]["params"] == {"to": "bob"}
    assert d == manifest_definition("x.mp4", "ae_swap", {"to": "bob"}, "ab" * 32, "fakescope:ae_swap")  # deterministic
    assert source_type_for("self_blend").endswith("/compositeSynthetic")
    assert source_type_for("pgd", {"base_method": "ae_gan_swap"}).endswith("/trainedAlgorithmicMedia")


def test_signed_bytes_validate_and_reproducible_signing_repeats_the_bytes() -> None:
    data = (FIXTURES / "generator_clip.mp4").read_bytes()
    a = sign_video_bytes(data, "x.mp4", "ae_swap", {"k": 1}, reproducible=True)
    b = sign_video_bytes(data, "x.mp4", "ae_swap", {"k": 1}, reproducible=True)
    c = sign_video_bytes(data, "x.mp4", "ae_swap", {"k": 1})
    assert a.data == b.data and a.sha256 == b.sha256  # the first manifest of this clip is reused
    assert c.content_sha256 == a.content_sha256 and c.data != a.data  # c2pa salts each signature at random
    assert validation_state(io.BytesIO(a.data)) == "Valid"  # valid signature, untrusted (local) signer
    assert validation_state(io.BytesIO(data)) is None


def test_sign_video_signs_in_place_and_never_leaves_an_unsigned_fake(tmp_path: Path) -> None:
    out = tmp_path / "fake.mp4"
    shutil.copy(FIXTURES / "generator_clip.mp4", out)
    signed = sign_video(out, "ae_swap", {"to": "bob"})
    with out.open("rb") as fh:
        assert validation_state(fh) == "Valid"
    assert signed.data is None and len(signed.sha256) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["fake.mp4"]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(LabelError):
        sign_video(broken, "ae_swap", {})
    assert not broken.exists()


@needs_ffmpeg
@pytest.mark.slow
def test_encoded_clip_reads_back_and_survives_a_crf23_reencode(clip_frames: list[np.ndarray], tmp_path: Path) -> None:
    frames = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in clip_frames]
    clip = encode_labelled(frames, 25.0, 18, "ae_swap", tmp_path / ".tmp.mp4")
    assert clip.strength == 2.5 and clip.readback.found and clip.readback.payload == "fakescope:ae_swap"
    assert encode_labelled(frames, 25.0, 18, "ae_swap", tmp_path / ".tmp.mp4").data == clip.data  # deterministic
    src, again = tmp_path / "a.mp4", tmp_path / "b.mp4"
    src.write_bytes(clip.data)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:v", "libx264", "-crf", "23", str(again)], check=True)
    got = read_file(again)
    assert got.found and got.payload == "fakescope:ae_swap"
    assert not read_file(FIXTURES / "talking_head.mp4").found


@needs_ffmpeg
def test_a_clip_the_watermark_cannot_survive_is_refused(tmp_path: Path) -> None:
    black = [np.zeros((64, 64, 3), np.uint8)] * 4
    with pytest.raises(LabelError, match="does not survive"):
        encode_labelled(black, 25.0, 51, "warp", tmp_path / ".tmp.mp4")
    assert not list(tmp_path.iterdir())


def test_signing_never_touches_the_users_key_in_tests() -> None:
    assert "FAKESCOPE_SIGNING_DIR" in os.environ
    assert json.dumps(str(load_signing_identity().directory)).find(".local/share") < 0
