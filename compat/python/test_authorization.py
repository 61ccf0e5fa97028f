"""Authorization of RAM users (spec §11.9, §13), driven with the official SDKs as the RAM user.

The account root sets things up (py-core); the RAM user then calls RAM through
alibabacloud_ram20150501 (V3, and v2) and aliyun-python-sdk-ram (RPC v1). Every policy change is
followed at once by the next request, which must already see it.

A denial is 403 NoPermission, Message "You are not authorized to do this action.", and the body
carries AccessDeniedDetail, which the Tea SDK surfaces as ClientException.access_denied_detail
(and in .data). py-core only exposes code, message, status and request id.
"""

from __future__ import annotations

import uuid

import pytest

import ramdriver
from ram_scenarios import allow, deny, doc, uniq

NO_PERMISSION_MESSAGE = "You are not authorized to do this action."
USER_KINDS = ["tea-http-v3", "tea-http-v2", "pycore-http"]


class Subject:
    """A fresh RAM user with one AccessKey, and a root driver to manage it."""

    def __init__(self, server, prefix="authz"):
        self.server = server
        self.root = ramdriver.make("pycore-http", server, server.root_ak, server.root_secret)
        u = self.root("CreateUser", UserName=uniq(prefix))["User"]
        self.name, self.user_id = u["UserName"], u["UserId"]
        k = self.root("CreateAccessKey", UserName=self.name)["AccessKey"]
        self.ak, self.secret = k["AccessKeyId"], k["AccessKeySecret"]
        self._policies: list = []
        self._groups: list = []

    def as_user(self, kind: str) -> ramdriver.RamDriver:
        return ramdriver.make(kind, self.server, self.ak, self.secret)

    def custom_policy(self, document: str) -> str:
        name = uniq("authz-pol")
        self.root("CreatePolicy", PolicyName=name, PolicyDocument=document)
        self._policies.append(name)
        return name

    def attach(self, name: str, policy_type="Custom"):
        self.root("AttachPolicyToUser", UserName=self.name, PolicyType=policy_type, PolicyName=name)

    def detach(self, name: str, policy_type="Custom"):
        self.root("DetachPolicyFromUser", UserName=self.name, PolicyType=policy_type, PolicyName=name)

    def group(self) -> str:
        g = uniq("authz-grp")
        self.root("CreateGroup", GroupName=g)
        self._groups.append(g)
        return g

    def cleanup(self):
        """Best effort: undo attachments, memberships, key, user, policies, groups."""

        def quiet(action, **p):
            try:
                self.root(action, **p)
            except Exception:
                pass

        for g in self._groups:
            quiet("RemoveUserFromGroup", GroupName=g, UserName=self.name)
            for p in self._policies:
                quiet("DetachPolicyFromGroup", GroupName=g, PolicyType="Custom", PolicyName=p)
            for p in ("AliyunRAMReadOnlyAccess", "AdministratorAccess"):
                quiet("DetachPolicyFromGroup", GroupName=g, PolicyType="System", PolicyName=p)
            quiet("DeleteGroup", GroupName=g)
        for p in self._policies:
            quiet("DetachPolicyFromUser", UserName=self.name, PolicyType="Custom", PolicyName=p)
            quiet("DeletePolicy", PolicyName=p, CascadingDelete=True)
        for p in ("AliyunRAMReadOnlyAccess", "AdministratorAccess"):
            quiet("DetachPolicyFromUser", UserName=self.name, PolicyType="System", PolicyName=p)
        quiet("DeleteAccessKey", UserName=self.name, UserAccessKeyId=self.ak)
        quiet("DeleteUser", UserName=self.name)


@pytest.fixture
def subject(server):
    s = Subject(server)
    yield s
    s.cleanup()


def denied(ram: ramdriver.RamDriver, subject: Subject, auth_action: str, kind: str, action: str, **params):
    """The call must be refused with NoPermission; check AccessDeniedDetail where the SDK has it."""
    e = ram.expect_error("NoPermission", 403, action, **params)
    assert e.message == NO_PERMISSION_MESSAGE, f"{ram.kind}: {e.message!r}"
    if isinstance(ram, ramdriver.TeaRam):
        d = e.access_denied_detail
        assert d is not None, f"{ram.kind}: no AccessDeniedDetail in {e.data}"
        assert d == e.data.get("AccessDeniedDetail"), e.data
        assert d.get("AuthAction") == auth_action, d
        assert d.get("NoPermissionType") == kind, d
        assert d.get("AuthPrincipalType") == "SubUser", d
        assert d.get("AuthPrincipalOwnerId") == subject.server.account_id, d
        assert d.get("AuthPrincipalDisplayName") == subject.user_id, d
    return e


# ------------------------------------------------------------------------------------------ read-only


@pytest.mark.parametrize("kind", USER_KINDS)
def test_readonly_system_policy(server, subject, kind):
    ram = subject.as_user(kind)
    me = subject.name
    # nothing attached yet: implicit deny everywhere
    denied(ram, subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")

    subject.attach("AliyunRAMReadOnlyAccess", "System")
    # List* / Get* now work, on the very next request
    names = [u["UserName"] for u in ramdriver.page_all(ram, "ListUsers", "Users", "User", 1000)]
    assert me in names
    assert ram("GetUser", UserName=me)["User"]["UserId"] == subject.user_id
    assert [k["AccessKeyId"] for k in ramdriver.items(ram("ListAccessKeys", UserName=me), "AccessKeys", "AccessKey")] == [subject.ak]
    pols = [p["PolicyName"] for p in ramdriver.items(ram("ListPoliciesForUser", UserName=me), "Policies", "Policy")]
    assert pols == ["AliyunRAMReadOnlyAccess"]
    assert "AliyunRAMReadOnlyAccess" in [
        p["PolicyName"] for p in ramdriver.items(ram("ListPolicies", PolicyType="System"), "Policies", "Policy")
    ]
    assert ram("GetPolicy", PolicyName="AliyunRAMReadOnlyAccess", PolicyType="System")["Policy"]["PolicyType"] == "System"

    # writes are refused, naming the action
    victim = uniq("authz-victim")
    denied(ram, subject, "ram:CreateUser", "ImplicitDeny", "CreateUser", UserName=victim)
    subject.root.expect_error("EntityNotExist.User", 404, "GetUser", UserName=victim)
    denied(ram, subject, "ram:DeleteUser", "ImplicitDeny", "DeleteUser", UserName=me)
    denied(ram, subject, "ram:UpdateUser", "ImplicitDeny", "UpdateUser", UserName=me, NewDisplayName="x")
    denied(ram, subject, "ram:CreateAccessKey", "ImplicitDeny", "CreateAccessKey", UserName=me)
    denied(ram, subject, "ram:DeleteAccessKey", "ImplicitDeny", "DeleteAccessKey", UserName=me, UserAccessKeyId=subject.ak)
    denied(ram, subject, "ram:CreatePolicy", "ImplicitDeny", "CreatePolicy", PolicyName=uniq("authz-x"), PolicyDocument=doc(allow("*")))
    # no privilege escalation
    denied(
        ram, subject, "ram:AttachPolicyToUser", "ImplicitDeny",
        "AttachPolicyToUser", UserName=me, PolicyType="System", PolicyName="AdministratorAccess",
    )
    assert [p["PolicyName"] for p in ramdriver.items(subject.root("ListPoliciesForUser", UserName=me), "Policies", "Policy")] == [
        "AliyunRAMReadOnlyAccess"
    ]

    # detach: refused again on the next request
    subject.detach("AliyunRAMReadOnlyAccess", "System")
    denied(ram, subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")
    denied(ram, subject, "ram:GetUser", "ImplicitDeny", "GetUser", UserName=me)


def test_readonly_over_https(server, subject):
    subject.attach("AliyunRAMReadOnlyAccess", "System")
    for kind in ("tea-https-v3", "tea-https-v2", "pycore-https"):
        ram = subject.as_user(kind)
        assert ram("GetUser", UserName=subject.name)["User"]["UserName"] == subject.name
        denied(ram, subject, "ram:CreateUser", "ImplicitDeny", "CreateUser", UserName=uniq("authz-u"))


# ------------------------------------------------------------------------------------------ resource scope


@pytest.mark.parametrize("kind", USER_KINDS)
def test_resource_scoped_allow(server, subject, kind):
    subject.attach(subject.custom_policy(doc(allow(["ram:CreateUser", "ram:DeleteUser"], "acs:ram:*:*:user/svc-*"))))
    ram = subject.as_user(kind)

    ok = f"svc-{uuid.uuid4().hex[:12]}"
    u = ram("CreateUser", UserName=ok)["User"]
    assert u["UserName"] == ok
    assert subject.root("GetUser", UserName=ok)["User"]["UserId"] == u["UserId"]

    for bad in (f"app-{uuid.uuid4().hex[:12]}", f"xsvc-{uuid.uuid4().hex[:8]}", f"sv-{uuid.uuid4().hex[:8]}"):
        denied(ram, subject, "ram:CreateUser", "ImplicitDeny", "CreateUser", UserName=bad)
        subject.root.expect_error("EntityNotExist.User", 404, "GetUser", UserName=bad)
    # other actions on the matching resource are not allowed
    denied(ram, subject, "ram:GetUser", "ImplicitDeny", "GetUser", UserName=ok)
    denied(ram, subject, "ram:DeleteUser", "ImplicitDeny", "DeleteUser", UserName=subject.name)

    ram("DeleteUser", UserName=ok)
    subject.root.expect_error("EntityNotExist.User", 404, "GetUser", UserName=ok)


def test_resource_scoped_account_and_region_slots(server, subject):
    """The account slot may be the account id; the region slot `*` matches the empty region of
    RAM ARNs (spec §11.9)."""
    acct = server.account_id
    subject.attach(subject.custom_policy(doc(allow("ram:GetUser", f"acs:ram:*:{acct}:user/{subject.name}"))))
    ram = subject.as_user("tea-http-v3")
    assert ram("GetUser", UserName=subject.name)["User"]["UserId"] == subject.user_id
    other = uniq("authz-other")
    subject.root("CreateUser", UserName=other)
    try:
        denied(ram, subject, "ram:GetUser", "ImplicitDeny", "GetUser", UserName=other)
    finally:
        subject.root("DeleteUser", UserName=other)
    # a policy for another account grants nothing
    subject.attach(subject.custom_policy(doc(allow("ram:ListUsers", "acs:ram:*:1111111111111111:user/*"))))
    denied(ram, subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")


# ------------------------------------------------------------------------------------------ deny wins


@pytest.mark.parametrize("kind", USER_KINDS)
def test_explicit_deny_beats_allow(server, subject, kind):
    subject.attach("AdministratorAccess", "System")
    deny_pol = subject.custom_policy(doc(deny("ram:CreateUser", "acs:ram:*:*:user/blocked-*"), deny("ram:ListPolicies")))
    subject.attach(deny_pol)
    ram = subject.as_user(kind)

    blocked = f"blocked-{uuid.uuid4().hex[:12]}"
    denied(ram, subject, "ram:CreateUser", "ExplicitDeny", "CreateUser", UserName=blocked)
    subject.root.expect_error("EntityNotExist.User", 404, "GetUser", UserName=blocked)
    denied(ram, subject, "ram:ListPolicies", "ExplicitDeny", "ListPolicies")
    # everything else AdministratorAccess allows
    free = uniq("authz-free")
    ram("CreateUser", UserName=free)
    ram("DeleteUser", UserName=free)
    assert ram("GetUser", UserName=subject.name)["User"]["UserName"] == subject.name

    # the deny and the allow in one document: still deny
    both = subject.custom_policy(doc(allow("ram:*"), deny("ram:GetUser")))
    subject.detach("AdministratorAccess", "System")
    subject.detach(deny_pol)
    subject.attach(both)
    denied(ram, subject, "ram:GetUser", "ExplicitDeny", "GetUser", UserName=subject.name)
    ram("ListUsers")
    # deny removed: allowed on the next request
    subject.root("CreatePolicyVersion", PolicyName=both, PolicyDocument=doc(allow("ram:*")), SetAsDefault=True)
    assert ram("GetUser", UserName=subject.name)["User"]["UserName"] == subject.name
    subject.root("SetDefaultPolicyVersion", PolicyName=both, VersionId="v1")
    denied(ram, subject, "ram:GetUser", "ExplicitDeny", "GetUser", UserName=subject.name)


# ------------------------------------------------------------------------------------------ conditions


@pytest.mark.parametrize("sdk", ["tea-v3", "tea-v2", "pycore"])
def test_condition_secure_transport(server, subject, sdk):
    subject.attach(
        subject.custom_policy(doc(allow("ram:ListUsers", Condition={"Bool": {"acs:SecureTransport": "true"}})))
    )
    if sdk == "pycore":
        https, http = subject.as_user("pycore-https"), subject.as_user("pycore-http")
    else:
        v = sdk.split("-")[1]
        https, http = subject.as_user(f"tea-https-{v}"), subject.as_user(f"tea-http-{v}")
    assert isinstance(https("ListUsers")["IsTruncated"], bool)
    denied(http, subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")


def test_condition_insecure_transport_only(server, subject):
    """The opposite: Bool acs:SecureTransport false allows plain http only."""
    subject.attach(
        subject.custom_policy(doc(allow("ram:ListUsers", Condition={"Bool": {"acs:SecureTransport": "false"}})))
    )
    assert isinstance(subject.as_user("tea-http-v3")("ListUsers")["IsTruncated"], bool)
    denied(subject.as_user("tea-https-v3"), subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")


@pytest.mark.parametrize("kind", USER_KINDS)
def test_condition_source_ip(server, subject, kind):
    pol = subject.custom_policy(
        doc(
            allow("ram:ListUsers", Condition={"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}}),
            allow("ram:ListPolicies", Condition={"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}),
            allow("ram:GetUser", Condition={"IpAddress": {"acs:SourceIp": ["192.168.0.0/16", "127.0.0.1"]}}),
            allow("ram:ListAccessKeys", Condition={"NotIpAddress": {"acs:SourceIp": "127.0.0.0/8"}}),
        )
    )
    subject.attach(pol)
    ram = subject.as_user(kind)
    assert isinstance(ram("ListUsers")["IsTruncated"], bool)
    denied(ram, subject, "ram:ListPolicies", "ImplicitDeny", "ListPolicies")
    assert ram("GetUser", UserName=subject.name)["User"]["UserName"] == subject.name
    denied(ram, subject, "ram:ListAccessKeys", "ImplicitDeny", "ListAccessKeys", UserName=subject.name)

    # swap the ranges in a new default version: the very next request sees it
    subject.root(
        "CreatePolicyVersion",
        PolicyName=pol,
        SetAsDefault=True,
        PolicyDocument=doc(
            allow("ram:ListUsers", Condition={"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}),
            allow("ram:ListPolicies", Condition={"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}}),
        ),
    )
    denied(ram, subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")
    assert isinstance(ram("ListPolicies")["IsTruncated"], bool)


@pytest.mark.parametrize("kind", USER_KINDS)
def test_condition_current_time(server, subject, kind):
    subject.attach(
        subject.custom_policy(
            doc(
                allow("ram:ListUsers", Condition={"DateLessThan": {"acs:CurrentTime": "2099-12-31T23:59:59Z"}}),
                allow("ram:ListPolicies", Condition={"DateLessThan": {"acs:CurrentTime": "2000-01-01T00:00:00Z"}}),
                allow("ram:GetUser", Condition={"DateGreaterThan": {"acs:CurrentTime": "2000-01-01T00:00:00Z"}}),
                allow("ram:ListAccessKeys", Condition={"DateGreaterThan": {"acs:CurrentTime": "2099-12-31T23:59:59Z"}}),
            )
        )
    )
    ram = subject.as_user(kind)
    assert isinstance(ram("ListUsers")["IsTruncated"], bool)  # deadline in the future
    denied(ram, subject, "ram:ListPolicies", "ImplicitDeny", "ListPolicies")  # deadline in the past
    assert ram("GetUser", UserName=subject.name)["User"]["UserName"] == subject.name
    denied(ram, subject, "ram:ListAccessKeys", "ImplicitDeny", "ListAccessKeys", UserName=subject.name)


def test_condition_current_time_with_offset(server, subject):
    """ISO 8601 values with an offset (spec §13.4 examples use +08:00)."""
    subject.attach(
        subject.custom_policy(
            doc(
                allow("ram:ListUsers", Condition={"DateLessThan": {"acs:CurrentTime": "2099-01-01T08:00:00+08:00"}}),
                allow("ram:ListPolicies", Condition={"DateLessThan": {"acs:CurrentTime": "2001-01-01T08:00:00+08:00"}}),
            )
        )
    )
    ram = subject.as_user("tea-http-v3")
    assert isinstance(ram("ListUsers")["IsTruncated"], bool)
    denied(ram, subject, "ram:ListPolicies", "ImplicitDeny", "ListPolicies")


def test_conditions_combine_with_and(server, subject):
    """Two operators in one Condition block must both hold (spec §13.4)."""
    subject.attach(
        subject.custom_policy(
            doc(
                allow(
                    "ram:ListUsers",
                    Condition={
                        "IpAddress": {"acs:SourceIp": "127.0.0.0/8"},
                        "Bool": {"acs:SecureTransport": "true"},
                    },
                )
            )
        )
    )
    assert isinstance(subject.as_user("tea-https-v3")("ListUsers")["IsTruncated"], bool)
    denied(subject.as_user("tea-http-v3"), subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")


# ------------------------------------------------------------------------------------------ groups


@pytest.mark.parametrize("kind", USER_KINDS)
def test_group_inherited_policy(server, subject, kind):
    ram = subject.as_user(kind)
    g = subject.group()
    pol = subject.custom_policy(doc(allow(["ram:ListUsers", "ram:GetUser"])))
    subject.root("AttachPolicyToGroup", GroupName=g, PolicyType="Custom", PolicyName=pol)

    denied(ram, subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")
    subject.root("AddUserToGroup", GroupName=g, UserName=subject.name)
    assert isinstance(ram("ListUsers")["IsTruncated"], bool)
    assert ram("GetUser", UserName=subject.name)["User"]["UserName"] == subject.name
    denied(ram, subject, "ram:CreateUser", "ImplicitDeny", "CreateUser", UserName=uniq("authz-g"))

    subject.root("RemoveUserFromGroup", GroupName=g, UserName=subject.name)
    denied(ram, subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")

    # back in; then the policy is detached from the group: refused on the next request
    subject.root("AddUserToGroup", GroupName=g, UserName=subject.name)
    assert isinstance(ram("ListUsers")["IsTruncated"], bool)
    subject.root("DetachPolicyFromGroup", GroupName=g, PolicyType="Custom", PolicyName=pol)
    denied(ram, subject, "ram:ListUsers", "ImplicitDeny", "ListUsers")


def test_group_deny_beats_user_allow(server, subject):
    ram = subject.as_user("tea-http-v3")
    subject.attach("AdministratorAccess", "System")
    g = subject.group()
    pol = subject.custom_policy(doc(deny("ram:ListUsers")))
    subject.root("AttachPolicyToGroup", GroupName=g, PolicyType="Custom", PolicyName=pol)
    assert isinstance(ram("ListUsers")["IsTruncated"], bool)
    subject.root("AddUserToGroup", GroupName=g, UserName=subject.name)
    denied(ram, subject, "ram:ListUsers", "ExplicitDeny", "ListUsers")
    subject.root("RemoveUserFromGroup", GroupName=g, UserName=subject.name)
    assert isinstance(ram("ListUsers")["IsTruncated"], bool)


def test_system_policy_through_group(server, subject):
    ram = subject.as_user("pycore-http")
    g = subject.group()
    subject.root("AttachPolicyToGroup", GroupName=g, PolicyType="System", PolicyName="AliyunRAMReadOnlyAccess")
    subject.root("AddUserToGroup", GroupName=g, UserName=subject.name)
    assert ram("GetGroup", GroupName=g)["Group"]["GroupName"] == g
    assert [x["UserName"] for x in ramdriver.items(ram("ListUsersForGroup", GroupName=g), "Users", "User")] == [subject.name]
    denied(ram, subject, "ram:RemoveUserFromGroup", "ImplicitDeny", "RemoveUserFromGroup", GroupName=g, UserName=subject.name)
    denied(ram, subject, "ram:DeleteGroup", "ImplicitDeny", "DeleteGroup", GroupName=g)
