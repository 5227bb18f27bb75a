#!/usr/bin/env python3
"""Make a private CA, the broker's server certificate and optional client certificates.

Deskpulse brokers sit on a building network with no public name, so a public CA cannot
vouch for them; a private CA that only the hub and the agents trust can. Run it once on the
hub (keep ``ca.key`` offline or at least owner-only); re-running reuses the existing CA and
issues a new server certificate, so agents need not be touched when the broker's name
changes. Needs the ``cryptography`` package (a Deskpulse dependency).

    python deploy/mosquitto/make_certs.py --out /etc/mosquitto/certs --host broker.office.lan

Writes ca.crt (give to every agent), ca.key (0600), server.crt, server.key (0600) and, per
``--client NAME``, client-NAME.crt/.key for brokers that also want client certificates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825  # what browsers and most TLS stacks still accept for a leaf


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Deskpulse"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Created 0600 before anything is written: a private key is never readable by others."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate small clock skew


def make_ca(days: int = CA_DAYS) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    name = _name("Deskpulse private CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now()).not_valid_after(_now() + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def make_leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, common_name: str,
    *, hosts: Sequence[str] = (), server: bool, days: int = LEAF_DAYS,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server certificate (with SANs: clients check the name) or a client certificate."""
    key = _key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(_now()).not_valid_after(_now() + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if hosts:
        builder = builder.add_extension(_san(hosts), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _load_ca(out: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    key_path, cert_path = out / "ca.key", out / "ca.crt"
    if not (key_path.exists() and cert_path.exists()):
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit(f"{key_path} is not an EC key made by this script")
    return key, x509.load_pem_x509_certificate(cert_path.read_bytes())


def make_all(out: Path, hosts: Sequence[str] = (), clients: Sequence[str] = ()) -> list[Path]:
    """Write (or reuse) the CA, a server certificate for localhost + ``hosts``, and clients."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    loaded = _load_ca(out)
    if loaded is None:
        ca_key, ca_cert = make_ca()
        _write_key(out / "ca.key", ca_key)
        _write_cert(out / "ca.crt", ca_cert)
        written += [out / "ca.crt", out / "ca.key"]
    else:
        ca_key, ca_cert = loaded
    names = list(dict.fromkeys(["localhost", "127.0.0.1", "::1", *hosts]))
    key, cert = make_leaf(ca_key, ca_cert, names[-1] if hosts else "localhost",
                          hosts=names, server=True)
    _write_key(out / "server.key", key)
    _write_cert(out / "server.crt", cert)
    written += [out / "server.crt", out / "server.key"]
    for client in clients:
        key, cert = make_leaf(ca_key, ca_cert, client, server=False)
        _write_key(out / f"client-{client}.key", key)
        _write_cert(out / f"client-{client}.crt", cert)
        written += [out / f"client-{client}.crt", out / f"client-{client}.key"]
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the PEM files")
    parser.add_argument("--host", action="append", default=[],
                        help="a DNS name or IP the agents use for the broker (repeatable)")
    parser.add_argument("--client", action="append", default=[],
                        help="also issue a client certificate with this name (repeatable)")
    args = parser.parse_args(argv)
    for path in make_all(args.out, args.host, args.client):
        print(f"wrote {path}")
    print(f"Copy {args.out / 'ca.crt'} to every agent (mqtt.ca_file); keep ca.key private.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
