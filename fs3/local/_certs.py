"""Certificates for a cluster's TLS: a CA of its own and one certificate per server, made with the
``cryptography`` package (no ``openssl`` command, whose flags differ between versions, and key files
are created 0600 here rather than left to a umask). ``fs3 up --tls`` keeps them under its data
directory; ``fs3 tls-certs`` makes the same for a deployment's host names.

    tls/              0700
      ca.pem          the CA's certificate: clients and servers verify servers with it
      ca.key          its key (0600): signs the server certificates, and is needed nowhere else
      NAME.pem        a server's certificate (meta-1, storage-1, ...), naming its addresses and host names
      NAME.key        its key (0600)

Keys are ECDSA P-256 (a handshake costs a fraction of an RSA one). A certificate is made again when it
is missing, names other hosts than asked, was not signed by this CA, or expires within 30 days; the CA
lasts ten years, a server certificate two.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from fs3._private import FILE_MODE, check_private, make_private_dir

CA_NAME = "ca"
CA_DAYS = 3650
SERVER_DAYS = 730
RENEW_DAYS = 30


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically, created with ``mode`` (keys: 0600, never wider first)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_key(path: Path):
    from cryptography.hazmat.primitives import serialization

    check_private(path)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _load_cert(path: Path):
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(hosts: list[str]):
    from cryptography import x509

    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _fresh(cert, days: int = RENEW_DAYS) -> bool:
    return cert.not_valid_after_utc - _now() > datetime.timedelta(days=days)


def ensure_ca(tls_dir: Path, cluster: str = "fs3") -> tuple[Path, Path]:
    """The CA of ``tls_dir`` (made with the directory, 0700, if missing); returns (certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    tls_dir = make_private_dir(tls_dir)
    cert_path, key_path = tls_dir / f"{CA_NAME}.pem", tls_dir / f"{CA_NAME}.key"
    if cert_path.exists() and key_path.exists():
        _load_key(key_path)  # (refuses a key open to others)
        if _fresh(_load_cert(cert_path), days=SERVER_DAYS):
            return cert_path, key_path
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fs3"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"{cluster} CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), FILE_MODE)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def ensure_server_cert(tls_dir: Path, name: str, hosts: list[str]) -> tuple[Path, Path]:
    """A certificate for server ``name`` naming ``hosts`` (IP addresses and host names), signed by the
    CA of ``tls_dir``; returns (certificate, key)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert_path, ca_key_path = ensure_ca(tls_dir)
    ca_cert, ca_key = _load_cert(ca_cert_path), _load_key(ca_key_path)
    cert_path, key_path = ca_cert_path.with_name(f"{name}.pem"), ca_cert_path.with_name(f"{name}.key")
    sans = _sans(hosts)
    if cert_path.exists() and key_path.exists():
        _load_key(key_path)  # (refuses a key open to others)
        cert = _load_cert(cert_path)
        try:
            have = list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            have = []
        if cert.issuer == ca_cert.subject and _fresh(cert) and sorted(map(str, have)) == sorted(map(str, sans)):
            try:
                cert.verify_directly_issued_by(ca_cert)
                return cert_path, key_path
            except (InvalidSignature, ValueError, TypeError):  # not this CA's: make a new one
                pass
    key = _new_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fs3"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + datetime.timedelta(days=SERVER_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), FILE_MODE)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
