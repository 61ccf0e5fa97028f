// https with the server's CA trusted through NODE_EXTRA_CA_CERTS (read at process start, so the
// clients run in a child process), including @alicloud/sts-sdk, which has no CA option.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as h from '../lib/helpers.mjs';

const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'extra-ca-client.mjs');
let server;

before(async () => {
  server = await h.startServer();
});

after(async () => {
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `tessera exited with ${code} after SIGTERM\n${server.tail()}`);
});

async function runClients(cred, ramUserName) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [CLIENT, server.httpsHost, cred.accessKeyId, cred.accessKeySecret, ramUserName],
    { env: { ...process.env, NODE_EXTRA_CA_CERTS: server.caPath, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' }, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop());
}

function assertIdentity(got, expected) {
  for (const [k, v] of Object.entries(expected)) assert.equal(got[k], v, `${k} in ${JSON.stringify(got)}`);
}

test('root: sts20150401, pop-core, sts-sdk over https via NODE_EXTRA_CA_CERTS', async () => {
  const userName = h.uniqueName('node-stssdk');
  const res = await runClients(server.root, userName);
  for (const name of ['sts20150401', 'pop-core', 'sts-sdk']) {
    assert.ok(res[name].ok, `${name}: ${JSON.stringify(res[name])}`);
    assertIdentity(res[name].ok, h.expectedRoot(server));
  }
  // sts-sdk resolves (does not throw) on 4xx, so check the body itself
  const created = res['sts-sdk-ram-create-user'].ok;
  assert.ok(created && created.User, JSON.stringify(res['sts-sdk-ram-create-user']));
  assert.equal(created.User.UserName, userName);
  assert.equal(created.User.Comments, "sts-sdk (it's) *raw*!");
  const ram = h.ramClient(server, server.root);
  await ram.deleteUser(new h.Ram.DeleteUserRequest({ userName }));
});

test('RAM user: sts20150401, pop-core, sts-sdk over https via NODE_EXTRA_CA_CERTS', async () => {
  const user = await h.createUserWithKey(server, 'node-xca');
  const res = await runClients(user, h.uniqueName('never-created'));
  for (const name of ['sts20150401', 'pop-core', 'sts-sdk']) {
    assert.ok(res[name].ok, `${name}: ${JSON.stringify(res[name])}`);
    assertIdentity(res[name].ok, h.expectedUser(server, user));
  }
  // a RAM user may not create users: sts-sdk hands back the 403 body
  assert.equal(res['sts-sdk-ram-create-user'].ok.Code, 'NoPermission');
});
