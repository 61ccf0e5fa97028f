"""What the benchmark scripts share: an RPC v1 signer over a keep-alive connection, starting a
release server on a fresh data directory, and running tessera-loadgen. Standard library only.
"""
import base64, hashlib, hmac, http.client, json, os, subprocess, time, urllib.parse, uuid


def enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def signed_query(ak, secret, version, action, params=None, token=None):
    """The query string of an RPC v1 request (GET), signed with HMAC-SHA1."""
    p = {"Action": action, "Version": version, "Format": "JSON", "AccessKeyId": ak, "SignatureMethod": "HMAC-SHA1",
         "SignatureVersion": "1.0", "SignatureNonce": uuid.uuid4().hex, "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if token:
        p["SecurityToken"] = token
    p.update(params or {})
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(p.items()))
    sts = "GET&%2F&" + enc(canonical)
    p["Signature"] = base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()
    return urllib.parse.urlencode(p, quote_via=urllib.parse.quote)


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


class Client:
    """One keep-alive HTTP connection to the server, signing every call."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(self, creds, version, action, **params):
        ak, secret = creds[0], creds[1]
        token = creds[2] if len(creds) > 2 else None
        q = signed_query(ak, secret, version, action, params, token)
        for attempt in range(2):
            try:
                self.conn.request("GET", "/?" + q)
                r = self.conn.getresponse()
                body = r.read()
                break
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 1:
                    raise
        data = json.loads(body)
        if r.status != 200:
            raise ApiError(r.status, data)
        return data

    def ram(self, creds, action, **params):
        return self.call(creds, "2015-05-01", action, **params)

    def sts(self, creds, action, **params):
        return self.call(creds, "2015-04-01", action, **params)


def start_server(tessera, data, extra=()):
    """Starts `tessera serve` on a free loopback port; returns (process, url, seconds to ready)."""
    started = time.monotonic()
    server = subprocess.Popen([tessera, "serve", "--listen", "127.0.0.1:0", "--data", data, "--log-level", "warn", *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = None
    for line in server.stdout:
        if line.startswith("tessera: listening on "):
            url = line.split()[-1]
        if line.strip() == "tessera: ready":
            break
    if url is None:
        server.kill()
        raise RuntimeError("the server did not start")
    return server, url, time.monotonic() - started


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def loadgen(binary, url, connections, duration, warmup, extra):
    cmd = [binary, "--url", url, "--connections", str(connections), "--duration", str(duration), "--warmup", str(warmup), "--quiet"] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()
    return json.loads(out[-1])


def binaries(target_dir):
    return os.path.join(target_dir, "release", "tessera"), os.path.join(target_dir, "release", "tessera-loadgen")
