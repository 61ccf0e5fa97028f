// Run as a child process with NODE_EXTRA_CA_CERTS=<server CA>: the two https-only role clients,
// @alicloud/credentials `ram_role_arn` (its STS scheme is always https) and @alicloud/sts-sdk
// (always https, no CA option), and the clients their credentials then feed.
// usage: node sts-extra-ca-client.mjs '<json: {host, user, other, root, main, ext, extId, onlyUser, missing}>'
//   host: the https host:port; user/other/root: {accessKeyId, accessKeySecret};
//   main/ext/onlyUser/missing: role ARNs; extId: the ExternalId `ext` requires.
// Prints one JSON object with each scenario's result (or error) on stdout.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cfg = JSON.parse(process.argv[2]);
const { host } = cfg;
const out = {};

async function record(name, fn) {
  try {
    out[name] = { ok: await fn() };
  } catch (e) {
    out[name] = { error: { name: e.name, code: e.code, statusCode: e.statusCode, message: String(e.message).slice(0, 1500) } };
  }
}

async function settle(fn) {
  try {
    return { ok: await fn() };
  } catch (e) {
    return { error: { name: e.name, code: e.code, statusCode: e.statusCode, message: String(e.message).slice(0, 1500) } };
  }
}

const Credential = require('@alicloud/credentials');
const Sts = require('@alicloud/sts20150401');
const Ram = require('@alicloud/ram20150501');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const PopCore = require('@alicloud/pop-core');
const StsSdk = require('@alicloud/sts-sdk');

function ramRoleArn(who, roleArn, extra = {}) {
  return new Credential.default(
    new Credential.Config({
      type: 'ram_role_arn',
      accessKeyId: who.accessKeyId,
      accessKeySecret: who.accessKeySecret,
      roleArn,
      stsEndpoint: host,
      ...extra,
    }),
  );
}

function teaConfig(credential, sig) {
  const c = new $OpenApiUtil.Config({ credential, endpoint: host, protocol: 'https' });
  if (sig === 'v2') c.signatureAlgorithm = 'v2';
  return c;
}

async function identity(credential, sig = 'v3') {
  const b = (await new Sts.default(teaConfig(credential, sig)).getCallerIdentity()).body;
  return { IdentityType: b.identityType, AccountId: b.accountId, Arn: b.arn, PrincipalId: b.principalId, RoleId: b.roleId, UserId: b.userId };
}

// --- @alicloud/credentials ram_role_arn -----------------------------------------------------

await record('cred', async () => {
  const credential = ramRoleArn(cfg.user, cfg.main, { roleSessionName: 'node-cred' });
  const c = await credential.getCredential();
  return {
    type: c.type,
    providerName: c.providerName,
    accessKeyId: c.accessKeyId,
    v3: await identity(credential, 'v3'),
    v2: await identity(credential, 'v2'),
    // one AssumeRole serves both calls (3600 s session, refreshed 15 min before expiry)
    sameKey: (await credential.getCredential()).accessKeyId === c.accessKeyId,
  };
});

await record('cred-default-session-name', async () => identity(ramRoleArn(cfg.user, cfg.main)));

// A session policy with spaces, newlines and `*`, in the form body of the provider's POST.
await record('cred-policy', async () => {
  const policy = JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: ['ram:List*'], Resource: '*' }] }, null, 2);
  const credential = ramRoleArn(cfg.user, cfg.main, { roleSessionName: 'node-cred-policy', policy });
  const ram = new Ram.default(teaConfig(credential, 'v3'));
  const users = (await ram.listUsers(new Ram.ListUsersRequest({ maxItems: 1000 }))).body.users.user.map((u) => u.userName);
  const getUser = await settle(() => ram.getUser(new Ram.GetUserRequest({ userName: users[0] })));
  return { identity: await identity(credential), users, getUser };
});

await record('cred-external-id', async () => identity(ramRoleArn(cfg.user, cfg.ext, { roleSessionName: 'node-cred-ext', externalId: cfg.extId })));
await record('cred-external-id-wrong', async () => identity(ramRoleArn(cfg.user, cfg.ext, { roleSessionName: 'node-cred-ext', externalId: `${cfg.extId}-no` })));
await record('cred-untrusted', async () => identity(ramRoleArn(cfg.other, cfg.onlyUser, { roleSessionName: 'node-cred-untrusted' })));
await record('cred-root', async () => identity(ramRoleArn(cfg.root, cfg.main, { roleSessionName: 'node-cred-root' })));

// --- @alicloud/sts-sdk ----------------------------------------------------------------------

// A Policy with `*`, which sts-sdk leaves raw in its string to sign (client-traffic.md §2.3).
await record('sts-sdk', async () => {
  const policy = JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: ['ram:List*', 'sts:*'], Resource: '*' }] });
  const client = new StsSdk({ endpoint: host, accessKeyId: cfg.user.accessKeyId, accessKeySecret: cfg.user.accessKeySecret });
  const assumed = await client.assumeRole(cfg.main, 'node-stssdk', policy, 900);
  if (!assumed.Credentials) return { assumed };
  const { AccessKeyId, AccessKeySecret, SecurityToken } = assumed.Credentials;
  // sts-sdk with an STS credential object: SecurityToken param + x-acs-security-token header
  const session = new StsSdk({
    endpoint: host,
    credential: { getCredential: async () => ({ accessKeyId: AccessKeyId, accessKeySecret: AccessKeySecret, securityToken: SecurityToken }) },
  });
  const me = await session.getCallerIdentity();
  // and the same session on RAM through pop-core (https, CA from NODE_EXTRA_CA_CERTS)
  const pop = new PopCore.RPCClient({
    accessKeyId: AccessKeyId,
    accessKeySecret: AccessKeySecret,
    securityToken: SecurityToken,
    endpoint: `https://${host}`,
    apiVersion: '2015-05-01',
  });
  const users = (await pop.request('ListUsers', { MaxItems: 1000 })).Users.User.map((u) => u.UserName);
  const getUser = await settle(() => pop.request('GetUser', { UserName: users[0] }));
  return { assumed, me, users, getUser: getUser.error ?? getUser.ok };
});

// sts-sdk resolves 4xx bodies instead of throwing.
await record('sts-sdk-errors', async () => {
  const user = new StsSdk({ endpoint: host, accessKeyId: cfg.user.accessKeyId, accessKeySecret: cfg.user.accessKeySecret });
  const root = new StsSdk({ endpoint: host, accessKeyId: cfg.root.accessKeyId, accessKeySecret: cfg.root.accessKeySecret });
  return {
    root: await root.assumeRole(cfg.main, 'node-stssdk'),
    missing: await user.assumeRole(cfg.missing, 'node-stssdk'),
    duration: await user.assumeRole(cfg.main, 'node-stssdk', undefined, 7201),
    grammar: await user.assumeRole(cfg.main, 'node-stssdk', '{"Statement": "*"}'),
  };
});

console.log(JSON.stringify(out));
