"""The server process contract itself: start, root credentials, SIGTERM -> exit 0, restart."""

from __future__ import annotations

import json
import os
import re

import clients
from tessera_server import TesseraServer


def test_plain_http_start_stop_restart(tmp_path):
    data = str(tmp_path / "data")
    srv = TesseraServer(data_dir=data, log_path=str(tmp_path / "server.log"), tls=False)
    srv.start()
    try:
        assert srv.http_host and not srv.https_host
        with open(os.path.join(data, "root-credentials.json")) as f:
            creds = json.load(f)
        assert set(creds) >= {"AccountId", "AccessKeyId", "AccessKeySecret"}
        assert re.fullmatch(r"\d{16}", creds["AccountId"])
        assert creds["AccessKeyId"].startswith("LTAI")

        root = clients.pycore_client(srv, srv.root_ak, srv.root_secret)
        ident = clients.pycore_gci(root, srv)
        assert ident["Arn"] == f"acs:ram::{creds['AccountId']}:root"
        clients.pycore_ram(root, srv, "CreateUser", UserName="survives-restart")
    finally:
        rc = srv.stop()
    assert rc == 0, srv.log_tail()

    # Restart on the same data dir: same account and root key, data kept.
    srv2 = TesseraServer(data_dir=data, log_path=str(tmp_path / "server2.log"), tls=False)
    srv2.start()
    try:
        assert (srv2.account_id, srv2.root_ak, srv2.root_secret) == (srv.account_id, srv.root_ak, srv.root_secret)
        root = clients.pycore_client(srv2, srv2.root_ak, srv2.root_secret)
        assert clients.pycore_gci(root, srv2)["AccountId"] == srv.account_id
        assert clients.pycore_ram(root, srv2, "GetUser", UserName="survives-restart")["User"]["UserName"] == "survives-restart"
    finally:
        rc = srv2.stop()
    assert rc == 0, srv2.log_tail()


def test_self_signed_tls_certificate(server):
    """The https listener's certificate chains to DIR/tls/ca.pem and names 127.0.0.1, localhost
    and ::1 (what SDK users will put in their endpoint)."""
    import ipaddress
    import socket
    import ssl

    from cryptography import x509

    host, port = server.https_host.rsplit(":", 1)
    for name in ("127.0.0.1", "localhost"):
        ctx = ssl.create_default_context(cafile=server.ca_path)
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:  # verifies chain + name
                der = tls.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    ips = san.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("127.0.0.1") in ips
    assert ipaddress.ip_address("::1") in ips


def test_tea_https_via_localhost_name(server, principals):
    """An SDK aimed at https://localhost:PORT verifies the certificate by DNS name."""
    ak, secret, expected = principals["root"]
    cfg = clients.tea_config(server, ak, secret, scheme="https")
    cfg.endpoint = "localhost:" + server.https_host.rsplit(":", 1)[1]
    got = clients.tea_gci(clients.StsClient(cfg))
    assert got["Arn"] == expected["Arn"]
