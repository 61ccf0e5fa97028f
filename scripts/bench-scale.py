#!/usr/bin/env python3
"""Scale benchmark (issue "State that scales"): a server holding many accounts, measured against
the same server empty, in one run.

    cargo build --release --bin tessera --bin tessera-loadgen
    CARGO_TARGET_DIR=target python3 scripts/bench-scale.py [--accounts 200] [--users 1000] [--roles 20]

What it does, on one release server over loopback:
1. Empty server: the first GetCallerIdentity after a write (p50 of --probes probes), and the rate
   of CreateUser + CreateAccessKey pairs in a fresh account.
2. Builds the data through the API: --accounts accounts (CreateAccount) x --users users, each
   with one AccessKey (every tenth user also gets AliyunSTSAssumeRoleAccess attached), and
   --roles roles per account, each with the account's custom policy attached.
3. At scale: the first GetCallerIdentity after a write again; the pair rate in the last account
   built; GetCallerIdentity at --connections connections with and without a writer doing
   --write-rate UpdateUser calls a second spread over the accounts (interleaved runs, medians);
   the server's RSS.
4. Restarts the server on that data: seconds until it is ready, and its RSS.

Prints a table, then one JSON line.
"""
import argparse, json, os, random, signal, statistics, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_client import Client, binaries, loadgen, rss_mib, start_server  # noqa: E402

ALLOW_READ = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["ram:Get*", "ram:List*"], "Resource": "*"}]})


def trust(account):
    return json.dumps({"Version": "1", "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{account}:root"]}}]})


def users_with_keys(url, root, prefix, n, attach_every=10):
    """Creates n users with a key each in the account of `root`; returns (pairs per second, keys)."""
    c = Client(url)
    keys = []
    started = time.monotonic()
    for i in range(n):
        name = f"{prefix}{i:04d}"
        c.ram(root, "CreateUser", UserName=name)
        k = c.ram(root, "CreateAccessKey", UserName=name)["AccessKey"]
        keys.append((k["AccessKeyId"], k["AccessKeySecret"]))
        if attach_every and i % attach_every == 0:
            c.ram(root, "AttachPolicyToUser", PolicyType="System", PolicyName="AliyunSTSAssumeRoleAccess", UserName=name)
    elapsed = time.monotonic() - started
    return n / elapsed, keys


def build_account(url, operator, users, roles):
    c = Client(url)
    a = c.call(operator, "2026-11-01", "CreateAccount")
    root = (a["AccessKeyId"], a["AccessKeySecret"])
    c.ram(root, "CreatePolicy", PolicyName="app-read", PolicyDocument=ALLOW_READ)
    for r in range(roles):
        c.ram(root, "CreateRole", RoleName=f"role-{r:02d}", AssumeRolePolicyDocument=trust(a["AccountId"]))
        c.ram(root, "AttachPolicyToRole", PolicyType="Custom", PolicyName="app-read", RoleName=f"role-{r:02d}")
    c.ram(root, "CreateUser", UserName="probe")
    rate, keys = users_with_keys(url, root, "user-", users - 1)
    return {"account": a["AccountId"], "root": root, "rate": rate, "keys": keys}


def first_request_after_write(url, writer_root, reader, probes):
    """p50 and p90 (ms) of a GetCallerIdentity sent right after an UpdateUser returned."""
    c = Client(url)
    samples = []
    for i in range(probes):
        c.ram(writer_root, "UpdateUser", UserName="probe", NewComments=f"probe {i}")
        t = time.perf_counter()
        c.sts(reader, "GetCallerIdentity")
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


class Writer(threading.Thread):
    """UpdateUser at a fixed rate, each call in a random account."""

    def __init__(self, url, roots, rate):
        super().__init__(daemon=True)
        self.url, self.roots, self.rate = url, roots, rate
        self.stop, self.done, self.errors = threading.Event(), 0, 0

    def run(self):
        c = Client(self.url)
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            root = random.choice(self.roots)
            try:
                c.ram(root, "UpdateUser", UserName="probe", NewComments=str(self.done))
                self.done += 1
            except Exception:
                self.errors += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))


def build(url, args, server, out, log):
    """Builds the data, measuring the empty server and the pair rates on the way; returns the
    operator's and the reader's keys, the accounts built and the lone-client samples at ~0 keys."""
    data_creds = json.load(open(os.path.join(args.data_dir, "root-credentials.json")))
    operator = (data_creds["AccessKeyId"], data_creds["AccessKeySecret"])
    c = Client(url)
    c.ram(operator, "CreateUser", UserName="probe")
    # One reader for every measurement, empty and at scale: a RAM user of the first account.
    c.ram(operator, "CreateUser", UserName="reader")
    k = c.ram(operator, "CreateAccessKey", UserName="reader")["AccessKey"]
    reader = (k["AccessKeyId"], k["AccessKeySecret"])

    log("empty server: first request after a write, pair rate")
    out["empty_after_write_p50_ms"], out["empty_after_write_p90_ms"] = first_request_after_write(url, operator, reader, args.probes)
    out["empty_rss_mib"] = rss_mib(server.pid)

    # The pair rate is measured with one client alone on the server, at ~0 keys here and at
    # scale below, a few accounts each (medians); the accounts measured are part of the data.
    alone_at_0 = [build_account(url, operator, args.users, args.roles) for _ in range(args.pair_samples)]
    log(f"  pairs/s alone at ~0 keys: {[round(a['rate']) for a in alone_at_0]}")
    log(f"building {args.accounts - args.pair_samples} more accounts x {args.users} users, {args.roles} roles each, with {args.threads} clients")
    started = time.monotonic()
    built = list(alone_at_0)
    with ThreadPoolExecutor(args.threads) as pool:
        futures = [pool.submit(build_account, url, operator, args.users, args.roles) for _ in range(args.accounts - args.pair_samples)]
        for i, f in enumerate(futures):
            built.append(f.result())
            if (i + 1) % 10 == 0:
                log(f"  {i + 1} accounts, {time.monotonic() - started:.0f} s")
    out["build_s"] = round(time.monotonic() - started, 1)
    keys = sum(len(b["keys"]) + 1 for b in built)
    out["keys"] = keys
    log("pair rate alone at scale")
    alone_at_scale = [build_account(url, operator, args.users, args.roles) for _ in range(args.pair_samples)]
    log(f"  pairs/s alone at scale: {[round(a['rate']) for a in alone_at_scale]}")
    out["pairs_per_s_at_scale"] = round(statistics.median(a["rate"] for a in alone_at_scale), 1)
    built.extend(alone_at_scale)
    out["keys"] += sum(len(a["keys"]) + 1 for a in alone_at_scale)

    return operator, reader, built, alone_at_0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--users", type=int, default=1000, help="users per account (each with one AccessKey)")
    ap.add_argument("--roles", type=int, default=20)
    ap.add_argument("--threads", type=int, default=4, help="clients building the data")
    ap.add_argument("--pair-samples", type=int, default=3, help="accounts built by one client alone, at ~0 keys and at scale (medians)")
    ap.add_argument("--probes", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--write-rate", type=float, default=100)
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for tessera serve")
    ap.add_argument("--save", metavar="FILE", help="after building, save the data directory's path and the accounts' root keys here")
    ap.add_argument("--reuse", metavar="FILE", help="skip the build: measure at scale on data a --save run left (the empty-server figures are not measured)")
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    args = ap.parse_args()
    tessera, lg = binaries(args.target_dir)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)
    saved = json.load(open(args.reuse)) if args.reuse else None
    data = saved["data"] if saved else tempfile.mkdtemp(prefix="tessera-scale-")
    server, url, _ = start_server(tessera, data, args.server_arg)
    out = {}
    try:
        if saved:
            operator, reader = tuple(saved["operator"]), tuple(saved["reader"])
            built = [{"root": tuple(r), "keys": []} for r in saved["roots"]]
            out["keys"] = saved["keys"]
            alone_at_0 = []
        else:
            args.data_dir = data
            operator, reader, built, alone_at_0 = build(url, args, server, out, log)
            if args.save:
                json.dump({"data": data, "operator": operator, "reader": reader, "keys": out["keys"],
                           "roots": [b["root"] for b in built]}, open(args.save, "w"))
        log("at scale: first request after a write")
        out["scale_after_write_p50_ms"], out["scale_after_write_p90_ms"] = first_request_after_write(url, built[-1]["root"], reader, args.probes)

        log("at scale: GetCallerIdentity with and without a writer")
        roots = [b["root"] for b in built]
        creds = ["--access-key-id", reader[0], "--access-key-secret", reader[1]]
        runs = {"without": [], "with": []}
        for run in range(args.runs):
            for mode in ("without", "with"):
                w = None
                cpu_before = time.process_time()
                if mode == "with":
                    w = Writer(url, roots, args.write_rate)
                    w.start()
                r = loadgen(lg, url, args.connections, args.duration, args.warmup, ["--action", "GetCallerIdentity"] + creds)
                if w:
                    w.stop.set()
                    w.join()
                    r["writes_per_s"] = w.done / (args.duration + args.warmup)
                    r["writer_errors"] = w.errors
                    # This process only waits for the load generator; its CPU is the writer's.
                    r["writer_client_cpu"] = (time.process_time() - cpu_before) / (args.duration + args.warmup)
                runs[mode].append(r)
                log(f"  run {run + 1} {mode} writer: {r['requests_per_second']:.0f} req/s p99 {r['p99_ms']:.2f} ms errors {r['errors']}"
                    + (f" writes/s {r['writes_per_s']:.0f}" if w else ""))
        for mode in runs:
            rs = runs[mode]
            out[f"gci_{mode}_writer_rps"] = round(statistics.median(r["requests_per_second"] for r in rs))
            out[f"gci_{mode}_writer_p99_ms"] = round(statistics.median(r["p99_ms"] for r in rs), 3)
            out[f"gci_{mode}_writer_errors"] = sum(r["errors"] for r in rs)
        out["writes_per_s"] = round(statistics.median(r["writes_per_s"] for r in runs["with"]), 1)
        out["writer_client_cpu"] = round(statistics.median(r["writer_client_cpu"] for r in runs["with"]), 3)
        # Each run pairs a measurement without the writer and one with it, back to back: the median
        # of the pairs' ratios is robust to the machine's drift, which moves whole runs by 10-20%.
        out["writer_ratio"] = round(statistics.median(
            w["requests_per_second"] / wo["requests_per_second"] for wo, w in zip(runs["without"], runs["with"])), 3)
        out["writer_ratio_of_medians"] = round(out["gci_with_writer_rps"] / out["gci_without_writer_rps"], 3)
        out["scale_rss_mib"] = round(rss_mib(server.pid))

        log("restart on the data")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        server, url, ready_s = start_server(tessera, data, args.server_arg)
        out["restart_ready_s"] = round(ready_s, 2)
        out["restart_rss_mib"] = round(rss_mib(server.pid))
        Client(url).sts(reader, "GetCallerIdentity")
    finally:
        server.terminate()
        server.wait(timeout=60)

    if alone_at_0:
        pairs_at_0 = statistics.median(a["rate"] for a in alone_at_0)
        out["pairs_per_s_at_0"] = round(pairs_at_0, 1)
        out["pair_rate_ratio"] = round(out["pairs_per_s_at_scale"] / pairs_at_0, 3)
    g = lambda k, fmt="{}": fmt.format(out[k]) if k in out else "-"
    rows = [
        ("keys", out["keys"]),
        ("build, seconds", g("build_s")),
        ("first request after a write, p50 ms: empty / at scale", f"{g('empty_after_write_p50_ms', '{:.3f}')} / {g('scale_after_write_p50_ms', '{:.3f}')}"),
        ("user + key pairs per second, one client alone: at ~0 keys / at scale (ratio)", f"{g('pairs_per_s_at_0')} / {g('pairs_per_s_at_scale')} ({g('pair_rate_ratio')})"),
        ("GetCallerIdentity req/s without / with writer, medians (median of the runs' ratios)", f"{out['gci_without_writer_rps']} / {out['gci_with_writer_rps']} ({out['writer_ratio']})"),
        ("GetCallerIdentity p99 ms without / with writer", f"{out['gci_without_writer_p99_ms']} / {out['gci_with_writer_p99_ms']}"),
        ("writer: writes per second; its client's CPU, share of one core", f"{out['writes_per_s']}; {out['writer_client_cpu']}"),
        ("RSS MiB: empty / at scale / after restart", f"{g('empty_rss_mib', '{:.0f}')} / {out['scale_rss_mib']} / {out['restart_rss_mib']}"),
        ("restart until ready, seconds", out["restart_ready_s"]),
    ]
    for k, v in rows:
        print(f"{k:72} {v}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
