// RAM groups, policies and versions, roles, attachments and login profiles, as the account root:
// through @alicloud/ram20150501 (V3 typed client; one run over https, one with v2 signatures) and
// through @alicloud/pop-core (RPC v1, GET and POST). A shorter version of the Python lifecycle
// (compat/python/ram_scenarios.py).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as h from '../lib/helpers.mjs';

const { Ram } = h;
const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const ROTATE = 'DeleteOldestNonDefaultVersionWhenLimitExceeded';
const STRONG_PASSWORD = 'Tessera-Node-2026!xY';
let server;

before(async () => {
  server = await h.startServer();
});

after(async () => {
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `tessera exited with ${code} after SIGTERM\n${server.tail()}`);
});

function assertClientError(err, code, status) {
  assert.equal(err.name, 'ClientError', `${err.name}: ${err.message}`);
  assert.deepEqual([err.code, err.statusCode], [code, status], err.message);
  assert.ok(err.data && err.data.RequestId, JSON.stringify(err.data));
  assert.equal(typeof err.data.Message, 'string');
}

async function refused(promise, code, status) {
  const err = await h.rejection(promise);
  assertClientError(err, code, status);
  return err;
}

const doc = (...Statement) => JSON.stringify({ Version: '1', Statement });
const allow = (Action, Resource = '*', extra = {}) => ({ Effect: 'Allow', Action, Resource, ...extra });
const trustDoc = (...principals) =>
  JSON.stringify({ Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { RAM: principals } }], Version: '1' }, null, 2);
const sameJson = (a, b) => assert.deepEqual(JSON.parse(a), JSON.parse(b));
const roleName = (p) => `${p}-${Math.random().toString(16).slice(2, 10)}`;

const VARIANTS = [
  ['http', 'v3'],
  ['https', 'v3'],
  ['http', 'v2'],
];

for (const [scheme, sig] of VARIANTS) {
  const tag = `(${scheme}, ${sig})`;

  test(`groups: membership, listing both ways, delete conflicts ${tag}`, async () => {
    const ram = h.ramClient(server, server.root, { scheme, sig });
    const groupName = h.uniqueName('node-grp');
    const u1 = h.uniqueName('node-gu');
    const u2 = h.uniqueName('node-gu');
    for (const userName of [u1, u2]) await ram.createUser(new Ram.CreateUserRequest({ userName }));

    const g = (await ram.createGroup(new Ram.CreateGroupRequest({ groupName, comments: 'node group' }))).body.group;
    assert.deepEqual([g.groupName, g.comments], [groupName, 'node group']);
    assert.match(g.groupId, /^\d+$/);
    assert.match(g.createDate, DATE_RE);
    await refused(ram.createGroup(new Ram.CreateGroupRequest({ groupName })), 'EntityAlreadyExists.Group', 409);
    const got = (await ram.getGroup(new Ram.GetGroupRequest({ groupName }))).body.group;
    assert.deepEqual([got.groupId, got.comments], [g.groupId, 'node group']);
    const up = (await ram.updateGroup(new Ram.UpdateGroupRequest({ groupName, newComments: 'changed' }))).body.group;
    assert.deepEqual([up.groupName, up.comments], [groupName, 'changed']);
    const groups = (await ram.listGroups(new Ram.ListGroupsRequest({ maxItems: 1000 }))).body.groups.group;
    assert.ok(groups.some((x) => x.groupName === groupName && x.groupId === g.groupId));

    for (const userName of [u1, u2]) await ram.addUserToGroup(new Ram.AddUserToGroupRequest({ groupName, userName }));
    await refused(ram.addUserToGroup(new Ram.AddUserToGroupRequest({ groupName, userName: u1 })), 'EntityAlreadyExists.User.Group', 409);
    const members = (await ram.listUsersForGroup(new Ram.ListUsersForGroupRequest({ groupName }))).body.users.user;
    assert.deepEqual(members.map((x) => x.userName).sort(), [u1, u2].sort());
    for (const x of members) assert.match(x.joinDate, DATE_RE);
    const mine = (await ram.listGroupsForUser(new Ram.ListGroupsForUserRequest({ userName: u1 }))).body.groups.group;
    assert.deepEqual(mine.map((x) => [x.groupName, x.groupId]), [[groupName, g.groupId]]);

    await refused(ram.deleteGroup(new Ram.DeleteGroupRequest({ groupName })), 'DeleteConflict.Group.User', 409);
    await refused(ram.deleteUser(new Ram.DeleteUserRequest({ userName: u1 })), 'DeleteConflict.User.Group', 409);

    await ram.removeUserFromGroup(new Ram.RemoveUserFromGroupRequest({ groupName, userName: u1 }));
    await refused(ram.removeUserFromGroup(new Ram.RemoveUserFromGroupRequest({ groupName, userName: u1 })), 'EntityNotExist.User.Group', 404);
    const left = (await ram.listUsersForGroup(new Ram.ListUsersForGroupRequest({ groupName }))).body.users.user;
    assert.deepEqual(left.map((x) => x.userName), [u2]);
    const none = (await ram.listGroupsForUser(new Ram.ListGroupsForUserRequest({ userName: u1 }))).body.groups;
    assert.ok(!none || !none.group || none.group.length === 0, JSON.stringify(none));
    await ram.removeUserFromGroup(new Ram.RemoveUserFromGroupRequest({ groupName, userName: u2 }));

    await ram.deleteGroup(new Ram.DeleteGroupRequest({ groupName }));
    await refused(ram.getGroup(new Ram.GetGroupRequest({ groupName })), 'EntityNotExist.Group', 404);
    for (const userName of [u1, u2]) await ram.deleteUser(new Ram.DeleteUserRequest({ userName }));
  });

  test(`policies and versions: limit, rotation, default, cascading delete ${tag}`, async () => {
    const ram = h.ramClient(server, server.root, { scheme, sig });
    const policyName = h.uniqueName('node-pol');
    const docs = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => doc(allow(`ram:Get${n}`)));

    const p = (await ram.createPolicy(new Ram.CreatePolicyRequest({ policyName, policyDocument: docs[1], description: 'node' }))).body.policy;
    assert.deepEqual([p.policyName, p.policyType, p.defaultVersion, p.description], [policyName, 'Custom', 'v1', 'node']);
    await refused(ram.createPolicy(new Ram.CreatePolicyRequest({ policyName, policyDocument: docs[1] })), 'EntityAlreadyExists.Policy', 409);
    const bad = await refused(
      ram.createPolicy(new Ram.CreatePolicyRequest({ policyName: h.uniqueName('node-bad'), policyDocument: '{"Version":"1","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}' })),
      'MalformedPolicyDocument',
      400,
    );
    assert.match(bad.data.Message, /Effect|Maybe/i);

    let body = (await ram.getPolicy(new Ram.GetPolicyRequest({ policyName, policyType: 'Custom' }))).body;
    assert.deepEqual([body.policy.defaultVersion, body.policy.attachmentCount, body.defaultPolicyVersion.versionId], ['v1', 0, 'v1']);
    sameJson(body.policy.policyDocument, docs[1]);
    await refused(ram.getPolicy(new Ram.GetPolicyRequest({ policyName, policyType: 'System' })), 'EntityNotExist.Policy', 404);
    const ud = (await ram.updatePolicyDescription(new Ram.UpdatePolicyDescriptionRequest({ policyName, newDescription: 'node 2' }))).body.policy;
    assert.equal(ud.description, 'node 2');

    const v2 = (await ram.createPolicyVersion(new Ram.CreatePolicyVersionRequest({ policyName, policyDocument: docs[2] }))).body.policyVersion;
    assert.deepEqual([v2.versionId, v2.isDefaultVersion], ['v2', false]);
    const v3 = (await ram.createPolicyVersion(new Ram.CreatePolicyVersionRequest({ policyName, policyDocument: docs[3], setAsDefault: true }))).body.policyVersion;
    assert.deepEqual([v3.versionId, v3.isDefaultVersion], ['v3', true]);
    for (const n of [4, 5]) await ram.createPolicyVersion(new Ram.CreatePolicyVersionRequest({ policyName, policyDocument: docs[n] }));
    const versions = async () =>
      (await ram.listPolicyVersions(new Ram.ListPolicyVersionsRequest({ policyName, policyType: 'Custom' }))).body.policyVersions.policyVersion;
    let vs = await versions();
    assert.deepEqual(vs.map((v) => v.versionId).sort(), ['v1', 'v2', 'v3', 'v4', 'v5']);
    assert.deepEqual(vs.filter((v) => v.isDefaultVersion).map((v) => v.versionId), ['v3']);

    await refused(ram.createPolicyVersion(new Ram.CreatePolicyVersionRequest({ policyName, policyDocument: docs[6] })), 'LimitExceeded.Policy.Version', 409);
    const v6 = (await ram.createPolicyVersion(new Ram.CreatePolicyVersionRequest({ policyName, policyDocument: docs[6], rotateStrategy: ROTATE }))).body.policyVersion;
    assert.equal(v6.versionId, 'v6');
    vs = await versions();
    assert.deepEqual(vs.map((v) => v.versionId).sort(), ['v2', 'v3', 'v4', 'v5', 'v6']);

    await ram.setDefaultPolicyVersion(new Ram.SetDefaultPolicyVersionRequest({ policyName, versionId: 'v2' }));
    const gv = (await ram.getPolicyVersion(new Ram.GetPolicyVersionRequest({ policyName, policyType: 'Custom', versionId: 'v2' }))).body.policyVersion;
    assert.equal(gv.isDefaultVersion, true);
    sameJson(gv.policyDocument, docs[2]);
    body = (await ram.getPolicy(new Ram.GetPolicyRequest({ policyName, policyType: 'Custom' }))).body;
    assert.equal(body.policy.defaultVersion, 'v2');

    await refused(ram.deletePolicyVersion(new Ram.DeletePolicyVersionRequest({ policyName, versionId: 'v2' })), 'DeleteConflict.Policy.Version.Default', 409);
    await ram.deletePolicyVersion(new Ram.DeletePolicyVersionRequest({ policyName, versionId: 'v3' }));
    await refused(
      ram.getPolicyVersion(new Ram.GetPolicyVersionRequest({ policyName, policyType: 'Custom', versionId: 'v3' })),
      'EntityNotExist.Policy.Version',
      404,
    );
    await refused(ram.deletePolicy(new Ram.DeletePolicyRequest({ policyName })), 'DeleteConflict.Policy.Version', 409);
    await ram.deletePolicy(new Ram.DeletePolicyRequest({ policyName, cascadingDelete: true }));
    await refused(ram.getPolicy(new Ram.GetPolicyRequest({ policyName, policyType: 'Custom' })), 'EntityNotExist.Policy', 404);

    // system policies, listed first
    const all = (await ram.listPolicies(new Ram.ListPoliciesRequest({ maxItems: 1000 }))).body.policies.policy;
    const types = all.map((x) => x.policyType);
    const nSys = types.filter((t) => t === 'System').length;
    assert.deepEqual(types, [...Array(nSys).fill('System'), ...Array(types.length - nSys).fill('Custom')]);
    for (const n of ['AdministratorAccess', 'ReadOnlyAccess', 'AliyunSTSAssumeRoleAccess', 'AliyunRAMFullAccess', 'AliyunRAMReadOnlyAccess']) {
      assert.ok(all.some((x) => x.policyType === 'System' && x.policyName === n), n);
    }
  });

  test(`roles: trust policy, case-insensitive lookup, update, list, delete conflict ${tag}`, async () => {
    const ram = h.ramClient(server, server.root, { scheme, sig });
    const name = roleName('Node-Role');
    const arn = `acs:ram::${server.accountId}:role/${name}`;
    const trust = trustDoc(`acs:ram::${server.accountId}:root`);

    const r = (await ram.createRole(new Ram.CreateRoleRequest({ roleName: name, assumeRolePolicyDocument: trust, description: 'node role', maxSessionDuration: 7200 })))
      .body.role;
    assert.deepEqual([r.roleName, r.arn, r.description, r.maxSessionDuration], [name, arn, 'node role', 7200]);
    assert.match(r.roleId, /^\d+$/);
    assert.equal(r.assumeRolePolicyDocument, trust);
    await refused(ram.createRole(new Ram.CreateRoleRequest({ roleName: name.toLowerCase(), assumeRolePolicyDocument: trust })), 'EntityAlreadyExists.Role', 409);
    await refused(
      ram.createRole(new Ram.CreateRoleRequest({ roleName: roleName('node-bad'), assumeRolePolicyDocument: doc(allow('sts:AssumeRole')) })),
      'MalformedPolicyDocument',
      400,
    );
    const tooLong = await h.rejection(ram.createRole(new Ram.CreateRoleRequest({ roleName: roleName('node-dur'), assumeRolePolicyDocument: trust, maxSessionDuration: 43201 })));
    assert.equal(tooLong.statusCode, 400, tooLong.message);

    const g = (await ram.getRole(new Ram.GetRoleRequest({ roleName: name.toUpperCase() }))).body.role;
    assert.deepEqual([g.roleId, g.roleName, g.arn, g.assumeRolePolicyDocument], [r.roleId, name, arn, trust]);

    const trust2 = trustDoc(`acs:ram::${server.accountId}:root`, `acs:ram::${server.accountId}:role/${name}`);
    const up = (await ram.updateRole(new Ram.UpdateRoleRequest({ roleName: name, newAssumeRolePolicyDocument: trust2, newMaxSessionDuration: 43200 }))).body.role;
    assert.deepEqual([up.roleId, up.maxSessionDuration, up.assumeRolePolicyDocument], [r.roleId, 43200, trust2]);
    assert.equal((await ram.getRole(new Ram.GetRoleRequest({ roleName: name }))).body.role.maxSessionDuration, 43200);

    const roles = (await ram.listRoles(new Ram.ListRolesRequest({ maxItems: 1000 }))).body.roles.role;
    assert.ok(roles.some((x) => x.roleName === name && x.roleId === r.roleId && x.arn === arn));

    await ram.attachPolicyToRole(new Ram.AttachPolicyToRoleRequest({ policyType: 'System', policyName: 'AliyunRAMReadOnlyAccess', roleName: name }));
    await refused(ram.deleteRole(new Ram.DeleteRoleRequest({ roleName: name })), 'DeleteConflict.Role.Policy', 409);
    await ram.detachPolicyFromRole(new Ram.DetachPolicyFromRoleRequest({ policyType: 'System', policyName: 'AliyunRAMReadOnlyAccess', roleName: name }));
    await ram.deleteRole(new Ram.DeleteRoleRequest({ roleName: name }));
    await refused(ram.getRole(new Ram.GetRoleRequest({ roleName: name })), 'EntityNotExist.Role', 404);
  });

  test(`attachments: user, group, role, both directions ${tag}`, async () => {
    const ram = h.ramClient(server, server.root, { scheme, sig });
    const policyName = h.uniqueName('node-att');
    const userName = h.uniqueName('node-att-u');
    const groupName = h.uniqueName('node-att-g');
    const name = roleName('node-att-r');
    await ram.createPolicy(new Ram.CreatePolicyRequest({ policyName, policyDocument: doc(allow('ram:ListUsers')) }));
    const user = (await ram.createUser(new Ram.CreateUserRequest({ userName }))).body.user;
    await ram.createGroup(new Ram.CreateGroupRequest({ groupName }));
    const role = (await ram.createRole(new Ram.CreateRoleRequest({ roleName: name, assumeRolePolicyDocument: trustDoc(`acs:ram::${server.accountId}:root`) }))).body.role;
    const custom = { policyType: 'Custom', policyName };

    await ram.attachPolicyToUser(new Ram.AttachPolicyToUserRequest({ ...custom, userName }));
    await ram.attachPolicyToUser(new Ram.AttachPolicyToUserRequest({ policyType: 'System', policyName: 'ReadOnlyAccess', userName }));
    await ram.attachPolicyToGroup(new Ram.AttachPolicyToGroupRequest({ ...custom, groupName }));
    await ram.attachPolicyToRole(new Ram.AttachPolicyToRoleRequest({ ...custom, roleName: name }));
    await refused(ram.attachPolicyToUser(new Ram.AttachPolicyToUserRequest({ ...custom, userName })), 'EntityAlreadyExists.User.Policy', 409);

    const up = (await ram.listPoliciesForUser(new Ram.ListPoliciesForUserRequest({ userName }))).body.policies.policy;
    assert.deepEqual(up.map((x) => `${x.policyType}:${x.policyName}`).sort(), [`Custom:${policyName}`, 'System:ReadOnlyAccess'].sort());
    for (const x of up) assert.match(x.attachDate, DATE_RE);
    const gp = (await ram.listPoliciesForGroup(new Ram.ListPoliciesForGroupRequest({ groupName }))).body.policies.policy;
    assert.deepEqual(gp.map((x) => x.policyName), [policyName]);
    const rp = (await ram.listPoliciesForRole(new Ram.ListPoliciesForRoleRequest({ roleName: name }))).body.policies.policy;
    assert.deepEqual(rp.map((x) => x.policyName), [policyName]);

    const ents = (await ram.listEntitiesForPolicy(new Ram.ListEntitiesForPolicyRequest(custom))).body;
    assert.deepEqual(ents.users.user.map((x) => [x.userName, x.userId]), [[userName, user.userId]]);
    assert.deepEqual(ents.groups.group.map((x) => x.groupName), [groupName]);
    assert.deepEqual(ents.roles.role.map((x) => [x.roleName, x.roleId, x.arn]), [[name, role.roleId, role.arn]]);
    assert.equal((await ram.getPolicy(new Ram.GetPolicyRequest(custom))).body.policy.attachmentCount, 3);

    await refused(ram.deleteUser(new Ram.DeleteUserRequest({ userName })), 'DeleteConflict.User.Policy', 409);
    const conflict = await h.rejection(ram.deletePolicy(new Ram.DeletePolicyRequest({ policyName })));
    assert.equal(conflict.statusCode, 409);
    assert.match(conflict.code, /^DeleteConflict\.Policy\.(User|Group|Role)$/);

    await ram.detachPolicyFromUser(new Ram.DetachPolicyFromUserRequest({ ...custom, userName }));
    await ram.detachPolicyFromUser(new Ram.DetachPolicyFromUserRequest({ policyType: 'System', policyName: 'ReadOnlyAccess', userName }));
    await refused(ram.detachPolicyFromUser(new Ram.DetachPolicyFromUserRequest({ ...custom, userName })), 'EntityNotExist.User.Policy', 404);
    await ram.detachPolicyFromGroup(new Ram.DetachPolicyFromGroupRequest({ ...custom, groupName }));
    await refused(ram.deletePolicy(new Ram.DeletePolicyRequest({ policyName })), 'DeleteConflict.Policy.Role', 409);
    await ram.detachPolicyFromRole(new Ram.DetachPolicyFromRoleRequest({ ...custom, roleName: name }));
    const empty = (await ram.listEntitiesForPolicy(new Ram.ListEntitiesForPolicyRequest(custom))).body;
    for (const [k, inner] of [['users', 'user'], ['groups', 'group'], ['roles', 'role']]) {
      assert.ok(!empty[k] || !empty[k][inner] || empty[k][inner].length === 0, `${k}: ${JSON.stringify(empty[k])}`);
    }
    await ram.deletePolicy(new Ram.DeletePolicyRequest({ policyName }));
    await ram.deleteUser(new Ram.DeleteUserRequest({ userName }));
    await ram.deleteGroup(new Ram.DeleteGroupRequest({ groupName }));
    await ram.deleteRole(new Ram.DeleteRoleRequest({ roleName: name }));
  });

  test(`login profile ${tag}`, async () => {
    const ram = h.ramClient(server, server.root, { scheme, sig });
    const userName = h.uniqueName('node-lp');
    await ram.createUser(new Ram.CreateUserRequest({ userName }));
    await refused(ram.createLoginProfile(new Ram.CreateLoginProfileRequest({ userName, password: 'abc' })), 'InvalidParameter.Password.TooWeak', 400);
    const lp = (await ram.createLoginProfile(new Ram.CreateLoginProfileRequest({ userName, password: STRONG_PASSWORD, passwordResetRequired: true })))
      .body.loginProfile;
    assert.deepEqual([lp.userName, lp.passwordResetRequired, lp.MFABindRequired], [userName, true, false]);
    assert.match(lp.createDate, DATE_RE);
    await refused(ram.createLoginProfile(new Ram.CreateLoginProfileRequest({ userName, password: STRONG_PASSWORD })), 'EntityAlreadyExists.User.LoginProfile', 409);
    await ram.updateLoginProfile(new Ram.UpdateLoginProfileRequest({ userName, passwordResetRequired: false, MFABindRequired: true }));
    const g = (await ram.getLoginProfile(new Ram.GetLoginProfileRequest({ userName }))).body.loginProfile;
    assert.deepEqual([g.passwordResetRequired, g.MFABindRequired], [false, true]);
    await refused(ram.deleteUser(new Ram.DeleteUserRequest({ userName })), 'DeleteConflict.User.LoginProfile', 409);
    await ram.deleteLoginProfile(new Ram.DeleteLoginProfileRequest({ userName }));
    await refused(ram.getLoginProfile(new Ram.GetLoginProfileRequest({ userName })), 'EntityNotExist.User.LoginProfile', 404);
    await ram.deleteUser(new Ram.DeleteUserRequest({ userName }));
  });
}

// ------------------------------------------------------------------------------------------ pop-core

async function popRefused(promise, code) {
  const err = await h.rejection(promise);
  // pop-core ignores the HTTP status; it throws by Code, naming the error `<Code>Error`.
  assert.equal(err.code, code, `${err.name}: ${err.message}`);
  assert.equal(err.name, `${code}Error`);
  assert.ok(err.data && err.data.RequestId, JSON.stringify(err.data));
  return err;
}

for (const method of ['POST', 'GET']) {
  test(`pop-core RPC (${method}): policies, versions, groups, roles, attachments, login profile`, async () => {
    const pop = h.popClient(server, server.root, { apiVersion: '2015-05-01' });
    const call = (action, params) => pop.request(action, params, { method });
    const PolicyName = h.uniqueName('node-pop-pol');
    const UserName = h.uniqueName('node-pop-u');
    const GroupName = h.uniqueName('node-pop-g');
    const RoleName = roleName('Node-Pop-Role');
    // a document with characters that need care in RPC v1 canonicalisation
    const d1 = doc(allow(['ram:Get*', 'ram:List*'], 'acs:ram:*:*:user/*'));

    const p = await call('CreatePolicy', { PolicyName, PolicyDocument: d1, Description: "pop-core (it's) *here*" });
    assert.deepEqual([p.Policy.PolicyName, p.Policy.DefaultVersion, p.Policy.Description], [PolicyName, 'v1', "pop-core (it's) *here*"]);
    for (let n = 2; n <= 5; n++) {
      const v = await call('CreatePolicyVersion', { PolicyName, PolicyDocument: doc(allow(`ram:Get${n}`)), SetAsDefault: n === 3 });
      assert.equal(v.PolicyVersion.VersionId, `v${n}`);
      assert.equal(v.PolicyVersion.IsDefaultVersion, n === 3);
    }
    await popRefused(call('CreatePolicyVersion', { PolicyName, PolicyDocument: d1 }), 'LimitExceeded.Policy.Version');
    const v6 = await call('CreatePolicyVersion', { PolicyName, PolicyDocument: d1, RotateStrategy: ROTATE });
    assert.equal(v6.PolicyVersion.VersionId, 'v6');
    const vs = (await call('ListPolicyVersions', { PolicyName, PolicyType: 'Custom' })).PolicyVersions.PolicyVersion;
    assert.deepEqual(vs.map((v) => v.VersionId).sort(), ['v2', 'v3', 'v4', 'v5', 'v6']);
    await call('SetDefaultPolicyVersion', { PolicyName, VersionId: 'v6' });
    const got = await call('GetPolicy', { PolicyName, PolicyType: 'Custom' });
    assert.equal(got.Policy.DefaultVersion, 'v6');
    sameJson(got.DefaultPolicyVersion.PolicyDocument, d1);
    await popRefused(call('DeletePolicyVersion', { PolicyName, VersionId: 'v6' }), 'DeleteConflict.Policy.Version.Default');
    await popRefused(call('CreatePolicy', { PolicyName: h.uniqueName('node-pop-bad'), PolicyDocument: '{"Version":"1"' }), 'MalformedPolicyDocument');

    await call('CreateUser', { UserName });
    await call('CreateGroup', { GroupName, Comments: 'pop group' });
    await call('AddUserToGroup', { GroupName, UserName });
    assert.deepEqual((await call('ListGroupsForUser', { UserName })).Groups.Group.map((g) => g.GroupName), [GroupName]);
    assert.deepEqual((await call('ListUsersForGroup', { GroupName })).Users.User.map((u) => u.UserName), [UserName]);
    const trust = trustDoc(`acs:ram::${server.accountId}:root`);
    const role = (await call('CreateRole', { RoleName, AssumeRolePolicyDocument: trust, MaxSessionDuration: 3600 })).Role;
    assert.equal(role.AssumeRolePolicyDocument, trust);
    assert.equal((await call('GetRole', { RoleName: RoleName.toLowerCase() })).Role.RoleId, role.RoleId);

    await call('AttachPolicyToUser', { PolicyType: 'Custom', PolicyName, UserName });
    await call('AttachPolicyToGroup', { PolicyType: 'Custom', PolicyName, GroupName });
    await call('AttachPolicyToRole', { PolicyType: 'Custom', PolicyName, RoleName });
    await popRefused(call('AttachPolicyToUser', { PolicyType: 'Custom', PolicyName, UserName }), 'EntityAlreadyExists.User.Policy');
    const ents = await call('ListEntitiesForPolicy', { PolicyName, PolicyType: 'Custom' });
    assert.deepEqual(
      [ents.Users.User.map((x) => x.UserName), ents.Groups.Group.map((x) => x.GroupName), ents.Roles.Role.map((x) => x.RoleName)],
      [[UserName], [GroupName], [RoleName]],
    );
    assert.deepEqual((await call('ListPoliciesForUser', { UserName })).Policies.Policy.map((x) => x.PolicyName), [PolicyName]);
    await popRefused(call('DeleteUser', { UserName }), 'DeleteConflict.User.Policy');
    await popRefused(call('DeleteRole', { RoleName }), 'DeleteConflict.Role.Policy');
    await popRefused(call('DeleteGroup', { GroupName }), 'DeleteConflict.Group.User');

    await call('CreateLoginProfile', { UserName, Password: STRONG_PASSWORD, MFABindRequired: false });
    assert.equal((await call('GetLoginProfile', { UserName })).LoginProfile.UserName, UserName);
    await popRefused(call('CreateLoginProfile', { UserName: h.uniqueName('node-pop-x'), Password: STRONG_PASSWORD }), 'EntityNotExist.User');

    // tear down
    await call('DeleteLoginProfile', { UserName });
    await call('DetachPolicyFromUser', { PolicyType: 'Custom', PolicyName, UserName });
    await call('DetachPolicyFromGroup', { PolicyType: 'Custom', PolicyName, GroupName });
    await call('DetachPolicyFromRole', { PolicyType: 'Custom', PolicyName, RoleName });
    await call('RemoveUserFromGroup', { GroupName, UserName });
    await popRefused(call('DeletePolicy', { PolicyName }), 'DeleteConflict.Policy.Version');
    await call('DeletePolicy', { PolicyName, CascadingDelete: true });
    await call('DeleteGroup', { GroupName });
    await call('DeleteRole', { RoleName });
    await call('DeleteUser', { UserName });
    await popRefused(call('GetPolicy', { PolicyName, PolicyType: 'Custom' }), 'EntityNotExist.Policy');
  });
}
