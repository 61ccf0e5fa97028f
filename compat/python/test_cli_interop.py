"""What the tessera CLI writes and exports is what the official alibabacloud_credentials accepts.

The CLI (`tessera configure`, `user create`, `role create`, `credentials export`) runs with HOME
set to a temp dir, so ~/.aliyun/config.json lands there. The official library then resolves a
credential from it (CLI-profile provider, env provider, credentials-URI provider, default
chain) and the official Tea STS client signs GetCallerIdentity with it.

alibabacloud_credentials reads HOME and ALIBABA_CLOUD_* once, at import time, so every
resolution runs `samples/cli_interop_probe.py` in a fresh interpreter with the right env.

The module starts its own server: its self-signed certificate also names sts.aliyuncs.com, the
only STS host a RamRoleArn profile can reach (the provider always uses
https://sts[.REGION].aliyuncs.com); the probe resolves that name to this server.
"""

from __future__ import annotations

import http.server
import json
import os
import shlex
import subprocess
import sys
import threading
import uuid

import pytest
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.models import Config as CredentialConfig

import clients
from tessera_server import TesseraServer, tessera_bin

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "samples", "cli_interop_probe.py")
STS_HOST = "sts.aliyuncs.com"  # where a RamRoleArn profile without sts_region sends AssumeRole


def _clean_env(**extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALIBABA_CLOUD_", "ALIYUN_", "ALICLOUD_", "TESSERA_"))
        and k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    }
    env["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env


class World:
    def __init__(self, server: TesseraServer, base):
        self.server = server
        self.home = str(base / "home")
        os.makedirs(self.home)
        self.endpoint = f"http://{server.http_host}"
        self.acct = server.account_id
        suffix = uuid.uuid4().hex[:8]
        self.user = f"cli-user-{suffix}"
        self.role = f"cli-role-{suffix}"

    def cli(self, *args: str, home: str | None = None) -> str:
        proc = subprocess.run(
            [tessera_bin(), *args],
            env=_clean_env(HOME=home or self.home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, f"tessera {' '.join(args)} -> {proc.returncode}\n{proc.stderr}"
        return proc.stdout

    def config(self) -> dict:
        with open(os.path.join(self.home, ".aliyun", "config.json"), encoding="utf-8") as f:
            return json.load(f)

    def profile(self, name: str) -> dict:
        found = [p for p in self.config()["profiles"] if p.get("name") == name]
        assert len(found) == 1, self.config()
        return found[0]

    def probe(self, spec: dict, home: str | None = None, **env) -> dict:
        spec = {"endpoint": self.server.http_host, **spec}
        proc = subprocess.run(
            [sys.executable, PROBE, json.dumps(spec)],
            env=_clean_env(HOME=home or self.home, **env),
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = proc.stdout.strip().splitlines()
        assert lines, f"probe printed nothing (rc={proc.returncode})\n{proc.stderr}"
        out = json.loads(lines[-1])
        assert "error" not in out, out["error"]
        assert proc.returncode == 0, proc.stderr
        return out

    # expected identities
    @property
    def user_arn(self) -> str:
        return f"acs:ram::{self.acct}:user/{self.user}"

    @property
    def role_arn(self) -> str:
        return f"acs:ram::{self.acct}:role/{self.role}"

    def session_arn(self, session: str) -> str:
        return f"acs:ram::{self.acct}:assumed-role/{self.role}/{session}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli-interop")
    old = os.environ.get("TESSERA_TLS_NAMES")
    os.environ["TESSERA_TLS_NAMES"] = STS_HOST  # = serve --tls-name sts.aliyuncs.com
    try:
        srv = TesseraServer(data_dir=str(base / "data"), log_path=str(base / "server.log"), tls=True)
        srv.start()
    finally:
        if old is None:
            os.environ.pop("TESSERA_TLS_NAMES", None)
        else:
            os.environ["TESSERA_TLS_NAMES"] = old
    w = World(srv, base)
    # The README's seed flow, through the CLI only.
    w.cli("configure", "--profile", "root", "--credentials-file", os.path.join(srv.data_dir, "root-credentials.json"),
          "--endpoint", w.endpoint, "--non-interactive")
    created = json.loads(w.cli("user", "create", w.user, "--with-key", "--policy", "AliyunSTSAssumeRoleAccess",
                               "--profile", "root"))
    w.user_key = created["AccessKey"]
    w.user_id = created["User"]["UserId"]
    w.cli("configure", "--profile", "alice", "--mode", "AK", "--access-key-id", w.user_key["AccessKeyId"],
          "--access-key-secret", w.user_key["AccessKeySecret"], "--endpoint", w.endpoint, "--non-interactive")
    role = json.loads(w.cli("role", "create", w.role, "--policy", "AliyunRAMReadOnlyAccess", "--profile", "root"))
    assert role["Role"]["Arn"] == w.role_arn
    yield w
    rc = srv.stop()
    if rc != 0:
        raise AssertionError(f"tessera exited with {rc} after SIGTERM\n{srv.log_tail()}")


def assert_user(w: World, got: dict):
    gci = got["gci"]
    assert gci["Arn"] == w.user_arn, gci
    assert gci["IdentityType"] == "RAMUser", gci
    assert gci["UserId"] == w.user_id, gci
    assert got["access_key_id"] == w.user_key["AccessKeyId"]
    assert got["access_key_secret"] == w.user_key["AccessKeySecret"]
    assert not got["security_token"]


def assert_session(w: World, got: dict, session: str):
    gci = got["gci"]
    assert gci["Arn"] == w.session_arn(session), gci
    assert gci["IdentityType"] == "AssumedRoleUser", gci
    assert gci["AccountId"] == w.acct, gci
    assert got["access_key_id"].startswith("STS."), got
    assert got["security_token"], got


# ---------------------------------------------------------------------------------------- 1. AK


def test_configure_ak_profile_as_written(world):
    p = world.profile("alice")
    assert p["mode"] == "AK"
    assert p["access_key_id"] == world.user_key["AccessKeyId"]
    assert p["access_key_secret"] == world.user_key["AccessKeySecret"]


def test_ak_profile_default_chain_with_alibaba_cloud_profile(world):
    got = world.probe({"provider": "default"}, ALIBABA_CLOUD_PROFILE="alice")
    assert got["provider_name"] == "default/cli_profile/static_ak"
    assert_user(world, got)


def test_ak_profile_cli_provider_current(world):
    world.cli("configure", "switch", "--profile", "alice")
    assert world.config()["current"] == "alice"
    got = world.probe({"provider": "cli_profile", "profile": None})
    assert got["provider_name"] == "cli_profile/static_ak"
    assert_user(world, got)


# ---------------------------------------------------------------------------------- 2. StsToken


def test_sts_token_profile_from_export(world):
    out = world.cli("credentials", "export", "--profile", "alice", "--role-arn", world.role_arn,
                    "--role-session-name", "cli-profile", "--format", "profile", "--save-as", "sess")
    printed = json.loads(out)
    saved = world.profile("sess")
    assert saved["mode"] == "StsToken"
    assert saved["access_key_id"] == printed["access_key_id"]
    for name, spec in (("default chain", {"provider": "default"}),
                       ("cli_profile", {"provider": "cli_profile", "profile": "sess"})):
        got = world.probe(spec, ALIBABA_CLOUD_PROFILE="sess")
        assert got["provider_name"].endswith("cli_profile/static_sts"), (name, got)
        assert got["access_key_id"] == saved["access_key_id"], name
        assert got["security_token"] == saved["sts_token"], name
        assert_session(world, got, "cli-profile")


# --------------------------------------------------------------------------------------- 3. env


def parse_exports(text: str) -> dict:
    """`export K='v'` lines as a POSIX shell would apply them (`unset K` removes K)."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        if words[0] == "unset":
            for k in words[1:]:
                env.pop(k, None)
            continue
        assert words[0] == "export" and len(words) == 2, line
        k, _, v = words[1].partition("=")
        env[k] = v
    return env


def test_env_export_default_chain(world, tmp_path):
    out = world.cli("credentials", "export", "--profile", "alice", "--role-arn", world.role_arn,
                    "--role-session-name", "cli-env", "--format", "env")
    env = parse_exports(out)
    assert set(env) == {"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                        "ALIBABA_CLOUD_SECURITY_TOKEN"}, env
    # an empty HOME: the env provider is the only one that can answer
    got = world.probe({"provider": "default"}, home=str(tmp_path), **env)
    assert got["provider_name"] == "default/env"
    assert got["access_key_id"] == env["ALIBABA_CLOUD_ACCESS_KEY_ID"]
    assert got["security_token"] == env["ALIBABA_CLOUD_SECURITY_TOKEN"]
    assert_session(world, got, "cli-env")


def test_env_export_of_ak_profile_default_chain(world, tmp_path):
    env = parse_exports(world.cli("credentials", "export", "--profile", "alice", "--format", "env"))
    assert "ALIBABA_CLOUD_SECURITY_TOKEN" not in env, env
    got = world.probe({"provider": "default"}, home=str(tmp_path), **env)
    assert got["provider_name"] == "default/env"
    assert_user(world, got)


# -------------------------------------------------------------------------------- 4. JSON / URI


class _OneDocument(http.server.BaseHTTPRequestHandler):
    body = b""
    hits = 0

    def do_GET(self):  # noqa: N802
        type(self).hits += 1
        if self.path != "/creds":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def credentials_uri_server():
    handler = type("Handler", (_OneDocument,), {"body": b"", "hits": 0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/creds"
    httpd.shutdown()
    httpd.server_close()


def test_json_export_served_as_credentials_uri(world, tmp_path, credentials_uri_server):
    handler, uri = credentials_uri_server
    out = world.cli("credentials", "export", "--profile", "alice", "--role-arn", world.role_arn,
                    "--role-session-name", "cli-uri", "--format", "json")
    doc = json.loads(out)
    handler.body = out.encode()

    # the URI provider on its own (no env involved, so in-process)
    cred = CredentialClient(CredentialConfig(type="credentials_uri", credentials_uri=uri))
    c = cred.get_credential()
    assert (c.access_key_id, c.access_key_secret, c.security_token) == (
        doc["AccessKeyId"], doc["AccessKeySecret"], doc["SecurityToken"])
    got = clients.tea_gci(clients.tea_sts(world.server, credential=cred))
    assert got["Arn"] == world.session_arn("cli-uri"), got
    assert handler.hits == 1

    # the default chain with ALIBABA_CLOUD_CREDENTIALS_URI (empty HOME: nothing else answers)
    got = world.probe({"provider": "default"}, home=str(tmp_path), ALIBABA_CLOUD_CREDENTIALS_URI=uri)
    assert got["provider_name"] == "default/credential_uri"
    assert got["access_key_id"] == doc["AccessKeyId"]
    assert_session(world, got, "cli-uri")
    assert handler.hits == 2


# ----------------------------------------------------------------------------- 5. RamRoleArn


def _ram_role_arn_probe(world, profile: str, session: str):
    got = world.probe(
        {"provider": "default", "redirect": {"host": STS_HOST, "port": world.server.https_host.split(":")[1]}},
        ALIBABA_CLOUD_PROFILE=profile,
        SSL_CERT_FILE=world.server.ca_path,  # trust the server's CA, as a system CA store would
    )
    assert got["provider_name"] == "default/cli_profile/ram_role_arn/static_ak", got
    assert_session(world, got, session)


def test_ram_role_arn_profile_with_expired_seconds(world):
    world.cli("configure", "--profile", "rra-3600", "--mode", "RamRoleArn",
              "--access-key-id", world.user_key["AccessKeyId"], "--access-key-secret", world.user_key["AccessKeySecret"],
              "--ram-role-arn", world.role_arn, "--role-session-name", "cli-rra-3600", "--expired-seconds", "3600",
              "--endpoint", world.endpoint, "--non-interactive")
    assert world.profile("rra-3600")["expired_seconds"] == 3600
    _ram_role_arn_probe(world, "rra-3600", "cli-rra-3600")


def test_ram_role_arn_profile_default_duration(world):
    """`tessera configure --mode RamRoleArn` without --expired-seconds: the profile must still be
    usable by the official provider, which passes `expired_seconds` straight to
    RamRoleArnCredentialsProvider (cli_profile.py) and rejects anything under 900
    (ram_role_arn.py: 'session duration should be in the range of 900s - max session duration').
    The aliyun CLI's own configure writes 900 in that case."""
    world.cli("configure", "--profile", "rra", "--mode", "RamRoleArn",
              "--access-key-id", world.user_key["AccessKeyId"], "--access-key-secret", world.user_key["AccessKeySecret"],
              "--ram-role-arn", world.role_arn, "--role-session-name", "cli-rra",
              "--endpoint", world.endpoint, "--non-interactive")
    p = world.profile("rra")
    assert p["mode"] == "RamRoleArn" and p["ram_role_arn"] == world.role_arn and p["ram_session_name"] == "cli-rra"
    _ram_role_arn_probe(world, "rra", "cli-rra")
