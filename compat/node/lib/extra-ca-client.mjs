// Run as a child process with NODE_EXTRA_CA_CERTS=<server CA>: the way a user trusts a private
// CA for SDKs that have no CA option (sts-sdk, @alicloud/credentials) or when none is passed.
// usage: node extra-ca-client.mjs HTTPS_HOST AK SECRET RAM_USER_NAME
// prints one JSON object with each client's result (or error) on stdout.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [host, accessKeyId, accessKeySecret, ramUserName] = process.argv.slice(2);
const out = {};

async function record(name, fn) {
  try {
    out[name] = { ok: await fn() };
  } catch (e) {
    out[name] = { error: { name: e.name, code: e.code, message: String(e.message).slice(0, 500) } };
  }
}

const Sts = require('@alicloud/sts20150401');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const PopCore = require('@alicloud/pop-core');
const StsSdk = require('@alicloud/sts-sdk');

await record('sts20150401', async () => {
  const client = new Sts.default(new $OpenApiUtil.Config({ accessKeyId, accessKeySecret, endpoint: host, protocol: 'https' }));
  const b = (await client.getCallerIdentity()).body;
  return { IdentityType: b.identityType, AccountId: b.accountId, Arn: b.arn, PrincipalId: b.principalId, UserId: b.userId };
});

await record('pop-core', async () => {
  const client = new PopCore.RPCClient({ accessKeyId, accessKeySecret, endpoint: `https://${host}`, apiVersion: '2015-04-01' });
  return client.request('GetCallerIdentity', {}, { method: 'POST' });
});

// @alicloud/sts-sdk: always https, millisecond Timestamp, uuid4 nonce, and its own
// querystring-based canonicalisation (client-traffic.md §2.3).
await record('sts-sdk', async () => {
  const client = new StsSdk({ endpoint: host, accessKeyId, accessKeySecret });
  return client.getCallerIdentity();
});

// sts-sdk's signing path with characters it leaves unescaped (! ' ( ) *): its low-level
// request method pointed at a RAM action (the same signing code as AssumeRole with a Policy).
await record('sts-sdk-ram-create-user', async () => {
  const client = new StsSdk({ endpoint: host, accessKeyId, accessKeySecret, apiVersion: '2015-05-01' });
  return client.client.GetCallerIdentity(
    { Action: 'CreateUser', UserName: ramUserName, Comments: "sts-sdk (it's) *raw*!" },
    { timeout: 10000 },
  );
});

console.log(JSON.stringify(out));
