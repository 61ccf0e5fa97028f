#!/usr/bin/env python3
"""Server benchmark: health, GetCallerIdentity (long-term key, V1 and V3; role session) and
AssumeRole, each driven by tessera-loadgen over loopback, several runs, medians, and each as a
ratio to /health measured in the same run.

    cargo build --release --bin tessera --bin tessera-loadgen
    python3 scripts/bench-server.py [--runs 3] [--duration 10] [--connections 64]

Only the standard library: requests for the setup are signed here (RPC v1) from the root
credentials the server writes on first start.
"""
import argparse, json, os, statistics, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_client import Client, binaries, loadgen, start_server  # noqa: E402

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    args = ap.parse_args()
    tessera, lg = binaries(args.target_dir)
    data = tempfile.mkdtemp(prefix="tessera-bench-")
    # Every signed request's nonce is kept ~16 minutes; the default --replay-memory (1536MiB: at
    # least 130 million nonces, half of them for one AccessKey) holds the whole benchmark.
    server, url, _ = start_server(tessera, data)
    try:
        root = json.load(open(os.path.join(data, "root-credentials.json")))
        acct, rid, rsec = root["AccountId"], root["AccessKeyId"], root["AccessKeySecret"]
        client = Client(url)
        ram = lambda action, **p: client.ram((rid, rsec), action, **p)
        ram("CreateUser", UserName="bench")
        key = ram("CreateAccessKey", UserName="bench")["AccessKey"]
        ram("AttachPolicyToUser", PolicyType="System", PolicyName="AliyunSTSAssumeRoleAccess", UserName="bench")
        trust = json.dumps({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{acct}:root"]}}], "Version": "1"})
        ram("CreateRole", RoleName="bench-role", AssumeRolePolicyDocument=trust, MaxSessionDuration="43200")
        ram("AttachPolicyToRole", PolicyType="System", PolicyName="AliyunRAMReadOnlyAccess", RoleName="bench-role")
        role_arn = f"acs:ram::{acct}:role/bench-role"
        session = client.sts((key["AccessKeyId"], key["AccessKeySecret"]), "AssumeRole",
                             RoleArn=role_arn, RoleSessionName="bench", DurationSeconds="43200")["Credentials"]
        user = ["--access-key-id", key["AccessKeyId"], "--access-key-secret", key["AccessKeySecret"]]
        rootc = ["--access-key-id", rid, "--access-key-secret", rsec]
        sess = ["--access-key-id", session["AccessKeyId"], "--access-key-secret", session["AccessKeySecret"], "--security-token", session["SecurityToken"]]
        scenarios = [
            ("health", ["--action", "health"]),
            ("GetCallerIdentity, long-term key, V1", ["--action", "GetCallerIdentity"] + rootc),
            ("GetCallerIdentity, long-term key, V3", ["--action", "GetCallerIdentity", "--signature", "v3"] + rootc),
            ("GetCallerIdentity, role session, V1", ["--action", "GetCallerIdentity"] + sess),
            ("AssumeRole, RAM user, V1", ["--action", "AssumeRole", "--param", f"RoleArn={role_arn}", "--param", "RoleSessionName=bench"] + user),
        ]
        results = {name: [] for name, _ in scenarios}
        # Interleaved runs, so drift of the machine hits every scenario alike.
        for run in range(args.runs):
            for name, extra in scenarios:
                r = loadgen(lg, url, args.connections, args.duration, args.warmup, extra)
                results[name].append(r)
                print(f"run {run + 1} {name}: {r['requests_per_second']:.0f} req/s p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms errors {r['errors']}", file=sys.stderr)
        health = statistics.median(r["requests_per_second"] for r in results["health"])
        summary = []
        for name, _ in scenarios:
            rs = results[name]
            rps = statistics.median(r["requests_per_second"] for r in rs)
            summary.append({"scenario": name, "runs": len(rs), "requests_per_second": round(rps), "ratio_to_health": round(rps / health, 3),
                            "p50_ms": round(statistics.median(r["p50_ms"] for r in rs), 3), "p99_ms": round(statistics.median(r["p99_ms"] for r in rs), 3),
                            "errors": sum(r["errors"] for r in rs)})
        print(f"{'scenario':42} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
        for s in summary:
            print(f"{s['scenario']:42} {s['requests_per_second']:>8} {s['ratio_to_health']:>6} {s['p50_ms']:>7} {s['p99_ms']:>7} {s['errors']:>6}")
        print(json.dumps({"connections": args.connections, "duration_s": args.duration, "runs": args.runs, "results": summary}))
    finally:
        server.terminate()
        server.wait(timeout=30)

if __name__ == "__main__":
    main()
