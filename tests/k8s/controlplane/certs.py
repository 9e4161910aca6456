"""The control plane's PKI, generated per start: one CA, the serving certificates of the
API server and of the node agent's kubelet endpoint, the API server's client certificate
towards kubelets, and the service-account signing key pair."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = ipaddress.ip_address("127.0.0.1")
# The names a client inside a cluster uses for the API server.
API_DNS_NAMES = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
VALIDITY = datetime.timedelta(days=2)


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files the processes are started with."""

    ca_cert: Path
    ca_key: Path
    apiserver_cert: Path
    apiserver_key: Path
    kubelet_cert: Path
    kubelet_key: Path
    kubelet_client_cert: Path
    kubelet_client_key: Path
    service_account_key: Path
    service_account_pub: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _sign(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    usages: list[x509.ObjectIdentifier] | None = None,
    dns_names: list[str] | None = None,
) -> x509.Certificate:
    # Backdated a little: the processes check validity against their own clocks.
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if dns_names is not None:
        san = [x509.DNSName(name) for name in dns_names] + [x509.IPAddress(LOOPBACK)]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def generate_pki(directory: Path) -> Pki:
    """Write a fresh CA and every certificate and key the control plane needs."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(
        *(
            directory / name
            for name in (
                "ca.crt",
                "ca.key",
                "apiserver.crt",
                "apiserver.key",
                "kubelet.crt",
                "kubelet.key",
                "apiserver-kubelet-client.crt",
                "apiserver-kubelet-client.key",
                "service-account.key",
                "service-account.pub",
            )
        )
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("chaos-gameday-test-ca")
    ca_cert = _sign(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True)
    pki.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.ca_key, ca_key)

    leaves = [
        (
            pki.apiserver_cert,
            pki.apiserver_key,
            _name("kube-apiserver"),
            [ExtendedKeyUsageOID.SERVER_AUTH],
            API_DNS_NAMES,
        ),
        (
            pki.kubelet_cert,
            pki.kubelet_key,
            _name("gameday-node-agent"),
            [ExtendedKeyUsageOID.SERVER_AUTH],
            ["localhost"],
        ),
        (
            pki.kubelet_client_cert,
            pki.kubelet_client_key,
            _name("kube-apiserver-kubelet-client", "system:masters"),
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            None,
        ),
    ]
    for cert_path, key_path, subject, usages, dns_names in leaves:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _sign(subject, key.public_key(), ca_name, ca_key, usages=usages, dns_names=dns_names)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)

    # Service-account tokens are RS256-signed: the API server's default algorithm.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki.service_account_key, sa_key)
    pki.service_account_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki
