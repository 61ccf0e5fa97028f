// RAM users and access keys through @alicloud/ram20150501 (V3 by default; v2 too).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as h from '../lib/helpers.mjs';

const { Ram } = h;
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
}

for (const [scheme, sig] of [['http', 'v3'], ['https', 'v3'], ['http', 'v2']]) {
  test(`user and key lifecycle (${scheme}, ${sig})`, async () => {
    const ram = h.ramClient(server, server.root, { scheme, sig });
    const userName = h.uniqueName('node-ram');

    const u = (await ram.createUser(new Ram.CreateUserRequest({ userName, displayName: 'Node User', comments: 'from node' }))).body.user;
    assert.deepEqual([u.userName, u.displayName, u.comments], [userName, 'Node User', 'from node']);
    assert.match(u.userId, /^\d+$/);

    assertClientError(await h.rejection(ram.createUser(new Ram.CreateUserRequest({ userName }))), 'EntityAlreadyExists.User', 409);

    const g = (await ram.getUser(new Ram.GetUserRequest({ userName }))).body.user;
    assert.deepEqual([g.userName, g.userId], [userName, u.userId]);

    const up = (await ram.updateUser(new Ram.UpdateUserRequest({ userName, newDisplayName: 'Node 2' }))).body.user;
    assert.deepEqual([up.userName, up.displayName], [userName, 'Node 2']);

    // paging
    const seen = [];
    let marker;
    for (let i = 0; i < 1000; i++) {
      const body = (await ram.listUsers(new Ram.ListUsersRequest({ maxItems: 1, marker }))).body;
      assert.ok(body.users.user.length <= 1);
      seen.push(...body.users.user.map((x) => x.userName));
      if (!body.isTruncated) break;
      assert.ok(body.marker);
      marker = body.marker;
    }
    assert.ok(seen.includes(userName));
    assert.equal(new Set(seen).size, seen.length);

    const k = (await ram.createAccessKey(new Ram.CreateAccessKeyRequest({ userName }))).body.accessKey;
    assert.equal(k.status, 'Active');
    const keys = (await ram.listAccessKeys(new Ram.ListAccessKeysRequest({ userName }))).body.accessKeys.accessKey;
    assert.deepEqual(keys.map((x) => x.accessKeyId), [k.accessKeyId]);

    const sts = h.stsClient(server, k, { scheme, sig });
    assert.deepEqual(
      { ...(await h.teaIdentity(sts)), RequestId: undefined, RoleId: undefined },
      { ...h.expectedUser(server, { userName, userId: u.userId }), RequestId: undefined, RoleId: undefined },
    );

    await ram.updateAccessKey(new Ram.UpdateAccessKeyRequest({ userName, userAccessKeyId: k.accessKeyId, status: 'Inactive' }));
    assertClientError(await h.rejection(h.teaIdentity(sts)), 'InvalidAccessKeyId.Inactive', 400);
    await ram.updateAccessKey(new Ram.UpdateAccessKeyRequest({ userName, userAccessKeyId: k.accessKeyId, status: 'Active' }));
    assert.equal((await h.teaIdentity(sts)).UserId, u.userId);

    assertClientError(await h.rejection(ram.deleteUser(new Ram.DeleteUserRequest({ userName }))), 'DeleteConflict.User.AccessKey', 409);
    await ram.deleteAccessKey(new Ram.DeleteAccessKeyRequest({ userName, userAccessKeyId: k.accessKeyId }));
    assertClientError(await h.rejection(h.teaIdentity(sts)), 'InvalidAccessKeyId.NotFound', 404);
    await ram.deleteUser(new Ram.DeleteUserRequest({ userName }));
    assertClientError(await h.rejection(ram.getUser(new Ram.GetUserRequest({ userName }))), 'EntityNotExist.User', 404);
  });
}

test('two keys max per user', async () => {
  const ram = h.ramClient(server, server.root);
  const userName = h.uniqueName('node-lim');
  await ram.createUser(new Ram.CreateUserRequest({ userName }));
  const k1 = (await ram.createAccessKey(new Ram.CreateAccessKeyRequest({ userName }))).body.accessKey;
  const k2 = (await ram.createAccessKey(new Ram.CreateAccessKeyRequest({ userName }))).body.accessKey;
  assertClientError(await h.rejection(ram.createAccessKey(new Ram.CreateAccessKeyRequest({ userName }))), 'LimitExceeded.User.AccessKey', 409);
  for (const k of [k1, k2]) await ram.deleteAccessKey(new Ram.DeleteAccessKeyRequest({ userName, userAccessKeyId: k.accessKeyId }));
  await ram.deleteUser(new Ram.DeleteUserRequest({ userName }));
});

test('a RAM user gets NoPermission on RAM actions', async () => {
  const user = await h.createUserWithKey(server, 'node-noperm');
  const ram = h.ramClient(server, user);
  assertClientError(await h.rejection(ram.listUsers(new Ram.ListUsersRequest({}))), 'NoPermission', 403);
  assertClientError(await h.rejection(ram.getUser(new Ram.GetUserRequest({ userName: user.userName }))), 'NoPermission', 403);
  // pop-core surfaces the same error by Code (it ignores the HTTP status)
  const pop = h.popClient(server, user, { apiVersion: '2015-05-01' });
  const err = await h.rejection(pop.request('ListUsers', {}, { method: 'POST' }));
  assert.equal(err.code, 'NoPermission');
  assert.equal(err.name, 'NoPermissionError');
});

test('pop-core drives RAM too (GET and POST)', async () => {
  const pop = h.popClient(server, server.root, { apiVersion: '2015-05-01' });
  const userName = h.uniqueName('node-pop');
  const created = await pop.request('CreateUser', { UserName: userName, Comments: "pop-core (it's) *here*" }, { method: 'POST' });
  assert.equal(created.User.UserName, userName);
  assert.equal(created.User.Comments, "pop-core (it's) *here*");
  const got = await pop.request('GetUser', { UserName: userName });
  assert.equal(got.User.UserId, created.User.UserId);
  await pop.request('DeleteUser', { UserName: userName });
  const err = await h.rejection(pop.request('GetUser', { UserName: userName }));
  assert.equal(err.code, 'EntityNotExist.User');
});
