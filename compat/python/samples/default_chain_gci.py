"""Alibaba's sample pattern for the new SDKs, run as its own process so that the credential
default chain reads ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET at import time, as in real use.

usage: python default_chain_gci.py HOST:PORT http|https CA_PATH v3|v2
prints the GetCallerIdentity body (plus the credential provider name) as JSON on stdout.
"""

import json
import sys

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_sts20150401.client import Client as Sts20150401Client
from alibabacloud_tea_openapi import models as open_api_models


def main():
    endpoint, protocol, ca, sig = sys.argv[1:5]
    credential = CredentialClient()
    config = open_api_models.Config(credential=credential, endpoint=endpoint, protocol=protocol)
    if protocol == "https":
        config.ca = ca
    if sig == "v2":
        config.signature_algorithm = "v2"
    client = Sts20150401Client(config)
    body = client.get_caller_identity().body.to_map()
    body["_provider"] = credential.get_credential().provider_name
    print(json.dumps(body))


if __name__ == "__main__":
    main()
