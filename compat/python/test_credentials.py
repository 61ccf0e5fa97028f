"""alibabacloud_credentials providers feeding the Tea clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.models import Config as CredentialConfig

import clients

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "default_chain_gci.py")


@pytest.mark.parametrize("scheme", clients.SCHEMES)
@pytest.mark.parametrize("principal", ["root", "ramuser"])
def test_static_access_key_provider(server, principals, scheme, principal):
    ak, secret, expected = principals[principal]
    cred = CredentialClient(CredentialConfig(type="access_key", access_key_id=ak, access_key_secret=secret))
    assert cred.get_credential().access_key_id == ak
    sts = clients.tea_sts(server, scheme=scheme, credential=cred)
    got = clients.tea_gci(sts)
    for k, v in expected.items():
        assert got[k] == v, (k, got)


def test_static_access_key_provider_ram(server):
    cred = CredentialClient(
        CredentialConfig(type="access_key", access_key_id=server.root_ak, access_key_secret=server.root_secret)
    )
    ram = clients.tea_ram(server, credential=cred)
    body = ram.list_users(clients.ram_models.ListUsersRequest(max_items=1000)).body
    assert body.is_truncated is False
    assert body.request_id


@pytest.mark.parametrize("scheme", clients.SCHEMES)
@pytest.mark.parametrize("sig", ["v3", "v2"])
@pytest.mark.parametrize("principal", ["root", "ramuser"])
def test_default_chain_env_vars(server, principals, tmp_path, scheme, sig, principal):
    """The sample-code path: CredentialClient() with no config resolves the default chain,
    whose first link is ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET.
    alibabacloud_credentials reads those variables once, at import time
    (utils/auth_util.py), so the sample runs in a fresh interpreter with them set."""
    ak, secret, expected = principals[principal]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "ALIYUN_", "ALICLOUD_"))}
    env.update(
        ALIBABA_CLOUD_ACCESS_KEY_ID=ak,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=secret,
        ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
        HOME=str(tmp_path),  # no ~/.aliyun or ~/.alibabacloud profile can interfere
    )
    proc = subprocess.run(
        [sys.executable, SAMPLE, server.host(scheme), scheme, server.ca_path, sig],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got.pop("_provider") == "default/env"
    for k, v in expected.items():
        assert got[k] == v, (k, got)
