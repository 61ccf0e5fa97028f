// Shared helpers for the Node compatibility tests: start/stop a Tessera server and build the
// official SDK clients aimed at it. Only the endpoint/protocol (and, for https, the CA to trust,
// through each SDK's own option) are set; nothing else about the SDKs is changed.
import { spawn } from 'node:child_process';
import dns from 'node:dns';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const require = createRequire(import.meta.url);

// Hygiene: no credentials from the developer's environment, never reach ECS metadata.
for (const k of Object.keys(process.env)) {
  if (/^(ALIBABA_CLOUD_|ALICLOUD_|ALIYUN_)/.test(k)) delete process.env[k];
}
process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete process.env[k];

// Loopback-only guard: refuse to resolve any other host name, so a mis-aimed SDK fails loudly
// instead of reaching a real Alibaba Cloud endpoint. (IP literals never reach dns.lookup; the
// tests only ever use 127.0.0.1.)
const realLookup = dns.lookup;
dns.lookup = function guardedLookup(host, ...rest) {
  if (host === 'localhost' || /^127\./.test(host) || host === '::1') return realLookup.call(this, host, ...rest);
  const cb = rest[rest.length - 1];
  const err = new Error(`tessera compat tests: refusing to resolve non-loopback host ${host}`);
  err.code = 'ENOTFOUND';
  process.nextTick(cb, err);
  return undefined;
};

export const READY_TIMEOUT_MS = Number(process.env.TESSERA_READY_TIMEOUT || 20) * 1000;
const LISTEN_RE = /^tessera: listening on (https?):\/\/(127\.0\.0\.1:\d+)\s*$/;

export function tesseraBin() {
  const bin = process.env.TESSERA_BIN;
  if (!bin) throw new Error('TESSERA_BIN is not set (path to the built tessera binary)');
  fs.accessSync(bin, fs.constants.X_OK);
  return bin;
}

/**
 * Start `tessera serve` on 127.0.0.1:0 with a fresh data dir.
 * @param {{tls?: boolean}} opts  tls (default true): https on --listen + extra plain http listener
 */
export async function startServer({ tls = true } = {}) {
  const bin = tesseraBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-node-'));
  const dataDir = path.join(dir, 'data');
  const logPath = path.join(dir, 'server.log');
  const log = fs.createWriteStream(logPath);
  const args = ['serve', '--listen', '127.0.0.1:0', '--data', dataDir];
  if (tls) args.push('--tls', 'self-signed', '--http-listen', '127.0.0.1:0');
  log.write(`$ ${bin} ${args.join(' ')}\n`);
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' },
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  // Keep draining both pipes for the life of the process.
  child.stderr.on('data', (b) => log.write(b));
  const rl = readline.createInterface({ input: child.stdout });
  const urls = {};
  const tail = () => {
    try {
      return fs.readFileSync(logPath, 'utf8').split('\n').slice(-60).join('\n');
    } catch {
      return '<no log>';
    }
  };
  await new Promise((resolve, reject) => {
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        setTimeout(() => reject(new Error(`${err}\n--- server log ---\n${tail()}`)), 100);
      } else resolve();
    };
    const timer = setTimeout(() => finish(`tessera did not print "tessera: ready" within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    rl.on('line', (line) => {
      log.write(`[stdout] ${line}\n`);
      if (done) return;
      const m = LISTEN_RE.exec(line);
      if (m) urls[m[1]] = m[2];
      else if (line.trim() === 'tessera: ready') finish();
    });
    child.on('exit', (code) => finish(`tessera exited (code ${code}) before "tessera: ready"`));
    child.on('error', (e) => finish(`failed to spawn tessera: ${e}`));
  });
  if (!urls.http || (tls && !urls.https)) {
    child.kill('SIGKILL');
    throw new Error(`unexpected listeners: ${JSON.stringify(urls)}`);
  }
  const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'root-credentials.json'), 'utf8'));
  const caPath = path.join(dataDir, 'tls', 'ca.pem');
  const server = {
    dir,
    dataDir,
    logPath,
    httpHost: urls.http,
    httpsHost: urls.https,
    caPath,
    ca: tls ? fs.readFileSync(caPath, 'utf8') : undefined,
    accountId: creds.AccountId,
    root: { accessKeyId: creds.AccessKeyId, accessKeySecret: creds.AccessKeySecret },
    host(scheme) {
      const h = scheme === 'https' ? this.httpsHost : this.httpHost;
      if (!h) throw new Error(`no ${scheme} listener`);
      return h;
    },
    tail,
    /** SIGTERM and wait; resolves to the exit code (the contract says 0). */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15000);
      const res = await exited;
      clearTimeout(t);
      log.end();
      return res.code;
    },
  };
  return server;
}

// ------------------------------------------------------------------------------------------
// SDKs (CommonJS packages, loaded the way a CommonJS user would load them)

export const PopCore = require('@alicloud/pop-core');
export const Sts = require('@alicloud/sts20150401');
export const Ram = require('@alicloud/ram20150501');
export const OpenApiCore = require('@alicloud/openapi-core');
export const { $OpenApiUtil } = OpenApiCore;
export const OpenApiClient = require('@alicloud/openapi-client');
export const TeaUtil = require('@alicloud/tea-util');

/** pop-core RPCClient. For https the SDK's `opts.agent` carries an agent trusting the server CA. */
export function popClient(server, cred, { scheme = 'http', apiVersion = '2015-04-01' } = {}) {
  const config = {
    accessKeyId: cred.accessKeyId,
    accessKeySecret: cred.accessKeySecret,
    endpoint: `${scheme}://${server.host(scheme)}`,
    apiVersion,
  };
  if (scheme === 'https') config.opts = { agent: new https.Agent({ ca: server.ca, keepAlive: true }) };
  return new PopCore.RPCClient(config);
}

/** openapi-core Config for the Tea clients (@alicloud/sts20150401, @alicloud/ram20150501). */
export function teaConfig(server, cred, { scheme = 'http', sig = 'v3' } = {}) {
  const cfg = new $OpenApiUtil.Config({
    accessKeyId: cred.accessKeyId,
    accessKeySecret: cred.accessKeySecret,
    endpoint: server.host(scheme),
    protocol: scheme,
  });
  if (scheme === 'https') cfg.ca = server.ca; // Config.ca: the SDK's own option
  if (sig === 'v2') cfg.signatureAlgorithm = 'v2';
  return cfg;
}

export function stsClient(server, cred, opts) {
  return new Sts.default(teaConfig(server, cred, opts));
}

export function ramClient(server, cred, opts) {
  return new Ram.default(teaConfig(server, cred, opts));
}

export async function teaIdentity(client) {
  const b = (await client.getCallerIdentity()).body;
  return {
    IdentityType: b.identityType,
    AccountId: b.accountId,
    Arn: b.arn,
    PrincipalId: b.principalId,
    UserId: b.userId,
    RoleId: b.roleId,
    RequestId: b.requestId,
  };
}

export const REQUEST_ID_RE = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

export function expectedRoot(server) {
  const a = server.accountId;
  return { IdentityType: 'Account', AccountId: a, Arn: `acs:ram::${a}:root`, PrincipalId: a, UserId: a };
}

export function expectedUser(server, user) {
  return {
    IdentityType: 'RAMUser',
    AccountId: server.accountId,
    Arn: `acs:ram::${server.accountId}:user/${user.userName}`,
    PrincipalId: user.userId,
    UserId: user.userId,
  };
}

export function uniqueName(prefix = 'node') {
  return `${prefix}-${Math.random().toString(16).slice(2, 10)}${Date.now().toString(16).slice(-4)}`;
}

/** Create a RAM user + one access key through @alicloud/ram20150501 as root. */
export async function createUserWithKey(server, prefix = 'node-id') {
  const ram = ramClient(server, server.root);
  const userName = uniqueName(prefix);
  const u = (await ram.createUser(new Ram.CreateUserRequest({ userName }))).body.user;
  const k = (await ram.createAccessKey(new Ram.CreateAccessKeyRequest({ userName }))).body.accessKey;
  return { userName, userId: u.userId, accessKeyId: k.accessKeyId, accessKeySecret: k.accessKeySecret };
}

/** Await a promise that must reject; return the error. */
export async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
