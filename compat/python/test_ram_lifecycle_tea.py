"""RAM groups, policies and versions, roles, attachments and login profiles through
alibabacloud_ram20150501 (Tea; V3 ACS3-HMAC-SHA256 by default, also RPC v1 "v2"), as the
account root.

The scenarios live in `ram_scenarios.py`; here each call goes through the SDK's typed
`<Action>Request` model and `client.<action>()` method, and the typed response model is what the
scenario checks (see `ramdriver.TeaRam`). A few typed-attribute checks follow.
"""

from __future__ import annotations

import json

import pytest

import clients
import ram_scenarios
import ramdriver
from clients import ram_models as m

KINDS = ["tea-http-v3", "tea-https-v3", "tea-http-v2"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scenario", list(ram_scenarios.ALL))
def test_lifecycle(server, kind, scenario):
    ram = ramdriver.make(kind, server, server.root_ak, server.root_secret)
    ram_scenarios.ALL[scenario](ram, server.account_id)


def test_typed_models(server, unique_name):
    """The same data read through the SDK's typed attributes, not through to_map()."""
    ram = clients.tea_ram(server, server.root_ak, server.root_secret)
    acct = server.account_id
    pol = unique_name("typed-pol")
    d1 = ram_scenarios.doc(ram_scenarios.allow("ram:ListUsers"))
    d2 = ram_scenarios.doc(ram_scenarios.allow(["ram:ListUsers", "ram:GetUser"]))

    p = ram.create_policy(m.CreatePolicyRequest(policy_name=pol, policy_document=d1, description="typed")).body.policy
    assert (p.policy_name, p.policy_type, p.default_version, p.description) == (pol, "Custom", "v1", "typed")
    v = ram.create_policy_version(
        m.CreatePolicyVersionRequest(policy_name=pol, policy_document=d2, set_as_default=True)
    ).body.policy_version
    assert (v.version_id, v.is_default_version) == ("v2", True)
    got = ram.get_policy(m.GetPolicyRequest(policy_name=pol, policy_type="Custom")).body
    assert (got.policy.default_version, got.default_policy_version.version_id) == ("v2", "v2")
    assert json.loads(got.default_policy_version.policy_document) == json.loads(d2)
    vs = ram.list_policy_versions(m.ListPolicyVersionsRequest(policy_name=pol, policy_type="Custom")).body
    assert sorted((x.version_id, x.is_default_version) for x in vs.policy_versions.policy_version) == [
        ("v1", False),
        ("v2", True),
    ]

    grp = unique_name("typed-grp")
    g = ram.create_group(m.CreateGroupRequest(group_name=grp, comments="typed group")).body.group
    assert (g.group_name, g.comments) == (grp, "typed group") and g.group_id
    user = unique_name("typed-user")
    ram.create_user(m.CreateUserRequest(user_name=user))
    ram.add_user_to_group(m.AddUserToGroupRequest(group_name=grp, user_name=user))
    gs = ram.list_groups_for_user(m.ListGroupsForUserRequest(user_name=user)).body.groups.group
    assert [(x.group_name, x.group_id) for x in gs] == [(grp, g.group_id)]
    us = ram.list_users_for_group(m.ListUsersForGroupRequest(group_name=grp)).body.users.user
    assert [x.user_name for x in us] == [user]

    role = unique_name("typed-role")
    trust = ram_scenarios.trust_doc(f"acs:ram::{acct}:root")
    r = ram.create_role(
        m.CreateRoleRequest(role_name=role, assume_role_policy_document=trust, max_session_duration=3600 * 2)
    ).body.role
    assert (r.role_name, r.arn, r.max_session_duration, r.assume_role_policy_document) == (
        role,
        f"acs:ram::{acct}:role/{role}",
        7200,
        trust,
    )
    ram.attach_policy_to_role(m.AttachPolicyToRoleRequest(policy_type="Custom", policy_name=pol, role_name=role))
    ram.attach_policy_to_group(m.AttachPolicyToGroupRequest(policy_type="Custom", policy_name=pol, group_name=grp))
    ram.attach_policy_to_user(m.AttachPolicyToUserRequest(policy_type="Custom", policy_name=pol, user_name=user))
    ents = ram.list_entities_for_policy(m.ListEntitiesForPolicyRequest(policy_name=pol, policy_type="Custom")).body
    assert [x.user_name for x in ents.users.user] == [user]
    assert [x.group_name for x in ents.groups.group] == [grp]
    assert [(x.role_name, x.role_id) for x in ents.roles.role] == [(role, r.role_id)]
    rp = ram.list_policies_for_role(m.ListPoliciesForRoleRequest(role_name=role)).body.policies.policy
    assert [(x.policy_name, x.policy_type, x.default_version) for x in rp] == [(pol, "Custom", "v2")]

    lp = ram.create_login_profile(
        m.CreateLoginProfileRequest(user_name=user, password=ram_scenarios.STRONG_PASSWORD, mfabind_required=True)
    ).body.login_profile
    assert (lp.user_name, lp.mfabind_required, lp.password_reset_required) == (user, True, False)

    # clean up through the typed API too
    ram.delete_login_profile(m.DeleteLoginProfileRequest(user_name=user))
    ram.detach_policy_from_user(m.DetachPolicyFromUserRequest(policy_type="Custom", policy_name=pol, user_name=user))
    ram.detach_policy_from_group(m.DetachPolicyFromGroupRequest(policy_type="Custom", policy_name=pol, group_name=grp))
    ram.detach_policy_from_role(m.DetachPolicyFromRoleRequest(policy_type="Custom", policy_name=pol, role_name=role))
    ram.remove_user_from_group(m.RemoveUserFromGroupRequest(group_name=grp, user_name=user))
    ram.delete_policy(m.DeletePolicyRequest(policy_name=pol, cascading_delete=True))
    ram.delete_group(m.DeleteGroupRequest(group_name=grp))
    ram.delete_role(m.DeleteRoleRequest(role_name=role))
    ram.delete_user(m.DeleteUserRequest(user_name=user))
