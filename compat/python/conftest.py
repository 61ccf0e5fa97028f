"""pytest fixtures: one Tessera server per session (TLS + extra plain-http listener).

Everything talks to 127.0.0.1 only. A guard below refuses name resolution of any other
host, so a mis-aimed SDK fails loudly instead of reaching a real Alibaba Cloud endpoint.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid

import pytest

# ---------------------------------------------------------------------------------------------
# Environment hygiene (must happen before any SDK is imported by a test module).
for _k in list(os.environ):
    if _k.startswith(("ALIBABA_CLOUD_", "ALICLOUD_", "ALIYUN_")):
        del os.environ[_k]
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
os.environ.pop("HTTP_PROXY", None)
os.environ.pop("HTTPS_PROXY", None)
os.environ.pop("http_proxy", None)
os.environ.pop("https_proxy", None)

# ---------------------------------------------------------------------------------------------
# Loopback-only guard.
_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host):
        raise socket.gaierror(
            socket.EAI_NONAME, f"tessera compat tests: refusing to resolve non-loopback host {host!r}"
        )
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo

# ---------------------------------------------------------------------------------------------
from tessera_server import ServerStartError, TesseraServer, tessera_bin  # noqa: E402
import clients  # noqa: E402


def pytest_configure(config):
    try:
        tessera_bin()
    except ServerStartError as e:
        raise pytest.UsageError(str(e))


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("tessera")
    srv = TesseraServer(data_dir=str(base / "data"), log_path=str(base / "server.log"), tls=True)
    srv.start()
    yield srv
    rc = srv.stop()
    if rc != 0:
        raise AssertionError(f"tessera exited with {rc} after SIGTERM\n{srv.log_tail()}")


@pytest.fixture
def unique_name():
    """Factory for unique, valid RAM user names."""

    def make(prefix: str = "compat") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    return make


@pytest.fixture(scope="session")
def ram_user(server):
    """A RAM user with one active access key, created through the py-core RAM SDK."""
    root = clients.pycore_client(server, server.root_ak, server.root_secret)
    name = f"compat-id-{uuid.uuid4().hex[:10]}"
    user = clients.pycore_ram(root, server, "CreateUser", UserName=name)["User"]
    key = clients.pycore_ram(root, server, "CreateAccessKey", UserName=name)["AccessKey"]
    info = {
        "UserName": name,
        "UserId": user["UserId"],
        "AccessKeyId": key["AccessKeyId"],
        "AccessKeySecret": key["AccessKeySecret"],
    }
    yield info
    # Best-effort cleanup; the data dir is thrown away anyway.
    try:
        clients.pycore_ram(root, server, "DeleteAccessKey", UserName=name, UserAccessKeyId=key["AccessKeyId"])
        clients.pycore_ram(root, server, "DeleteUser", UserName=name)
    except Exception:
        pass


@pytest.fixture(scope="session")
def principals(server, ram_user):
    """Map principal name -> (ak, secret, expected GetCallerIdentity fields)."""
    acct = server.account_id
    return {
        "root": (
            server.root_ak,
            server.root_secret,
            {
                "IdentityType": "Account",
                "AccountId": acct,
                "Arn": f"acs:ram::{acct}:root",
                "PrincipalId": acct,
                "UserId": acct,
            },
        ),
        "ramuser": (
            ram_user["AccessKeyId"],
            ram_user["AccessKeySecret"],
            {
                "IdentityType": "RAMUser",
                "AccountId": acct,
                "Arn": f"acs:ram::{acct}:user/{ram_user['UserName']}",
                "PrincipalId": ram_user["UserId"],
                "UserId": ram_user["UserId"],
            },
        ),
    }
