// Run as a child process (HOME, ALIBABA_CLOUD_PROFILE and NODE_EXTRA_CA_CERTS set by the test):
// resolve a credential with the official @alicloud/credentials, then call GetCallerIdentity with
// it through @alicloud/sts20150401 over plain http.
// usage: node cli-interop-child.mjs '<json: {provider, profile?, endpoint, redirect?}>'
//   provider: "default" (new Credential()) or "cli_profile" (CLIProfileCredentialsProvider)
//   endpoint: "127.0.0.1:PORT" of a plain-http Tessera listener
//   redirect: {host, port}: TLS connections to `host` go to 127.0.0.1:port instead (SNI and
//             certificate check still for `host`), as an /etc/hosts entry plus a port forward
//             would. For RamRoleArn profiles, whose AssumeRole always goes to
//             https://sts[.REGION].aliyuncs.com.
// Prints one JSON object: {providerName, accessKeyId, accessKeySecret, securityToken, gci} or {error}.
import dns from 'node:dns';
import { createRequire } from 'node:module';
import tls from 'node:tls';

const require = createRequire(import.meta.url);
const spec = JSON.parse(process.argv[2]);

const realLookup = dns.lookup;
dns.lookup = function guardedLookup(host, ...rest) {
  if (host === 'localhost' || /^127\./.test(host) || host === '::1') return realLookup.call(this, host, ...rest);
  const cb = rest[rest.length - 1];
  const err = new Error(`cli-interop-child: refusing to resolve non-loopback host ${host}`);
  err.code = 'ENOTFOUND';
  process.nextTick(cb, err);
  return undefined;
};

if (spec.redirect) {
  const realConnect = tls.connect;
  tls.connect = function redirectedConnect(...args) {
    const o = args[0];
    if (o && typeof o === 'object' && (o.host === spec.redirect.host || o.servername === spec.redirect.host)) {
      args[0] = { ...o, host: '127.0.0.1', port: Number(spec.redirect.port), servername: spec.redirect.host };
    }
    return realConnect.apply(this, args);
  };
}

const Credential = require('@alicloud/credentials');
const Sts = require('@alicloud/sts20150401');
const { $OpenApiUtil } = require('@alicloud/openapi-core');

try {
  let credential;
  if (spec.provider === 'default') credential = new Credential.default();
  else if (spec.provider === 'cli_profile') {
    const b = Credential.CLIProfileCredentialsProvider.builder();
    if (spec.profile) b.withProfileName(spec.profile);
    credential = new Credential.default(null, b.build());
  } else throw new Error(`unknown provider ${spec.provider}`);
  const c = await credential.getCredential();
  const cfg = new $OpenApiUtil.Config({ credential, endpoint: spec.endpoint, protocol: 'http' });
  const b = (await new Sts.default(cfg).getCallerIdentity()).body;
  console.log(JSON.stringify({
    providerName: c.providerName,
    accessKeyId: c.accessKeyId,
    accessKeySecret: c.accessKeySecret,
    securityToken: c.securityToken,
    gci: { Arn: b.arn, IdentityType: b.identityType, AccountId: b.accountId, UserId: b.userId, RoleId: b.roleId },
  }));
} catch (e) {
  console.log(JSON.stringify({ error: `${e.name}: ${String(e.message).slice(0, 1500)}` }));
}
