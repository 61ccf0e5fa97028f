"""RAM groups, policies and versions, roles, attachments and login profiles through
aliyun-python-sdk-ram (py-core AcsClient, RPC v1 HMAC-SHA1), as the account root.

The scenarios live in `ram_scenarios.py` and run here through the SDK's own request classes;
`test_ram_lifecycle_tea.py` runs the same scenarios through alibabacloud_ram20150501.
"""

from __future__ import annotations

import pytest

import ram_scenarios
import ramdriver

# The request classes default to POST (params in the query); also https and GET.
KINDS = ["pycore-http", "pycore-https", "pycore-http-GET"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scenario", list(ram_scenarios.ALL))
def test_lifecycle(server, kind, scenario):
    ram = ramdriver.make(kind, server, server.root_ak, server.root_secret)
    ram_scenarios.ALL[scenario](ram, server.account_id)
