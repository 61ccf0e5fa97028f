// STS AssumeRole and role sessions through the Node SDKs (spec §8.1, §8.4, §9, §13.6;
// client-traffic.md):
//   * @alicloud/pop-core AssumeRole (GET and POST, http and https), then GetCallerIdentity and RAM
//     with the returned securityToken;
//   * @alicloud/sts20150401 AssumeRole (V3 and v2), then GetCallerIdentity with StsToken
//     credentials (Config.securityToken, and a @alicloud/credentials `sts` credential);
//   * @alicloud/credentials `ram_role_arn` and @alicloud/sts-sdk (a Policy with `*`), both https
//     only, in a child process trusting the server CA through NODE_EXTRA_CA_CERTS;
//   * every AssumeRole error a user can hit, and the SecurityToken errors, through pop-core and Tea.
// An expired token cannot be made here (sessions last at least 900 s and the server's clock is
// its own); InvalidSecurityToken.Expired is covered by the server's tests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as https from 'node:https';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as h from '../lib/helpers.mjs';

const { Ram, Sts } = h;
const Credential = h.require('@alicloud/credentials');
const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'sts-extra-ca-client.mjs');

const UNTRUSTED =
  'No permission perform sts:AssumeRole on this Role. Maybe you are not authorized to perform sts:AssumeRole or the specified role does not trust you';
const ROOT_REFUSED = 'Roles may not be assumed by root accounts.';
const NOT_AUTHORIZED = 'You are not authorized to do this action. You should be authorized by RAM.';
const NO_ROLE = 'The specified Role not exists.';
const STS_AK_RE = /^STS\.[A-Za-z0-9]{25}$/;
const TOKEN_RE = /^[A-Za-z0-9_-]+={0,2}$/;
const EXPIRATION_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

let server;
let root; // ram20150501 as root
const w = {}; // users and roles

function trustDoc(principals, externalId) {
  const stmt = { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { RAM: principals } };
  if (externalId) stmt.Condition = { StringEquals: { 'sts:ExternalId': externalId } };
  return JSON.stringify({ Statement: [stmt], Version: '1' }, null, 2);
}

async function user(prefix, ...systemPolicies) {
  const u = await h.createUserWithKey(server, prefix);
  for (const policyName of systemPolicies) {
    await root.attachPolicyToUser(new Ram.AttachPolicyToUserRequest({ policyType: 'System', policyName, userName: u.userName }));
  }
  return u;
}

async function role(prefix, trust, policies = [], maxSessionDuration = undefined) {
  const roleName = h.uniqueName(prefix);
  const r = (await root.createRole(new Ram.CreateRoleRequest({ roleName, assumeRolePolicyDocument: trust, maxSessionDuration }))).body.role;
  for (const policyName of policies) {
    await root.attachPolicyToRole(new Ram.AttachPolicyToRoleRequest({ policyType: 'System', policyName, roleName }));
  }
  return { name: r.roleName, id: r.roleId, arn: r.arn };
}

before(async () => {
  server = await h.startServer();
  root = h.ramClient(server, server.root);
  const acct = server.accountId;
  w.assumer = await user('node-sts-assumer', 'AliyunSTSAssumeRoleAccess');
  w.other = await user('node-sts-other', 'AliyunSTSAssumeRoleAccess');
  w.noperm = await user('node-sts-noperm');
  // capitals in the name: session ARNs carry it in lower case
  w.main = await role('Node-STS-Main', trustDoc([`acs:ram::${acct}:root`]), ['AliyunRAMReadOnlyAccess', 'AliyunSTSAssumeRoleAccess'], 7200);
  w.plain = await role('node-sts-plain', trustDoc([`acs:ram::${acct}:root`]));
  w.onlyUser = await role('node-sts-one-user', trustDoc([`acs:ram::${acct}:user/${w.assumer.userName}`]));
  w.extId = `ext-${Math.random().toString(16).slice(2, 10)}`;
  w.ext = await role('node-sts-ext', trustDoc([`acs:ram::${acct}:root`], w.extId));
  w.missing = `acs:ram::${acct}:role/${h.uniqueName('node-nope')}`;
});

after(async () => {
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `tessera exited with ${code} after SIGTERM\n${server.tail()}`);
});

const cred = (u) => ({ accessKeyId: u.accessKeyId, accessKeySecret: u.accessKeySecret });

function sessionIdentity(r, session) {
  return {
    IdentityType: 'AssumedRoleUser',
    AccountId: server.accountId,
    Arn: `acs:ram::${server.accountId}:assumed-role/${r.name.toLowerCase()}/${session}`,
    PrincipalId: `${r.id}:${session}`,
    RoleId: r.id,
  };
}

function assertIdentity(got, expected) {
  for (const [k, v] of Object.entries(expected)) assert.equal(got[k], v, `${k} in ${JSON.stringify(got)}`);
  assert.ok(!got.UserId, `a role session has no UserId: ${JSON.stringify(got)}`);
}

/** Check an AssumeRole body (wire names); return its Credentials. */
function assertAssumed(body, r, session, duration = 3600) {
  assert.match(body.RequestId ?? '', h.REQUEST_ID_RE, JSON.stringify(body));
  assert.deepEqual({ ...body.AssumedRoleUser }, {
    Arn: `acs:ram::${server.accountId}:role/${r.name.toLowerCase()}/${session}`,
    AssumedRoleId: `${r.id}:${session}`,
  });
  const c = body.Credentials;
  assert.match(c.AccessKeyId, STS_AK_RE);
  assert.match(c.AccessKeySecret, /^[A-Za-z0-9]{30,}$/);
  assert.match(c.SecurityToken, TOKEN_RE);
  assert.match(c.Expiration, EXPIRATION_RE);
  const skew = Math.abs(Date.parse(c.Expiration) - (Date.now() + duration * 1000));
  assert.ok(skew < 120_000, `Expiration ${c.Expiration} for ${duration} s`);
  return c;
}

/** The Tea AssumeRoleResponseBody model back in wire names. */
function teaBody(b) {
  const out = {
    RequestId: b.requestId,
    AssumedRoleUser: { Arn: b.assumedRoleUser?.arn, AssumedRoleId: b.assumedRoleUser?.assumedRoleId },
    Credentials: {
      AccessKeyId: b.credentials?.accessKeyId,
      AccessKeySecret: b.credentials?.accessKeySecret,
      SecurityToken: b.credentials?.securityToken,
      Expiration: b.credentials?.expiration,
    },
  };
  if (b.sourceIdentity !== undefined) out.SourceIdentity = b.sourceIdentity;
  return out;
}

// --- one calling convention: kind = pop-GET | pop-POST | tea-v3 | tea-v2 (+ scheme) ------------

function popSts(who, { scheme = 'http' } = {}) {
  return h.popClient(server, who, { scheme });
}

/** pop-core RPCClient with STS credentials: the SDK's own `securityToken` config option. */
function popWithToken(c, { scheme = 'http', apiVersion = '2015-04-01' } = {}) {
  const config = {
    accessKeyId: c.AccessKeyId,
    accessKeySecret: c.AccessKeySecret,
    securityToken: c.SecurityToken,
    endpoint: `${scheme}://${server.host(scheme)}`,
    apiVersion,
  };
  if (scheme === 'https') config.opts = { agent: new https.Agent({ ca: server.ca, keepAlive: true }) };
  return new h.PopCore.RPCClient(config);
}

function teaSts(who, { scheme = 'http', sig = 'v3', token } = {}) {
  const cfg = h.teaConfig(server, who, { scheme, sig });
  if (token) cfg.securityToken = token;
  return new Sts.default(cfg);
}

const stsCred = (c) => ({ accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret });

async function assumeRole(kind, who, params, scheme = 'http') {
  const [sdk, variant] = kind.split('-');
  if (sdk === 'pop') {
    return popSts(who, { scheme }).request('AssumeRole', params, variant === 'POST' ? { method: 'POST' } : {});
  }
  const req = new Sts.AssumeRoleRequest({
    roleArn: params.RoleArn,
    roleSessionName: params.RoleSessionName,
    durationSeconds: params.DurationSeconds,
    policy: params.Policy,
    externalId: params.ExternalId,
    sourceIdentity: params.SourceIdentity,
  });
  const res = await teaSts(who, { scheme, sig: variant }).assumeRole(req);
  assert.equal(res.statusCode, 200);
  return teaBody(res.body);
}

async function identity(kind, c, scheme = 'http') {
  const [sdk, variant] = kind.split('-');
  if (sdk === 'pop') {
    return popWithToken(c, { scheme }).request('GetCallerIdentity', {}, variant === 'POST' ? { method: 'POST' } : {});
  }
  return h.teaIdentity(teaSts(stsCred(c), { scheme, sig: variant, token: c.SecurityToken }));
}

/** The error as each SDK surfaces it, reduced to {code, status, message}. */
function reduce(kind, err) {
  if (kind.startsWith('pop')) {
    // pop-core ignores the HTTP status and throws on the body's Code
    assert.equal(err.name, `${err.code}Error`, err.stack);
    assert.equal(err.data.Code, err.code);
    return { code: err.code, status: undefined, message: err.data.Message, data: err.data };
  }
  assert.equal(err.name, 'ClientError', `${err.name}: ${err.message}`);
  for (const k of ['RequestId', 'HostId', 'Code', 'Message', 'Recommend']) assert.ok(k in err.data, `${k} missing: ${JSON.stringify(err.data)}`);
  return { code: err.code, status: err.statusCode, message: err.data.Message, data: err.data };
}

async function refused(kind, promise, code, status, message) {
  const e = reduce(kind, await h.rejection(promise));
  assert.equal(e.code, code, `${kind}: ${JSON.stringify(e.data)}`);
  if (e.status !== undefined) assert.equal(e.status, status, `${kind}: ${JSON.stringify(e.data)}`);
  assert.match(e.data.RequestId, h.REQUEST_ID_RE);
  if (message !== undefined) assert.equal(e.message, message, `${kind}: ${JSON.stringify(e.data)}`);
  return e;
}

const KINDS = ['pop-GET', 'pop-POST', 'tea-v3', 'tea-v2'];

// --- successes --------------------------------------------------------------------------------

for (const scheme of ['http', 'https']) {
  describe(`AssumeRole then GetCallerIdentity over ${scheme}`, () => {
    for (const kind of KINDS) {
      test(kind, async () => {
        const session = h.uniqueName(`${kind}-${scheme}`).replace(/-/g, '.');
        const body = await assumeRole(kind, w.assumer, { RoleArn: w.main.arn, RoleSessionName: session }, scheme);
        const c = assertAssumed(body, w.main, session);
        assert.ok(!('SourceIdentity' in body) || body.SourceIdentity === undefined, JSON.stringify(body));
        // the returned credentials, in the same kind of client, both methods / signatures
        for (const k of kind.startsWith('pop') ? ['pop-GET', 'pop-POST'] : ['tea-v3', 'tea-v2']) {
          assertIdentity(await identity(k, c, scheme), sessionIdentity(w.main, session));
        }
      });
    }
  });
}

test('pop-core with the securityToken on RAM: reads allowed by the role, writes refused', async () => {
  const c = assertAssumed(await assumeRole('pop-POST', w.assumer, { RoleArn: w.main.arn, RoleSessionName: 'pop-ram' }), w.main, 'pop-ram');
  for (const method of ['GET', 'POST']) {
    const pop = popWithToken(c, { apiVersion: '2015-05-01' });
    const opts = method === 'POST' ? { method: 'POST' } : {};
    const got = await pop.request('GetUser', { UserName: w.assumer.userName }, opts);
    assert.equal(got.User.UserId, w.assumer.userId);
    await refused('pop-GET', pop.request('CreateUser', { UserName: h.uniqueName('never') }, opts), 'NoPermission', 403);
  }
});

test('sts20150401 with a @alicloud/credentials `sts` credential (V3, v2) and ram20150501', async () => {
  const c = assertAssumed(await assumeRole('tea-v3', w.assumer, { RoleArn: w.main.arn, RoleSessionName: 'cred-sts' }), w.main, 'cred-sts');
  const credential = new Credential.default(
    new Credential.Config({ type: 'sts', accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken }),
  );
  for (const sig of ['v3', 'v2']) {
    for (const scheme of ['http', 'https']) {
      const cfg = new h.$OpenApiUtil.Config({ credential, endpoint: server.host(scheme), protocol: scheme });
      if (scheme === 'https') cfg.ca = server.ca;
      if (sig === 'v2') cfg.signatureAlgorithm = 'v2';
      assertIdentity(await h.teaIdentity(new Sts.default(cfg)), sessionIdentity(w.main, 'cred-sts'));
      const ram = new Ram.default(cfg);
      const names = (await ram.listUsers(new Ram.ListUsersRequest({ maxItems: 1000 }))).body.users.user.map((u) => u.userName);
      assert.ok(names.includes(w.assumer.userName));
    }
  }
});

test('durations up to the role maximum, ExternalId, SourceIdentity, role-name case', async () => {
  for (const kind of KINDS) {
    for (const [r, d] of [[w.main, 900], [w.main, 7200], [w.plain, 3600]]) {
      assertAssumed(await assumeRole(kind, w.assumer, { RoleArn: r.arn, RoleSessionName: 'dur', DurationSeconds: d }), r, 'dur', d);
    }
    assertAssumed(await assumeRole(kind, w.assumer, { RoleArn: w.ext.arn, RoleSessionName: 'ext', ExternalId: w.extId }), w.ext, 'ext');
    assertAssumed(await assumeRole(kind, w.assumer, { RoleArn: w.main.arn.toLowerCase(), RoleSessionName: 'lower' }), w.main, 'lower');
  }
  const body = await assumeRole('tea-v3', w.assumer, { RoleArn: w.main.arn, RoleSessionName: 'si', SourceIdentity: 'alice' });
  assert.equal(body.SourceIdentity, 'alice');
  const popBody = await assumeRole('pop-GET', w.assumer, { RoleArn: w.main.arn, RoleSessionName: 'si', SourceIdentity: 'bob' });
  assert.equal(popBody.SourceIdentity, 'bob');
});

test('role chaining: a session assumes a role that trusts sessions of its role', async () => {
  const chained = await role('node-sts-chained', trustDoc([`acs:ram::${server.accountId}:role/${w.main.name}`]), [], 7200);
  const c = assertAssumed(await assumeRole('tea-v3', w.assumer, { RoleArn: w.main.arn, RoleSessionName: 'hop1' }), w.main, 'hop1');
  for (const kind of KINDS) {
    const body = kind.startsWith('pop')
      ? await popWithToken(c).request('AssumeRole', { RoleArn: chained.arn, RoleSessionName: 'hop2' }, kind === 'pop-POST' ? { method: 'POST' } : {})
      : teaBody((await teaSts(stsCred(c), { sig: kind.split('-')[1], token: c.SecurityToken }).assumeRole(
          new Sts.AssumeRoleRequest({ roleArn: chained.arn, roleSessionName: 'hop2' }),
        )).body);
    const c2 = assertAssumed(body, chained, 'hop2');
    assertIdentity(await identity(kind, c2), sessionIdentity(chained, 'hop2'));
  }
  // chained sessions last at most an hour, whatever the role allows
  await refused(
    'tea-v3',
    teaSts(stsCred(c), { token: c.SecurityToken }).assumeRole(new Sts.AssumeRoleRequest({ roleArn: chained.arn, roleSessionName: 'hop2', durationSeconds: 3601 })),
    'InvalidParameter.DurationSeconds',
    400,
  );
  // the RAM user itself is not trusted by the chained role
  await refused('tea-v3', assumeRole('tea-v3', w.assumer, { RoleArn: chained.arn, RoleSessionName: 'direct' }), 'NoPermission', 403, UNTRUSTED);
});

// --- every AssumeRole error a user can hit -----------------------------------------------------

describe('AssumeRole errors', () => {
  for (const kind of KINDS) {
    test(`${kind}: untrusted caller, and the trusted one`, async () => {
      await refused(kind, assumeRole(kind, w.other, { RoleArn: w.onlyUser.arn, RoleSessionName: 'untrusted' }), 'NoPermission', 403, UNTRUSTED);
      assertAssumed(await assumeRole(kind, w.assumer, { RoleArn: w.onlyUser.arn, RoleSessionName: 'trusted' }), w.onlyUser, 'trusted');
    });

    test(`${kind}: caller without sts:AssumeRole`, async () => {
      const e = await refused(kind, assumeRole(kind, w.noperm, { RoleArn: w.main.arn, RoleSessionName: 'noperm' }), 'NoPermission', 403, NOT_AUTHORIZED);
      assert.equal(e.data.AccessDeniedDetail?.AuthAction, 'sts:AssumeRole', JSON.stringify(e.data));
      if (kind.startsWith('tea')) {
        assert.equal((await h.rejection(assumeRole(kind, w.noperm, { RoleArn: w.main.arn, RoleSessionName: 'noperm' }))).accessDeniedDetail?.NoPermissionType, 'ImplicitDeny');
      }
    });

    test(`${kind}: root caller`, async () => {
      await refused(kind, assumeRole(kind, server.root, { RoleArn: w.main.arn, RoleSessionName: 'root' }), 'NoPermission', 403, ROOT_REFUSED);
    });

    test(`${kind}: missing role`, async () => {
      await refused(kind, assumeRole(kind, w.assumer, { RoleArn: w.missing, RoleSessionName: 'missing' }), 'EntityNotExist.Role', 404, NO_ROLE);
    });

    test(`${kind}: ExternalId mismatch and missing`, async () => {
      for (const ExternalId of [`${w.extId}-other`, undefined]) {
        await refused(kind, assumeRole(kind, w.assumer, { RoleArn: w.ext.arn, RoleSessionName: 'ext', ExternalId }), 'NoPermission', 403, UNTRUSTED);
      }
      await refused(kind, assumeRole(kind, w.assumer, { RoleArn: w.ext.arn, RoleSessionName: 'ext', ExternalId: 'x' }), 'InvalidParameter.ExternalId', 400);
    });

    test(`${kind}: durations out of range`, async () => {
      for (const [r, d] of [[w.main, 7201], [w.plain, 3601], [w.main, 899]]) {
        await refused(kind, assumeRole(kind, w.assumer, { RoleArn: r.arn, RoleSessionName: 'dur', DurationSeconds: d }), 'InvalidParameter.DurationSeconds', 400);
      }
    });

    test(`${kind}: bad session names and role ARNs`, async () => {
      for (const name of ['a', 'has space', 'x'.repeat(65), 'semi;colon']) {
        await refused(kind, assumeRole(kind, w.assumer, { RoleArn: w.main.arn, RoleSessionName: name }), 'InvalidParameter.RoleSessionName', 400);
      }
      for (const arn of ['not-an-arn', `acs:ram::${server.accountId}:user/${w.assumer.userName}`]) {
        await refused(kind, assumeRole(kind, w.assumer, { RoleArn: arn, RoleSessionName: 'arn' }), 'InvalidParameter.RoleArn', 400);
      }
    });

    test(`${kind}: session policy grammar and size`, async () => {
      for (const Policy of ['not json', '{"Version":"1","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}']) {
        await refused(kind, assumeRole(kind, w.assumer, { RoleArn: w.main.arn, RoleSessionName: 'pol', Policy }), 'InvalidParameter.PolicyGrammar', 400);
      }
      const big = JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: Array.from({ length: 60 }, (_, i) => `ram:Get${'X'.repeat(40)}${i}`), Resource: '*' }] });
      assert.ok(Buffer.byteLength(big) > 2048);
      await refused(kind, assumeRole(kind, w.assumer, { RoleArn: w.main.arn, RoleSessionName: 'pol', Policy: big }), 'InvalidParameter.PolicySize', 400);
    });
  }
});

// --- SecurityToken errors ----------------------------------------------------------------------

function flip(token) {
  const i = Math.floor(token.length / 2);
  return token.slice(0, i) + (token[i] === 'B' ? 'C' : 'B') + token.slice(i + 1);
}

describe('SecurityToken errors on GetCallerIdentity', () => {
  for (const kind of KINDS) {
    test(`${kind}: tampered, another session's, and missing token`, async () => {
      const a = assertAssumed(await assumeRole('tea-v3', w.assumer, { RoleArn: w.main.arn, RoleSessionName: 'tok-a' }), w.main, 'tok-a');
      const b = assertAssumed(await assumeRole('tea-v3', w.assumer, { RoleArn: w.main.arn, RoleSessionName: 'tok-b' }), w.main, 'tok-b');
      await refused(kind, identity(kind, { ...a, SecurityToken: flip(a.SecurityToken) }), 'InvalidSecurityToken.Malformed', 400);
      await refused(kind, identity(kind, { ...a, SecurityToken: b.SecurityToken }), 'InvalidSecurityToken.MismatchWithAccessKey', 400);
      await refused(kind, identity(kind, { ...a, SecurityToken: undefined }), 'MissingSecurityToken', 400);
      assertIdentity(await identity(kind, a), sessionIdentity(w.main, 'tok-a'));
    });
  }
});

// --- https-only clients, CA trusted through NODE_EXTRA_CA_CERTS --------------------------------

test('@alicloud/credentials ram_role_arn and @alicloud/sts-sdk over https (NODE_EXTRA_CA_CERTS)', async () => {
  const arg = {
    host: server.httpsHost,
    user: cred(w.assumer),
    other: cred(w.other),
    root: server.root,
    main: w.main.arn,
    ext: w.ext.arn,
    extId: w.extId,
    onlyUser: w.onlyUser.arn,
    missing: w.missing,
  };
  const { stdout } = await promisify(execFile)(process.execPath, [CLIENT, JSON.stringify(arg)], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: server.caPath, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' },
    timeout: 60_000,
  });
  const res = JSON.parse(stdout.trim().split('\n').pop());
  const ok = (name) => {
    assert.ok(res[name]?.ok, `${name}: ${JSON.stringify(res[name])}`);
    return res[name].ok;
  };
  const failed = (name) => {
    assert.ok(res[name]?.error, `${name} should have failed: ${JSON.stringify(res[name])}`);
    return res[name].error;
  };

  // @alicloud/credentials ram_role_arn -> sts20150401 (V3, v2)
  const c = ok('cred');
  assert.equal(c.type, 'ram_role_arn');
  assert.equal(c.providerName, 'ram_role_arn/static_ak');
  assert.match(c.accessKeyId, STS_AK_RE);
  assertIdentity(c.v3, sessionIdentity(w.main, 'node-cred'));
  assertIdentity(c.v2, sessionIdentity(w.main, 'node-cred'));
  assert.equal(c.sameKey, true);
  const dflt = ok('cred-default-session-name');
  assert.match(dflt.Arn, new RegExp(`^acs:ram::${server.accountId}:assumed-role/${w.main.name.toLowerCase()}/credentials-nodejs-\\d+$`));
  // session policy: ram:List* only, so ListUsers passes and GetUser (allowed by the role) is refused
  const p = ok('cred-policy');
  assertIdentity(p.identity, sessionIdentity(w.main, 'node-cred-policy'));
  assert.ok(p.users.includes(w.assumer.userName), JSON.stringify(p.users));
  assert.deepEqual([p.getUser.error?.code, p.getUser.error?.statusCode], ['NoPermission', 403], JSON.stringify(p.getUser));
  assertIdentity(ok('cred-external-id'), sessionIdentity(w.ext, 'node-cred-ext'));
  for (const [name, message] of [['cred-external-id-wrong', UNTRUSTED], ['cred-untrusted', UNTRUSTED], ['cred-root', ROOT_REFUSED]]) {
    const e = failed(name);
    assert.ok(e.message.startsWith('refresh session token failed: '), `${name}: ${e.message}`);
    const body = JSON.parse(e.message.slice('refresh session token failed: '.length));
    assert.deepEqual([body.Code, body.Message], ['NoPermission', message], `${name}: ${e.message}`);
  }

  // @alicloud/sts-sdk: AssumeRole with a `*` policy, then its session on sts-sdk and pop-core
  const s = ok('sts-sdk');
  assertAssumed(s.assumed, w.main, 'node-stssdk', 900);
  assertIdentity(s.me, sessionIdentity(w.main, 'node-stssdk'));
  assert.ok(s.users.includes(w.assumer.userName), JSON.stringify(s.users));
  assert.equal(s.getUser.code, 'NoPermission', JSON.stringify(s.getUser));
  // sts-sdk hands back error bodies instead of throwing
  const errs = ok('sts-sdk-errors');
  assert.deepEqual([errs.root.Code, errs.root.Message], ['NoPermission', ROOT_REFUSED]);
  assert.deepEqual([errs.missing.Code, errs.missing.Message], ['EntityNotExist.Role', NO_ROLE]);
  assert.equal(errs.duration.Code, 'InvalidParameter.DurationSeconds');
  assert.equal(errs.grammar.Code, 'InvalidParameter.PolicyGrammar');
});
