"""Labelled output (DESIGN.md): every fake the generator writes declares itself.

Two labels, because each fails where the other holds:

* a C2PA manifest (Content Credentials), signed with this installation's key, declaring the IPTC
  digital source type (``trainedAlgorithmicMedia`` for swaps) and how the fake was made. Anyone's
  C2PA tool reads it, but a re-encode or a screen recording drops it;
* the invisible watermark of :mod:`generator.watermark` in the frames, which survives re-encoding,
  resizing and cropping, but only fakescope reads it.

Where they are written: ``swap render`` watermarks every output frame and signs the final MP4
after ffmpeg (generator.render); ``testset build`` watermarks every fake item's frames, checks the
watermark reads back from the encoded clip (raising the strength for harsh CRFs) and signs the
bytes before they are written (generator.testset, generator.attacks). Reals are never labelled.
There is no switch to turn this off.

Signing key: a local ES256 key and certificate chain (a self-signed CA, whose key is discarded
once it has issued the signing certificate) are created on first use in the signing directory:
``$FAKESCOPE_SIGNING_DIR``, else ``$XDG_DATA_HOME/fakescope/signing``. The key file is mode 0600.
A user brings their own certificate with ``FAKESCOPE_SIGNING_CERT`` (PEM chain, signing
certificate first) and ``FAKESCOPE_SIGNING_KEY`` (PEM private key). A local CA is on no trust
list, so readers report "valid signature, untrusted signer"; add ``ca.pem`` of the signing
directory as a trust anchor where the signer should be trusted.

Reproducible test sets: C2PA salts every assertion with random bytes (c2pa-rs offers no way to
fix them), so two signatures of the same clip differ. The clip itself (the pre-manifest content,
whose sha256 is in the manifest and in the test set's params) is deterministic, and for
``reproducible=True`` the manifest made the first time a (clip, definition, certificate) was signed
is kept in ``SIGNING_DIR/reuse`` and put back into later signatures of the same clip (after
checking that it validates), so one installation rebuilds byte-identical files. Another key
gives other bytes by construction; compare ``content_sha256`` across installations.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import struct
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from fakescope import __version__
from fakescope.core.atomicio import write_bytes_atomic
from fakescope.core.paths import user_data_file
from generator.watermark import (
    SCHEME,
    THRESHOLD,
    WatermarkEmbedder,
    WatermarkResult,
    detect_watermark,
    payload_for,
    sample_indices,
)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# What each method's output is, in the IPTC vocabulary C2PA uses. Swaps and reconstructions put
# pixels made by a trained model (our autoencoder) into the video; self-blends, warps, reenactment
# and animation (generator.reenact / generator.animate: landmark-driven warps of the real frame,
# no generative model) composite a real frame with an algorithmically altered copy of itself,
# which IPTC calls compositeSynthetic.
METHOD_SOURCE_TYPES = {
    "ae_swap": "trainedAlgorithmicMedia", "ae_gan_swap": "trainedAlgorithmicMedia",
    "ae_recon": "trainedAlgorithmicMedia", "reenact": "compositeSynthetic",
    "animate": "compositeSynthetic", "self_blend": "compositeSynthetic", "warp": "compositeSynthetic",
}
GENERATION_ASSERTION = "org.fakescope.generation"
CLAIM_GENERATOR = "fakescope"
MIME = "video/mp4"
# No network, ever: no OCSP, no remote manifests, no thumbnails (not needed, and not deterministic).
C2PA_SETTINGS: dict[str, Any] = {
    "core": {"allowed_network_hosts": []},
    "verify": {"ocsp_fetch": False, "remote_manifest_fetch": False},
    "builder": {"thumbnail": {"enabled": False}},
}
C2PA_BOX_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # the BMFF uuid box that holds a manifest store
# Watermark strengths tried in order for test-set items until the encoded clip reads back with a
# margin (CRF 35 on 256-pixel clips needs the strongest; CRF 28 and below the first).
STRENGTHS = (2.5, 4.0, 6.0)
VERIFY_MARGIN = 2.0  # read-back score must clear THRESHOLD by this much
CERT_DAYS = 3650


class LabelError(ValueError):
    """A fake could not be labelled; it is not written (or is removed). A ValueError: the CLI says why in one line."""


def source_type_for(method: str, params: Mapping[str, Any] | None = None) -> str:
    """The IPTC digital source type URI declared for ``method`` (attacks inherit their base method's)."""
    base = (params or {}).get("base_method", method) if method in ("fgsm", "pgd") else method
    return IPTC + METHOD_SOURCE_TYPES.get(str(base), "trainedAlgorithmicMedia")


# ---------------------------------------------------------------------------------------------------
# Signing identity


@dataclass(frozen=True)
class SigningIdentity:
    cert_chain_pem: bytes  # signing certificate first, then its issuers
    key_pem: bytes = field(repr=False)
    alg: str  # es256 | es384 | es512 | ps256 | ed25519
    source: str  # "local" (created here) or "user" (brought by the user)
    directory: Path | None = None  # where the reuse cache lives (None: no reuse)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.cert_chain_pem).hexdigest()

    @property
    def subject(self) -> str:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(self.cert_chain_pem)
        return cert.subject.rfc4514_string()


def signing_dir() -> Path:
    return user_data_file("FAKESCOPE_SIGNING_DIR", "signing")


def _alg_for(key: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name not in algs:
            raise ValueError(f"EC curve {key.curve.name} cannot sign C2PA manifests (use P-256, P-384 or P-521)")
        return algs[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise ValueError(f"unsupported signing key type {type(key).__name__}")


def _identity_from_pem(chain: bytes, key_pem: bytes, source: str, directory: Path | None) -> SigningIdentity:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
        certs = x509.load_pem_x509_certificates(chain)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"unusable signing certificate or key: {exc}") from exc
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if certs[0].public_key().public_bytes(serialization.Encoding.DER, pub) != key.public_key().public_bytes(
            serialization.Encoding.DER, pub):
        raise ValueError("the signing key does not belong to the first certificate of the chain")
    return SigningIdentity(chain, key_pem, _alg_for(key), source, directory)


def _create_local_identity(directory: Path) -> None:
    """ES256 key, a one-off CA (its key is never stored) and the signing certificate it issues."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    until = now + dt.timedelta(days=CERT_DAYS)
    tag = uuid.uuid4().hex[:8]
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fakescope local signer"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"fakescope local CA {tag}")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fakescope local signer"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"fakescope generator {tag}")])
    document_signing = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, document_signing]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # Key first: a reader that finds cert.pem always finds its key.
    write_bytes_atomic(directory / "key.pem", key_pem, mode=0o600)
    write_bytes_atomic(directory / "ca.pem", ca.public_bytes(pem))
    write_bytes_atomic(directory / "cert.pem", cert.public_bytes(pem) + ca.public_bytes(pem))


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Exclusive lock on the signing directory (two first uses at once must not mix keys)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no concurrent first use expected
        yield
        return
    with open(directory / ".lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def load_signing_identity(directory: str | os.PathLike[str] | None = None, cert: str | os.PathLike[str] | None = None,
                          key: str | os.PathLike[str] | None = None) -> SigningIdentity:
    """The identity that signs fakes: ``cert``/``key`` (or FAKESCOPE_SIGNING_CERT/KEY) when given,
    else the local one in ``directory`` (or :func:`signing_dir`), created on first use."""
    cert = cert or os.environ.get("FAKESCOPE_SIGNING_CERT") or None
    key = key or os.environ.get("FAKESCOPE_SIGNING_KEY") or None
    d = Path(directory) if directory is not None else signing_dir()
    if cert or key:
        if not (cert and key):
            raise ValueError("a user certificate needs both FAKESCOPE_SIGNING_CERT and FAKESCOPE_SIGNING_KEY")
        return _identity_from_pem(Path(cert).read_bytes(), Path(key).read_bytes(), "user", d)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(d):
        if not (d / "cert.pem").is_file() or not (d / "key.pem").is_file():
            _create_local_identity(d)
    return _identity_from_pem((d / "cert.pem").read_bytes(), (d / "key.pem").read_bytes(), "local", d)


# ---------------------------------------------------------------------------------------------------
# Manifests


def _stable_uuid(*parts: str) -> str:
    """A version-4-shaped UUID (c2pa accepts no other) derived from ``parts``."""
    return str(uuid.UUID(bytes=hashlib.sha256("/".join(parts).encode()).digest()[:16], version=4))


def manifest_definition(title: str, method: str, params: Mapping[str, Any], content_sha256: str,
                        watermark_payload: str | None) -> dict[str, Any]:
    """The C2PA manifest a fake carries: the created action with its digital source type, and how it was made.

    Label and instance id derive from the content, so the definition itself is deterministic.
    """
    source_type = source_type_for(method, params)
    agent = {"name": CLAIM_GENERATOR, "version": __version__}
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": MIME,
        "label": f"urn:c2pa:{_stable_uuid(content_sha256, method, title)}",
        "instance_id": f"xmp:iid:{_stable_uuid('instance', content_sha256)}",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created", "digitalSourceType": source_type, "softwareAgent": agent,
                "description": f"synthetic face video made by fakescope ({method}) for deepfake-detection research",
                "parameters": {"org.fakescope.method": method},
            }]}},
            {"label": GENERATION_ASSERTION, "data": {
                "method": method, "params": json.loads(json.dumps(dict(params), default=str)),
                "content_sha256": content_sha256,
                "watermark": {"scheme": SCHEME, "payload": watermark_payload},
            }},
        ],
    }


def _c2pa() -> Any:
    try:
        import c2pa
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise LabelError("c2pa-python is not installed; fakescope cannot write unlabelled fakes") from exc
    return c2pa


def _sign_stream(definition: Mapping[str, Any], identity: SigningIdentity, src: BinaryIO, dst: BinaryIO) -> None:
    c2pa = _c2pa()
    info = c2pa.C2paSignerInfo(identity.alg, identity.cert_chain_pem, identity.key_pem, None)
    try:
        with c2pa.Signer.from_info(info) as signer, \
                c2pa.Context(settings=c2pa.Settings.from_dict(C2PA_SETTINGS)) as ctx, \
                c2pa.Builder(dict(definition), context=ctx) as builder:
            builder.sign(signer, MIME, src, dst)
    except c2pa.C2paError as exc:
        raise LabelError(f"C2PA signing failed: {exc}") from exc


def validation_state(stream: BinaryIO) -> str | None:
    """c2pa's validation state of a stream's manifest store ("Invalid", "Valid", "Trusted"), None without one."""
    c2pa = _c2pa()
    stream.seek(0)
    try:
        with c2pa.Context(settings=c2pa.Settings.from_dict(C2PA_SETTINGS)) as ctx:
            reader = c2pa.Reader.try_create(MIME, stream, None, ctx)
            if reader is None:
                return None
            with reader:
                return json.loads(reader.json()).get("validation_state")
    except c2pa.C2paError:
        return "Invalid"


def _manifest_box(data: bytes) -> tuple[int, int] | None:
    """(offset, length) of the top-level BMFF uuid box holding the C2PA manifest store."""
    o = 0
    while o + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[o:o + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[o + 8:o + 16])[0], 16
        elif size == 0:
            size = len(data) - o
        if size < header:
            return None
        if kind == b"uuid" and data[o + header:o + header + 16] == C2PA_BOX_UUID:
            return o, size
        o += size
    return None


def _reuse_manifest(signed: bytes, cache_key: str, identity: SigningIdentity) -> bytes:
    """Put back the manifest first made for this (clip, definition, certificate), when it still validates."""
    if identity.directory is None:
        return signed
    box = _manifest_box(signed)
    if box is None:
        return signed
    off, length = box
    cached = identity.directory / "reuse" / f"{cache_key}.c2pa"
    if cached.is_file():
        old = cached.read_bytes()
        if len(old) == length:
            candidate = signed[:off] + old + signed[off + length:]
            if validation_state(io.BytesIO(candidate)) in ("Valid", "Trusted"):
                return candidate
    write_bytes_atomic(cached, signed[off:off + length])
    return signed


@dataclass(frozen=True)
class SignedVideo:
    data: bytes | None  # the signed file's bytes (sign_video_bytes), None for sign_video
    sha256: str  # of the signed file
    content_sha256: str  # of the file before the manifest went in
    manifest_label: str
    signer: str
    source_type: str

    def as_params(self) -> dict[str, Any]:
        return {"content_sha256": self.content_sha256, "c2pa_manifest": self.manifest_label,
                "digital_source_type": self.source_type}


def sign_video_bytes(data: bytes, title: str, method: str, params: Mapping[str, Any],
                     identity: SigningIdentity | None = None, watermark_payload: str | None = None,
                     reproducible: bool = False) -> SignedVideo:
    """Embed a signed C2PA manifest in MP4 ``data``; raises LabelError when it cannot be verified."""
    identity = identity or load_signing_identity()
    content = hashlib.sha256(data).hexdigest()
    definition = manifest_definition(title, method, params, content, watermark_payload)
    out = io.BytesIO()
    _sign_stream(definition, identity, io.BytesIO(data), out)
    signed = out.getvalue()
    if reproducible:
        key = hashlib.sha256("\n".join([content, json.dumps(definition, sort_keys=True), identity.fingerprint])
                             .encode()).hexdigest()
        signed = _reuse_manifest(signed, key, identity)
    state = validation_state(io.BytesIO(signed))
    if state not in ("Valid", "Trusted"):
        raise LabelError(f"the manifest just signed for {title} does not validate ({state})")
    return SignedVideo(signed, hashlib.sha256(signed).hexdigest(), content, definition["label"], identity.subject,
                       definition["assertions"][0]["data"]["actions"][0]["digitalSourceType"])


def sign_video(path: str | os.PathLike[str], method: str, params: Mapping[str, Any],
               identity: SigningIdentity | None = None, watermark_payload: str | None = None) -> SignedVideo:
    """Sign the MP4 at ``path`` in place (streamed; the file is replaced atomically once verified).

    On failure the unsigned file is removed: a fake is never left behind without its manifest.
    """
    p = Path(path)
    try:
        identity = identity or load_signing_identity()
        h = hashlib.sha256()
        with p.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
        content = h.hexdigest()
        definition = manifest_definition(p.name, method, params, content, watermark_payload)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.stem}.c2pa.", suffix=".mp4")
        os.close(fd)
        try:
            with p.open("rb") as src, open(tmp, "w+b") as dst:
                _sign_stream(definition, identity, src, dst)
                dst.flush()
                state = validation_state(dst)
            if state not in ("Valid", "Trusted"):
                raise LabelError(f"the manifest just signed for {p} does not validate ({state})")
            os.chmod(tmp, p.stat().st_mode & 0o777)
            os.replace(tmp, p)
        finally:
            Path(tmp).unlink(missing_ok=True)
        h = hashlib.sha256()
        with p.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    except BaseException:
        p.unlink(missing_ok=True)
        raise
    return SignedVideo(None, h.hexdigest(), content, definition["label"], identity.subject,
                       definition["assertions"][0]["data"]["actions"][0]["digitalSourceType"])


# ---------------------------------------------------------------------------------------------------
# Watermarked test-set clips


@dataclass(frozen=True)
class LabelledClip:
    data: bytes  # the encoded, watermarked clip (before its manifest)
    payload: str
    strength: float
    readback: WatermarkResult  # what the detector reads from ``data``


def strength_for_crf(crf: int) -> float:
    """Watermark strength for a single encode at ``crf`` (measured: 2.5 reads back up to CRF 28)."""
    return STRENGTHS[0] if crf <= 28 else STRENGTHS[1] if crf <= 32 else STRENGTHS[2]


def read_file(path: str | os.PathLike[str]) -> WatermarkResult:
    """The watermark as ``scan`` reads it from a video file (the same frame sampling)."""
    from fakescope.core.video import iter_frames, probe

    info = probe(path)
    want = set(sample_indices(info.frames))
    return detect_watermark(f for i, _, f in iter_frames(path, info) if i in want)


def read_back(data: bytes, tmp: Path) -> WatermarkResult:
    """The watermark as ``scan`` would read it from an encoded clip (decoded from a temporary file)."""
    tmp.write_bytes(data)
    try:
        return read_file(tmp)
    finally:
        tmp.unlink(missing_ok=True)


def _reads_back(got: WatermarkResult, payload: str) -> bool:
    return got.found and got.payload == payload and got.score >= THRESHOLD + VERIFY_MARGIN


def encode_labelled(frames: Sequence[np.ndarray], fps: float, crf: int, method: str, tmp: Path,
                    already_marked: bool = False) -> LabelledClip:
    """Watermark and H.264-encode a fake clip, raising the strength until the watermark reads back.

    Deterministic (same frames, same bytes); raises LabelError when even the strongest setting
    does not read back (e.g. a blank clip)."""
    from generator.clips import encode_h264

    payload = payload_for(method)
    best: LabelledClip | None = None
    if already_marked:  # frames decoded from a labelled clip (attacks): add nothing if it still reads back
        data = encode_h264(frames, fps, crf, tmp)
        best = LabelledClip(data, payload, 0.0, read_back(data, tmp))
        if _reads_back(best.readback, payload):
            return best
    for strength in STRENGTHS:
        embedder = WatermarkEmbedder(payload, strength)
        data = encode_h264([embedder.embed(f) for f in frames], fps, crf, tmp)
        best = LabelledClip(data, payload, strength, read_back(data, tmp))
        if _reads_back(best.readback, payload):
            return best
    assert best is not None
    if best.readback.found and best.readback.payload == payload:
        return best  # found, if with a thinner margin than we aim for
    raise LabelError(f"the watermark does not survive CRF {crf} on this clip (read-back score "
                     f"{best.readback.score:.1f} < {THRESHOLD})")
