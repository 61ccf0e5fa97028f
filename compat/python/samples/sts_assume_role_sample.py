# -*- coding: utf-8 -*-
"""Alibaba Cloud's published "Example of using STS API" for Python (RAM docs, "Use the STS SDK for
Python": alibabacloud_sts20150401 AssumeRole with the default credential chain, printing the
response with alibabacloud_tea_console), kept as published.

The only changes, because the sample hard-codes them:
* the endpoint (and protocol, plus the CA for https) are set in the Config, from argv, instead of
  `sts.cn-hangzhou.aliyuncs.com`;
* the role ARN, session name and duration come from argv instead of placeholders.

The AccessKey comes from ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET through the
default credential chain, which alibabacloud_credentials reads at import time; hence a process of
its own.

usage: python sts_assume_role_sample.py HOST:PORT http|https CA_PATH ROLE_ARN SESSION_NAME DURATION
On success it prints `[LOG] <the response as JSON>`; on an error it prints error.message, then
error.data["Recommend"], as the published sample does.
"""
import sys

from typing import List

from alibabacloud_sts20150401.client import Client as Sts20150401Client
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_sts20150401 import models as sts_20150401_models
from alibabacloud_tea_util import models as util_models
from alibabacloud_tea_util.client import Client as UtilClient
from alibabacloud_tea_console.client import Client as ConsoleClient

ENDPOINT, PROTOCOL, CA, ROLE_ARN, SESSION_NAME, DURATION = sys.argv[1:7]


class Sample:
    def __init__(self):
        pass

    @staticmethod
    def create_client() -> Sts20150401Client:
        """
        Initialize the client with the credential.
        @return: Client
        @throws Exception
        """
        # Use the default credential chain (here: the ALIBABA_CLOUD_ACCESS_KEY_* env variables).
        credential = CredentialClient()
        config = open_api_models.Config(
            credential=credential
        )
        # Endpoint: the Tessera server under test (the published sample: sts.cn-hangzhou.aliyuncs.com)
        config.endpoint = ENDPOINT
        config.protocol = PROTOCOL
        if PROTOCOL == 'https':
            config.ca = CA
        return Sts20150401Client(config)

    @staticmethod
    def main(
        args: List[str],
    ) -> None:
        client = Sample.create_client()
        assume_role_request = sts_20150401_models.AssumeRoleRequest(
            duration_seconds=int(DURATION),
            role_arn=ROLE_ARN,
            role_session_name=SESSION_NAME
        )
        runtime = util_models.RuntimeOptions()
        try:
            resp = client.assume_role_with_options(assume_role_request, runtime)
            ConsoleClient.log(UtilClient.to_jsonstring(resp))
        except Exception as error:
            # Printed for show only; handle exceptions with care in real projects.
            # error message
            print(error.message)
            # diagnosis address
            print(error.data.get("Recommend"))
            UtilClient.assert_as_string(error.message)


if __name__ == '__main__':
    Sample.main(sys.argv[1:])
