// Authorization of a RAM user, driven with the official Node SDKs as that user:
// @alicloud/ram20150501 (V3, and v2) and @alicloud/pop-core (RPC v1). The root sets things up.
// Denials are 403 NoPermission with AccessDeniedDetail (surfaced by the Tea client as
// err.accessDeniedDetail and in err.data); pop-core throws by Code and keeps the body in err.data.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as h from '../lib/helpers.mjs';

const { Ram } = h;
const MESSAGE = 'You are not authorized to do this action.';
let server;
let root;

before(async () => {
  server = await h.startServer();
  root = h.ramClient(server, server.root);
});

after(async () => {
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `tessera exited with ${code} after SIGTERM\n${server.tail()}`);
});

const doc = (...Statement) => JSON.stringify({ Version: '1', Statement });

async function customPolicy(document) {
  const policyName = h.uniqueName('node-authz-pol');
  await root.createPolicy(new Ram.CreatePolicyRequest({ policyName, policyDocument: document }));
  return policyName;
}

async function attach(user, policyName, policyType = 'Custom') {
  await root.attachPolicyToUser(new Ram.AttachPolicyToUserRequest({ policyType, policyName, userName: user.userName }));
}

async function detach(user, policyName, policyType = 'Custom') {
  await root.detachPolicyFromUser(new Ram.DetachPolicyFromUserRequest({ policyType, policyName, userName: user.userName }));
}

async function denied(promise, user, authAction, kind = 'ImplicitDeny') {
  const err = await h.rejection(promise);
  assert.equal(err.name, 'ClientError', `${err.name}: ${err.message}`);
  assert.deepEqual([err.code, err.statusCode], ['NoPermission', 403], err.message);
  assert.equal(err.data.Message, MESSAGE);
  const d = err.accessDeniedDetail;
  assert.ok(d, `no accessDeniedDetail: ${JSON.stringify(err.data)}`);
  assert.deepEqual(d, err.data.AccessDeniedDetail);
  assert.equal(d.AuthAction, authAction);
  assert.equal(d.NoPermissionType, kind);
  assert.equal(d.AuthPrincipalType, 'SubUser');
  assert.equal(d.AuthPrincipalOwnerId, server.accountId);
  assert.equal(d.AuthPrincipalDisplayName, user.userId);
  return err;
}

for (const sig of ['v3', 'v2']) {
  test(`AliyunRAMReadOnlyAccess: List*/Get* allowed, writes NoPermission (${sig})`, async () => {
    const user = await h.createUserWithKey(server, 'node-ro');
    const ram = h.ramClient(server, user, { sig });
    await denied(ram.listUsers(new Ram.ListUsersRequest({})), user, 'ram:ListUsers');

    await attach(user, 'AliyunRAMReadOnlyAccess', 'System');
    const users = (await ram.listUsers(new Ram.ListUsersRequest({ maxItems: 1000 }))).body.users.user;
    assert.ok(users.some((u) => u.userName === user.userName));
    assert.equal((await ram.getUser(new Ram.GetUserRequest({ userName: user.userName }))).body.user.userId, user.userId);
    const pols = (await ram.listPoliciesForUser(new Ram.ListPoliciesForUserRequest({ userName: user.userName }))).body.policies.policy;
    assert.deepEqual(pols.map((p) => p.policyName), ['AliyunRAMReadOnlyAccess']);
    await ram.getPolicy(new Ram.GetPolicyRequest({ policyName: 'AliyunRAMReadOnlyAccess', policyType: 'System' }));

    const victim = h.uniqueName('node-victim');
    await denied(ram.createUser(new Ram.CreateUserRequest({ userName: victim })), user, 'ram:CreateUser');
    const gone = await h.rejection(root.getUser(new Ram.GetUserRequest({ userName: victim })));
    assert.equal(gone.code, 'EntityNotExist.User');
    await denied(ram.deleteUser(new Ram.DeleteUserRequest({ userName: user.userName })), user, 'ram:DeleteUser');
    await denied(
      ram.attachPolicyToUser(new Ram.AttachPolicyToUserRequest({ policyType: 'System', policyName: 'AdministratorAccess', userName: user.userName })),
      user,
      'ram:AttachPolicyToUser',
    );
    await denied(ram.createPolicy(new Ram.CreatePolicyRequest({ policyName: h.uniqueName('node-x'), policyDocument: doc({ Effect: 'Allow', Action: '*', Resource: '*' }) })), user, 'ram:CreatePolicy');

    await detach(user, 'AliyunRAMReadOnlyAccess', 'System');
    await denied(ram.getUser(new Ram.GetUserRequest({ userName: user.userName })), user, 'ram:GetUser');
  });
}

test('pop-core as a read-only RAM user', async () => {
  const user = await h.createUserWithKey(server, 'node-ro-pop');
  await attach(user, 'AliyunRAMReadOnlyAccess', 'System');
  const pop = h.popClient(server, user, { apiVersion: '2015-05-01' });
  const listed = await pop.request('ListUsers', { MaxItems: 1000 }, { method: 'POST' });
  assert.ok(listed.Users.User.some((u) => u.UserName === user.userName));
  const err = await h.rejection(pop.request('CreateUser', { UserName: h.uniqueName('node-pop-victim') }, { method: 'POST' }));
  assert.equal(err.code, 'NoPermission');
  assert.equal(err.name, 'NoPermissionError');
  assert.equal(err.data.AccessDeniedDetail.AuthAction, 'ram:CreateUser');
  assert.equal(err.data.AccessDeniedDetail.NoPermissionType, 'ImplicitDeny');
});

test('resource-scoped allow: CreateUser only for user/svc-*', async () => {
  const user = await h.createUserWithKey(server, 'node-scope');
  await attach(user, await customPolicy(doc({ Effect: 'Allow', Action: ['ram:CreateUser', 'ram:DeleteUser'], Resource: 'acs:ram:*:*:user/svc-*' })));
  const ram = h.ramClient(server, user);
  const ok = `svc-${h.uniqueName('n')}`;
  assert.equal((await ram.createUser(new Ram.CreateUserRequest({ userName: ok }))).body.user.userName, ok);
  await denied(ram.createUser(new Ram.CreateUserRequest({ userName: `app-${h.uniqueName('n')}` })), user, 'ram:CreateUser');
  await ram.deleteUser(new Ram.DeleteUserRequest({ userName: ok }));
});

test('explicit Deny beats Allow', async () => {
  const user = await h.createUserWithKey(server, 'node-deny');
  await attach(user, 'AdministratorAccess', 'System');
  const denyPolicy = await customPolicy(doc({ Effect: 'Deny', Action: 'ram:CreateUser', Resource: 'acs:ram:*:*:user/blocked-*' }));
  await attach(user, denyPolicy);
  const ram = h.ramClient(server, user);
  await denied(ram.createUser(new Ram.CreateUserRequest({ userName: `blocked-${h.uniqueName('n')}` })), user, 'ram:CreateUser', 'ExplicitDeny');
  const free = h.uniqueName('node-free');
  await ram.createUser(new Ram.CreateUserRequest({ userName: free }));
  await ram.deleteUser(new Ram.DeleteUserRequest({ userName: free }));
  await detach(user, denyPolicy);
  const unblocked = `blocked-${h.uniqueName('n')}`;
  await ram.createUser(new Ram.CreateUserRequest({ userName: unblocked }));
  await ram.deleteUser(new Ram.DeleteUserRequest({ userName: unblocked }));
});

test('conditions: SecureTransport, SourceIp, CurrentTime', async () => {
  const user = await h.createUserWithKey(server, 'node-cond');
  await attach(
    user,
    await customPolicy(
      doc(
        { Effect: 'Allow', Action: 'ram:ListUsers', Resource: '*', Condition: { Bool: { 'acs:SecureTransport': 'true' } } },
        { Effect: 'Allow', Action: 'ram:GetUser', Resource: '*', Condition: { IpAddress: { 'acs:SourceIp': '127.0.0.0/8' } } },
        { Effect: 'Allow', Action: 'ram:ListPolicies', Resource: '*', Condition: { IpAddress: { 'acs:SourceIp': '10.0.0.0/8' } } },
        { Effect: 'Allow', Action: 'ram:ListAccessKeys', Resource: '*', Condition: { DateLessThan: { 'acs:CurrentTime': '2099-12-31T23:59:59Z' } } },
        { Effect: 'Allow', Action: 'ram:ListPoliciesForUser', Resource: '*', Condition: { DateLessThan: { 'acs:CurrentTime': '2000-01-01T00:00:00Z' } } },
      ),
    ),
  );
  const https = h.ramClient(server, user, { scheme: 'https' });
  const http = h.ramClient(server, user, { scheme: 'http' });
  assert.equal(typeof (await https.listUsers(new Ram.ListUsersRequest({}))).body.isTruncated, 'boolean');
  await denied(http.listUsers(new Ram.ListUsersRequest({})), user, 'ram:ListUsers');
  assert.equal((await http.getUser(new Ram.GetUserRequest({ userName: user.userName }))).body.user.userId, user.userId);
  await denied(http.listPolicies(new Ram.ListPoliciesRequest({})), user, 'ram:ListPolicies');
  await http.listAccessKeys(new Ram.ListAccessKeysRequest({ userName: user.userName }));
  await denied(http.listPoliciesForUser(new Ram.ListPoliciesForUserRequest({ userName: user.userName })), user, 'ram:ListPoliciesForUser');
});

test('group-inherited policy: allowed while a member, refused on the next request after removal', async () => {
  const user = await h.createUserWithKey(server, 'node-grp');
  const ram = h.ramClient(server, user);
  const groupName = h.uniqueName('node-authz-g');
  await root.createGroup(new Ram.CreateGroupRequest({ groupName }));
  await root.attachPolicyToGroup(new Ram.AttachPolicyToGroupRequest({ policyType: 'System', policyName: 'AliyunRAMReadOnlyAccess', groupName }));
  await denied(ram.listUsers(new Ram.ListUsersRequest({})), user, 'ram:ListUsers');
  await root.addUserToGroup(new Ram.AddUserToGroupRequest({ groupName, userName: user.userName }));
  await ram.listUsers(new Ram.ListUsersRequest({}));
  await denied(ram.createUser(new Ram.CreateUserRequest({ userName: h.uniqueName('node-g-victim') })), user, 'ram:CreateUser');
  await root.removeUserFromGroup(new Ram.RemoveUserFromGroupRequest({ groupName, userName: user.userName }));
  await denied(ram.listUsers(new Ram.ListUsersRequest({})), user, 'ram:ListUsers');
  await root.detachPolicyFromGroup(new Ram.DetachPolicyFromGroupRequest({ policyType: 'System', policyName: 'AliyunRAMReadOnlyAccess', groupName }));
  await root.deleteGroup(new Ram.DeleteGroupRequest({ groupName }));
});
