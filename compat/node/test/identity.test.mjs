// GetCallerIdentity through @alicloud/pop-core (RPC v1, GET and POST), @alicloud/sts20150401
// (V3 and v2) and @alicloud/openapi-client, over http and https, as root and as a RAM user.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as h from '../lib/helpers.mjs';

let server;
let user;
const principals = {};

before(async () => {
  server = await h.startServer();
  user = await h.createUserWithKey(server);
  principals.root = { cred: server.root, expected: h.expectedRoot(server) };
  principals.ramuser = {
    cred: { accessKeyId: user.accessKeyId, accessKeySecret: user.accessKeySecret },
    expected: h.expectedUser(server, user),
  };
});

after(async () => {
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `tessera exited with ${code} after SIGTERM\n${server.tail()}`);
});

function assertIdentity(got, expected) {
  for (const [k, v] of Object.entries(expected)) assert.equal(got[k], v, `${k} in ${JSON.stringify(got)}`);
  assert.ok(!got.RoleId, `unexpected RoleId: ${JSON.stringify(got)}`);
  assert.match(got.RequestId ?? '', h.REQUEST_ID_RE);
}

for (const principal of ['root', 'ramuser']) {
  for (const scheme of ['http', 'https']) {
    describe(`${principal} over ${scheme}`, () => {
      for (const method of ['GET', 'POST']) {
        test(`pop-core RPCClient ${method}`, async () => {
          const { cred, expected } = principals[principal];
          const client = h.popClient(server, cred, { scheme });
          const res = await client.request('GetCallerIdentity', {}, method === 'POST' ? { method: 'POST' } : {});
          assertIdentity(res, expected);
        });
      }
      for (const sig of ['v3', 'v2']) {
        test(`@alicloud/sts20150401 ${sig}`, async () => {
          const { cred, expected } = principals[principal];
          assertIdentity(await h.teaIdentity(h.stsClient(server, cred, { scheme, sig })), expected);
        });
      }
      test('@alicloud/openapi-client callApi (V3)', async () => {
        const { cred, expected } = principals[principal];
        const { Config, Params, OpenApiRequest } = h.OpenApiClient;
        const cfg = new Config({
          accessKeyId: cred.accessKeyId,
          accessKeySecret: cred.accessKeySecret,
          endpoint: server.host(scheme),
          protocol: scheme,
        });
        if (scheme === 'https') cfg.ca = server.ca;
        const client = new h.OpenApiClient.default(cfg);
        const params = new Params({
          action: 'GetCallerIdentity',
          version: '2015-04-01',
          protocol: 'HTTPS',
          pathname: '/',
          method: 'POST',
          authType: 'AK',
          style: 'RPC',
          reqBodyType: 'formData',
          bodyType: 'json',
        });
        const runtime = new h.TeaUtil.RuntimeOptions({});
        if (scheme === 'https') runtime.ca = server.ca;
        const res = await client.callApi(params, new OpenApiRequest({}), runtime);
        assert.equal(res.statusCode, 200);
        assertIdentity(res.body, expected);
      });
    });
  }
}
