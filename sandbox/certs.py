"""A throwaway certificate authority for the sandbox's and the tests' TLS servers.

The embedded IMAP server and the test Dovecot speak real TLS so that the client code path is the
one used against a real mailbox: certificate chain and host-name checks included. Clients trust
the CA file written here (``ssl.create_default_context(cafile=...)``), never "no verification".

The CA's private key is used once to sign the server certificate and then thrown away: nobody can
mint further certificates that a client trusting this CA would accept.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from automation.files import atomic_write
from automation.locks import file_lock

__all__ = ["TlsFiles", "make_test_ca"]

CA_NAME = "ca.pem"
CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
# Long enough for a week of demo runs, short enough that a leaked test CA soon stops mattering.
VALIDITY = dt.timedelta(days=30)
# Reissue rather than hand out a certificate that could expire during a run.
MIN_REMAINING = dt.timedelta(days=1)
# Tolerate a client clock slightly behind the machine that made the certificate.
BACKDATE = dt.timedelta(hours=1)


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_test_ca(directory: Path, hosts: Sequence[str] = ("localhost", "127.0.0.1")) -> TlsFiles:
    """Write (or reuse) a CA certificate and a server certificate + key for ``hosts``.

    Existing files are reused when they chain to each other, cover every host and stay valid for
    at least another day, so repeated demo runs skip key generation. A lock file serialises two
    processes preparing the same directory, so neither sees a half-written set.
    """
    if not hosts:
        raise ValueError("make_test_ca needs at least one host name or IP address")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = TlsFiles(directory / CA_NAME, directory / CERT_NAME, directory / KEY_NAME)
    # Generous: another process may be generating keys on a busy machine.
    with file_lock(directory / ".certs.lock", timeout=120.0):
        if not _reusable(files, hosts):
            _generate(files, hosts)
    return files


def _san_entries(hosts: Sequence[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return entries


def _reusable(files: TlsFiles, hosts: Sequence[str]) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
        cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
        key = serialization.load_pem_private_key(files.key_file.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:  # missing, unreadable, foreign or mismatched files: just make new ones
        return False
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        return False
    if any(entry not in set(san) for entry in _san_entries(hosts)):
        return False
    now = dt.datetime.now(dt.UTC)
    return all(
        c.not_valid_before_utc <= now and c.not_valid_after_utc - now >= MIN_REMAINING
        for c in (ca, cert)
    )


def _generate(files: TlsFiles, hosts: Sequence[str]) -> None:
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = now - BACKDATE, now + VALIDITY

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "htx-keys sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, "htx-keys test CA"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_san_entries(hosts)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Key first: a reader that finds new certificates must never pair them with an old key.
    atomic_write(files.key_file, key_pem, mode=0o600)
    atomic_write(files.cert_file, server_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    atomic_write(files.ca_file, ca_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
