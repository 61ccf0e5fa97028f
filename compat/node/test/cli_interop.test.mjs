// What the tessera CLI writes and exports is what the official @alicloud/credentials accepts:
// `tessera configure` AK and RamRoleArn profiles, `credentials export --format profile` (StsToken),
// `--format env` and `--format json` (served as ALIBABA_CLOUD_CREDENTIALS_URI), each resolved by
// the library's CLI-profile / env / URI providers and the default chain, then used by
// @alicloud/sts20150401 for GetCallerIdentity. The CLI runs with HOME set to a temp dir; the
// library runs in a child (lib/cli-interop-child.mjs) with that HOME and the ALIBABA_CLOUD_* env.
// The server's certificate also names sts.aliyuncs.com, where a RamRoleArn profile sends
// AssumeRole; the child routes that name to the server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as h from '../lib/helpers.mjs';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('../lib/cli-interop-child.mjs', import.meta.url));
const STS_HOST = 'sts.aliyuncs.com';
const Credential = h.require('@alicloud/credentials');

let server;
let home;
let endpoint;
const w = {};

function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(ALIBABA_CLOUD_|ALICLOUD_|ALIYUN_|TESSERA_|NODE_EXTRA_CA_CERTS$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', ...extra };
}

async function cli(...args) {
  try {
    const { stdout } = await run(h.tesseraBin(), args, { env: cleanEnv({ HOME: home }), timeout: 30000 });
    return stdout;
  } catch (e) {
    throw new Error(`tessera ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** Run the official library in a child with this env; returns its JSON result. */
async function probe(spec, env = {}) {
  const { stdout, stderr } = await run(process.execPath, [CHILD, JSON.stringify({ endpoint: server.httpHost, ...spec })], {
    env: cleanEnv({ HOME: home, ...env }),
    timeout: 60000,
  });
  const lines = stdout.trim().split('\n');
  const out = JSON.parse(lines[lines.length - 1] || '{}');
  assert.ok(!out.error, `${out.error}\n${stderr}`);
  return out;
}

function profile(name) {
  const conf = JSON.parse(fs.readFileSync(path.join(home, '.aliyun', 'config.json'), 'utf8'));
  const found = conf.profiles.filter((p) => p.name === name);
  assert.equal(found.length, 1, JSON.stringify(conf));
  return found[0];
}

const userArn = () => `acs:ram::${server.accountId}:user/${w.user}`;
const roleArn = () => `acs:ram::${server.accountId}:role/${w.role}`;
const sessionArn = (s) => `acs:ram::${server.accountId}:assumed-role/${w.role}/${s}`;

function assertUser(got) {
  assert.equal(got.gci.Arn, userArn(), JSON.stringify(got.gci));
  assert.equal(got.gci.IdentityType, 'RAMUser');
  assert.equal(got.gci.UserId, w.userId);
  assert.equal(got.accessKeyId, w.key.AccessKeyId);
  assert.equal(got.accessKeySecret, w.key.AccessKeySecret);
  assert.ok(!got.securityToken);
}

function assertSession(got, session) {
  assert.equal(got.gci.Arn, sessionArn(session), JSON.stringify(got.gci));
  assert.equal(got.gci.IdentityType, 'AssumedRoleUser');
  assert.equal(got.gci.AccountId, server.accountId);
  assert.match(got.accessKeyId, /^STS\./);
  assert.ok(got.securityToken);
}

before(async () => {
  process.env.TESSERA_TLS_NAMES = STS_HOST; // = serve --tls-name sts.aliyuncs.com
  try {
    server = await h.startServer();
  } finally {
    delete process.env.TESSERA_TLS_NAMES;
  }
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-cli-home-'));
  endpoint = `http://${server.httpHost}`;
  const suffix = Math.random().toString(16).slice(2, 10);
  w.user = `node-cli-user-${suffix}`;
  w.role = `node-cli-role-${suffix}`;
  await cli('configure', '--profile', 'root', '--credentials-file', path.join(server.dataDir, 'root-credentials.json'),
    '--endpoint', endpoint, '--non-interactive');
  const created = JSON.parse(await cli('user', 'create', w.user, '--with-key', '--policy', 'AliyunSTSAssumeRoleAccess', '--profile', 'root'));
  w.key = created.AccessKey;
  w.userId = created.User.UserId;
  await cli('configure', '--profile', 'alice', '--mode', 'AK', '--access-key-id', w.key.AccessKeyId,
    '--access-key-secret', w.key.AccessKeySecret, '--endpoint', endpoint, '--non-interactive');
  const role = JSON.parse(await cli('role', 'create', w.role, '--policy', 'AliyunRAMReadOnlyAccess', '--profile', 'root'));
  assert.equal(role.Role.Arn, roleArn());
});

after(async () => {
  if (home) fs.rmSync(home, { recursive: true, force: true });
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `tessera exited with ${code} after SIGTERM\n${server.tail()}`);
});

test('AK profile from tessera configure: default chain with ALIBABA_CLOUD_PROFILE', async () => {
  assert.equal(profile('alice').mode, 'AK');
  const got = await probe({ provider: 'default' }, { ALIBABA_CLOUD_PROFILE: 'alice' });
  // the Node default chain names only the link that answered (providers/default.js)
  assert.equal(got.providerName, 'default/cli_profile');
  assertUser(got);
});

test('AK profile from tessera configure: CLI-profile provider with `current`', async () => {
  await cli('configure', 'switch', '--profile', 'alice');
  const got = await probe({ provider: 'cli_profile' });
  assert.equal(got.providerName, 'cli_profile/static_ak');
  assertUser(got);
});

test('StsToken profile from credentials export --format profile --save-as', async () => {
  const printed = JSON.parse(await cli('credentials', 'export', '--profile', 'alice', '--role-arn', roleArn(),
    '--role-session-name', 'node-profile', '--format', 'profile', '--save-as', 'sess'));
  const saved = profile('sess');
  assert.equal(saved.mode, 'StsToken');
  assert.equal(saved.access_key_id, printed.access_key_id);
  for (const spec of [{ provider: 'default' }, { provider: 'cli_profile', profile: 'sess' }]) {
    const got = await probe(spec, { ALIBABA_CLOUD_PROFILE: 'sess' });
    assert.equal(got.providerName, spec.provider === 'default' ? 'default/cli_profile' : 'cli_profile/static_sts');
    assert.equal(got.accessKeyId, saved.access_key_id);
    assert.equal(got.securityToken, saved.sts_token);
    assertSession(got, 'node-profile');
  }
});

/** `export K='v'` / `unset K` lines, applied as a POSIX shell would (single-quoted values). */
function parseExports(text) {
  const env = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let m;
    if ((m = /^unset ((?:[A-Z_][A-Z0-9_]* ?)+)$/.exec(line))) {
      for (const k of m[1].trim().split(' ')) delete env[k];
    } else if ((m = /^export ([A-Z_][A-Z0-9_]*)='([^']*)'$/.exec(line))) {
      env[m[1]] = m[2];
    } else if ((m = /^export ([A-Z_][A-Z0-9_]*)=([A-Za-z0-9._\-/+=]*)$/.exec(line))) {
      env[m[1]] = m[2];
    } else assert.fail(`unexpected line in --format env output: ${line}`);
  }
  return env;
}

test('credentials export --format env → the env provider of the default chain', async () => {
  const env = parseExports(await cli('credentials', 'export', '--profile', 'alice', '--role-arn', roleArn(),
    '--role-session-name', 'node-env', '--format', 'env'));
  assert.deepEqual(Object.keys(env).sort(),
    ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN']);
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-empty-home-'));
  try {
    const got = await probe({ provider: 'default' }, { ...env, HOME: empty });
    assert.equal(got.providerName, 'default/env');
    assert.equal(got.accessKeyId, env.ALIBABA_CLOUD_ACCESS_KEY_ID);
    assert.equal(got.securityToken, env.ALIBABA_CLOUD_SECURITY_TOKEN);
    assertSession(got, 'node-env');
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

test('credentials export --format json served as ALIBABA_CLOUD_CREDENTIALS_URI', async () => {
  const body = await cli('credentials', 'export', '--profile', 'alice', '--role-arn', roleArn(),
    '--role-session-name', 'node-uri', '--format', 'json');
  const doc = JSON.parse(body);
  let hits = 0;
  const srv = http.createServer((req, res) => {
    hits += 1;
    if (req.url !== '/creds') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const uri = `http://127.0.0.1:${srv.address().port}/creds`;
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-empty-home-'));
  try {
    // the URI provider on its own, in this process
    const credential = new Credential.default(new Credential.Config({ type: 'credentials_uri', credentialsURI: uri }));
    const c = await credential.getCredential();
    assert.deepEqual([c.accessKeyId, c.accessKeySecret, c.securityToken], [doc.AccessKeyId, doc.AccessKeySecret, doc.SecurityToken]);
    const cfg = new h.$OpenApiUtil.Config({ credential, endpoint: server.httpHost, protocol: 'http' });
    assert.equal((await h.teaIdentity(new h.Sts.default(cfg))).Arn, sessionArn('node-uri'));
    assert.equal(hits, 1);
    // the default chain, with an empty HOME so that nothing else answers
    const got = await probe({ provider: 'default' }, { ALIBABA_CLOUD_CREDENTIALS_URI: uri, HOME: empty });
    assert.equal(got.providerName, 'default/credential_uri');
    assert.equal(got.accessKeyId, doc.AccessKeyId);
    assertSession(got, 'node-uri');
    assert.equal(hits, 2);
  } finally {
    srv.close();
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

for (const [name, extra] of [['rra', []], ['rra-3600', ['--expired-seconds', '3600']]]) {
  test(`RamRoleArn profile from tessera configure ${extra.join(' ') || '(default duration)'}: AssumeRole by the library`, async () => {
    const session = `node-${name}`;
    await cli('configure', '--profile', name, '--mode', 'RamRoleArn', '--access-key-id', w.key.AccessKeyId,
      '--access-key-secret', w.key.AccessKeySecret, '--ram-role-arn', roleArn(), '--role-session-name', session,
      ...extra, '--endpoint', endpoint, '--non-interactive');
    const p = profile(name);
    assert.equal(p.mode, 'RamRoleArn');
    assert.equal(p.ram_role_arn, roleArn());
    const redirect = { host: STS_HOST, port: server.httpsHost.split(':')[1] };
    for (const [spec, providerName] of [
      [{ provider: 'cli_profile', profile: name }, 'cli_profile/ram_role_arn/static_ak'],
      [{ provider: 'default' }, 'default/cli_profile'],
    ]) {
      const got = await probe({ ...spec, redirect }, { ALIBABA_CLOUD_PROFILE: name, NODE_EXTRA_CA_CERTS: server.caPath });
      assert.equal(got.providerName, providerName);
      assertSession(got, session);
    }
  });
}
