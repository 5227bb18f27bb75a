"""deploy/mosquitto/make_certs.py: a CA that is reused, server SANs, private keys 0600."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509

from tests.support.secure_broker import load_make_certs


def test_certificates_have_the_names_and_the_ca_is_reused(tmp_path: Path) -> None:
    make_certs = load_make_certs()
    out = tmp_path / "certs"
    assert make_certs.main(["--out", str(out), "--host", "hub.office.lan",
                            "--host", "10.0.0.5", "--client", "pi-1"]) == 0
    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((out / "server.crt").read_bytes())
    client = x509.load_pem_x509_certificate((out / "client-pi-1.crt").read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "hub.office.lan"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"),
        ipaddress.ip_address("10.0.0.5")}
    for leaf in (server, client):
        leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for key in out.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key

    before = (out / "ca.crt").read_bytes()
    make_certs.make_all(out, ["other.lan"])
    assert (out / "ca.crt").read_bytes() == before  # agents keep trusting the same CA
    again = x509.load_pem_x509_certificate((out / "server.crt").read_bytes())
    again.verify_directly_issued_by(ca)
    assert again.serial_number != server.serial_number
