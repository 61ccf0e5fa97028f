"""Resolve a credential with the official alibabacloud_credentials library, then call
GetCallerIdentity with it through the official Tea STS client (alibabacloud_sts20150401).

Runs in its own interpreter because alibabacloud_credentials reads HOME and the
ALIBABA_CLOUD_* variables once, at import time (utils/auth_util.py, utils/auth_constant.py).

usage: python cli_interop_probe.py SPEC_JSON
  SPEC_JSON keys:
    provider  "default" (CredentialClient(), the default chain) or "cli_profile"
              (CLIProfileCredentialsProvider(profile_name=profile), profile may be null)
    profile   profile name for "cli_profile" (optional)
    endpoint  "127.0.0.1:PORT" of a plain-http Tessera listener for GetCallerIdentity
    redirect  optional {"host": NAME, "port": PORT}: resolve NAME (any port) to 127.0.0.1:PORT,
              as an /etc/hosts entry plus a port forward would. Only for providers whose STS
              host cannot be configured (RamRoleArn profiles always use https://sts[.REGION].aliyuncs.com).
prints one JSON line: {"provider_name", "access_key_id", "access_key_secret", "security_token", "gci"}
or {"error": "..."} with exit code 3.
"""

import ipaddress
import json
import socket
import sys

SPEC = json.loads(sys.argv[1])

# Loopback-only name resolution (plus the optional redirect), installed before any SDK import.
_real_getaddrinfo = socket.getaddrinfo
_redirect = SPEC.get("redirect") or {}


def _guarded_getaddrinfo(host, port, *args, **kwargs):
    h = host.decode() if isinstance(host, bytes) else host
    if _redirect and h == _redirect["host"]:
        return _real_getaddrinfo("127.0.0.1", int(_redirect["port"]), *args, **kwargs)
    ok = h is None or h == "localhost"
    if not ok:
        try:
            ok = ipaddress.ip_address(h.strip("[]")).is_loopback
        except ValueError:
            ok = False
    if not ok:
        raise socket.gaierror(socket.EAI_NONAME, f"probe: refusing to resolve non-loopback host {h!r}")
    return _real_getaddrinfo(host, port, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo

from alibabacloud_credentials.client import Client as CredentialClient  # noqa: E402
from alibabacloud_credentials.provider import CLIProfileCredentialsProvider  # noqa: E402
from alibabacloud_sts20150401.client import Client as Sts20150401Client  # noqa: E402
from alibabacloud_tea_openapi import models as open_api_models  # noqa: E402


def main():
    kind = SPEC["provider"]
    if kind == "default":
        credential = CredentialClient()
    elif kind == "cli_profile":
        credential = CredentialClient(provider=CLIProfileCredentialsProvider(profile_name=SPEC.get("profile")))
    else:
        raise SystemExit(f"unknown provider {kind!r}")
    try:
        cred = credential.get_credential()
    except Exception as e:  # the test asserts on the library's own message
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(3)
    config = open_api_models.Config(credential=credential, endpoint=SPEC["endpoint"], protocol="http")
    body = Sts20150401Client(config).get_caller_identity().body.to_map()
    print(
        json.dumps(
            {
                "provider_name": cred.provider_name,
                "access_key_id": cred.access_key_id,
                "access_key_secret": cred.access_key_secret,
                "security_token": cred.security_token,
                "gci": body,
            }
        )
    )


if __name__ == "__main__":
    main()
