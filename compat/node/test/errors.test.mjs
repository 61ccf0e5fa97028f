// Failures as the Node SDKs surface them.
//
// Nonce replay: the SDKs' own nonce generators are patched in-process:
//   * pop-core:  require('kitx').makeNonce, resolved from pop-core's own location (pop-core
//                calls `kitx.makeNonce()` through the module object, so patching the export works)
//   * Tea:       require('@alicloud/openapi-core/dist/utils').default.getNonce / getTimestamp
//                (openapi-core calls `utils_1.default.getNonce()` / `.getTimestamp()`)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as crypto from 'node:crypto';
import * as h from '../lib/helpers.mjs';

const popRequire = createRequire(h.require.resolve('@alicloud/pop-core'));
const popKitx = popRequire('kitx');
const TeaUtils = h.require('@alicloud/openapi-core/dist/utils').default;

let server;
let user;

before(async () => {
  server = await h.startServer();
  user = await h.createUserWithKey(server, 'node-err');
});

after(async () => {
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `tessera exited with ${code} after SIGTERM\n${server.tail()}`);
});

function assertTea(err, code, status) {
  assert.equal(err.name, 'ClientError', `${err.name}: ${err.message}`);
  assert.deepEqual([err.code, err.statusCode], [code, status], err.message);
  for (const k of ['RequestId', 'HostId', 'Code', 'Message', 'Recommend']) assert.ok(k in err.data, `${k} missing: ${JSON.stringify(err.data)}`);
  assert.equal(typeof err.data.Message, 'string');
}

function assertPop(err, code) {
  assert.equal(err.code, code, err.message);
  assert.equal(err.name, `${code}Error`);
  assert.equal(err.data.Code, code);
}

const SIG_PREFIX = 'Specified signature is not matched with our calculation. server string to sign is:';

test('wrong secret: pop-core GET/POST', async () => {
  for (const opts of [{}, { method: 'POST' }]) {
    const pop = h.popClient(server, { accessKeyId: server.root.accessKeyId, accessKeySecret: 'wrong' });
    const err = await h.rejection(pop.request('GetCallerIdentity', {}, opts));
    assertPop(err, 'SignatureDoesNotMatch');
    assert.ok(err.data.Message.startsWith(SIG_PREFIX), err.data.Message);
    assert.ok(err.data.Message.slice(SIG_PREFIX.length).startsWith(`${opts.method || 'GET'}&%2F&`), err.data.Message);
  }
});

test('wrong secret: sts20150401 v3 and v2', async () => {
  for (const sig of ['v3', 'v2']) {
    const sts = h.stsClient(server, { accessKeyId: user.accessKeyId, accessKeySecret: 'wrong' }, { sig });
    assertTea(await h.rejection(h.teaIdentity(sts)), 'SignatureDoesNotMatch', 400);
  }
});

test('unknown AccessKeyId', async () => {
  const cred = { accessKeyId: 'LTAI5tTesseraUnknownKey02', accessKeySecret: 'x' };
  assertPop(await h.rejection(h.popClient(server, cred).request('GetCallerIdentity', {})), 'InvalidAccessKeyId.NotFound');
  for (const sig of ['v3', 'v2']) {
    assertTea(await h.rejection(h.teaIdentity(h.stsClient(server, cred, { sig }))), 'InvalidAccessKeyId.NotFound', 404);
  }
});

test('replayed nonce: pop-core', async (t) => {
  const nonce = crypto.randomBytes(16).toString('hex');
  t.mock.method(popKitx, 'makeNonce', () => nonce);
  const pop = h.popClient(server, server.root);
  assert.equal((await pop.request('GetCallerIdentity', {})).IdentityType, 'Account');
  assertPop(await h.rejection(pop.request('GetCallerIdentity', {})), 'SignatureNonceUsed');
  assertPop(await h.rejection(pop.request('GetCallerIdentity', {}, { method: 'POST' })), 'SignatureNonceUsed');
  t.mock.restoreAll();
  assert.equal((await pop.request('GetCallerIdentity', {})).IdentityType, 'Account');
});

test('replayed nonce: sts20150401 v3 and v2', async (t) => {
  for (const sig of ['v3', 'v2']) {
    const nonce = crypto.randomBytes(32).toString('hex');
    t.mock.method(TeaUtils, 'getNonce', () => nonce);
    const sts = h.stsClient(server, user, { sig });
    assert.equal((await h.teaIdentity(sts)).IdentityType, 'RAMUser');
    assertTea(await h.rejection(h.teaIdentity(sts)), 'SignatureNonceUsed', 400);
    t.mock.restoreAll();
    assert.equal((await h.teaIdentity(sts)).IdentityType, 'RAMUser');
  }
});

test('stale and future timestamps: sts20150401 v3 and v2', async (t) => {
  for (const sig of ['v3', 'v2']) {
    for (const minutes of [-20, 20]) {
      const stamp = new Date(Date.now() + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      t.mock.method(TeaUtils, 'getTimestamp', () => stamp);
      assertTea(await h.rejection(h.teaIdentity(h.stsClient(server, server.root, { sig }))), 'InvalidTimeStamp.Expired', 400);
      t.mock.restoreAll();
    }
  }
});

test('unknown action and wrong version: pop-core', async () => {
  const pop = h.popClient(server, server.root);
  assertPop(await h.rejection(pop.request('NoSuchAction', {})), 'InvalidAction.NotFound');
  const old = h.popClient(server, server.root, { apiVersion: '2014-01-01' });
  assertPop(await h.rejection(old.request('GetCallerIdentity', {})), 'InvalidVersion');
});

test('disabled key: pop-core and sts20150401', async () => {
  const ram = h.ramClient(server, server.root);
  const u = await h.createUserWithKey(server, 'node-dis');
  await ram.updateAccessKey(new h.Ram.UpdateAccessKeyRequest({ userName: u.userName, userAccessKeyId: u.accessKeyId, status: 'Inactive' }));
  assertPop(await h.rejection(h.popClient(server, u).request('GetCallerIdentity', {})), 'InvalidAccessKeyId.Inactive');
  assertTea(await h.rejection(h.teaIdentity(h.stsClient(server, u))), 'InvalidAccessKeyId.Inactive', 400);
});
