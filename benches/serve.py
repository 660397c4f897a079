"""The predict endpoint under load, on MariaDB: `driftloop serve` beside a Python reference
(benches/predict_reference.py: FastAPI + pydantic, scikit-learn's same model family,
PyMySQL inserts; uvicorn with one worker per core), same request, same run, driven by wrk,
once per champion: the one `driftloop train` chooses from every family, and a random forest
(the costliest family to score). Also cold start: process start to the first successful prediction with the model loaded."""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import pymysql

from summary import record

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGINAL = os.path.join(HERE, "..", "..", "shared", "data", "mental-disorders-120.csv")
BODY = json.dumps({"features": {
    "sadness": "Usually", "euphoric": "Seldom", "exhausted": "Sometimes", "sleep_disorder": "Sometimes",
    "mood_swing": "YES", "suicidal_thoughts": "YES", "anorexia": "NO", "authority_respect": "NO",
    "try_explanation": "YES", "aggressive_response": "NO", "ignore_and_move_on": "NO", "nervous_breakdown": "YES",
    "admit_mistakes": "YES", "overthinking": "YES", "sexual_activity": 3, "concentration": 3, "optimism": 4}})


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def fresh_database(name):
    conn = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    with conn.cursor() as c:
        c.execute(f"DROP DATABASE IF EXISTS `{name}`")
        c.execute(f"CREATE DATABASE `{name}`")
    conn.close()
    return f"mysql://root@127.0.0.1:3306/{name}"


def first_answer(port, started, timeout=120):
    while time.perf_counter() - started < timeout:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/predict", data=BODY.encode(),
                                             headers={"content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"no answer on port {port}")


def wrk(port, seconds, connections, tmp):
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(BODY)}\n')
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}/v1/predict"], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, pct(50), pct(99), int(non2xx.group(1)) if non2xx else 0


def measure_once(command, port, env, args, tmp):
    """Starts a service, times its first successful answer, loads it with wrk, stops it."""
    started = time.perf_counter()
    service = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return first_answer(port, started), wrk(port, args.seconds, args.connections, tmp)
    finally:
        service.terminate()
        service.wait()


def measure(command, port, env, args, tmp):
    """`--repeat` starts of the service: the fastest cold start and the load run with the most requests/s."""
    runs = [measure_once(command, port, env, args, tmp) for _ in range(args.repeat)]
    return min(cold for cold, _ in runs), max((load for _, load in runs), key=lambda load: load[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=1, help="service starts per contender (best kept)")
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    parser.add_argument("--champions", default="chosen,random_forest",
                        help="comma-separated: `chosen` (the champion `driftloop train` picks from every family) "
                             "and/or a family to train alone")
    args = parser.parse_args()
    for which in args.champions.split(","):
        serve_one_champion(args, which)


def serve_one_champion(args, which):
    """Trains a champion (`chosen`: from the whole grid; otherwise that family alone), then
    loads driftloop serve and the reference with the same family and hyper-parameters."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DRIFTLOOP_DATABASE_URL=fresh_database("dl_bench_serve"),
                   DRIFTLOOP_STORE=os.path.join(tmp, "store"), RUST_LOG="error")
        env.pop("MLFLOW_TRACKING_URI", None)
        run = lambda *a: subprocess.run([args.driftloop, *a], check=True, capture_output=True, env=env, text=True)
        run("db", "migrate")
        run("import", ORIGINAL)
        run("train", *([] if which == "chosen" else ["--family", which.replace("_", "-")]))
        champion = json.loads(run("models", "show", "champion", "--json").stdout)
        port = free_port()
        ours_cold, ours_load = measure([args.driftloop, "serve", "--addr", f"127.0.0.1:{port}", "--no-worker"], port,
                                       env, args, tmp)

        fresh_database("dl_bench_reference")
        subprocess.run([args.driftloop, "db", "migrate"], check=True, capture_output=True,
                       env=dict(env, DRIFTLOOP_DATABASE_URL="mysql://root@127.0.0.1:3306/dl_bench_reference"))
        port = free_port()
        ref_env = dict(os.environ, DRIFTLOOP_BENCH_DB="dl_bench_reference", DRIFTLOOP_BENCH_FAMILY=champion["family"],
                       DRIFTLOOP_BENCH_PARAMS=json.dumps(champion["params"]))
        uvicorn = os.path.join(os.path.dirname(sys.executable), "uvicorn")
        ref_cold, ref_load = measure([uvicorn, "--app-dir", HERE, "predict_reference:app", "--port", str(port),
                                      "--workers", str(os.cpu_count()), "--log-level", "error"], port, ref_env, args, tmp)
    label = f"{champion['family']} champion" + (" (the one training chose)" if which == "chosen" else "")
    print(f"\nPOST /v1/predict on MariaDB, {label}, wrk -t2 -c{args.connections} "
          f"-d{args.seconds}s, each request validated, scored and inserted (trigger counting); "
          f"best of {args.repeat} service start(s)\n")
    print("| service | requests/s | p50 ms | p99 ms | non-2xx | cold start s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (rps, p50, p99, bad), cold in [("driftloop serve", ours_load, ours_cold),
                                               (f"FastAPI + scikit-learn + PyMySQL (uvicorn, {os.cpu_count()} workers)",
                                                ref_load, ref_cold)]:
        print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {bad} | {cold:.2f} |")
    print(f"\nthroughput: driftloop {ours_load[0] / ref_load[0]:.1f}x the reference")
    reference = f"FastAPI + scikit-learn + PyMySQL ({os.cpu_count()} workers)"
    comparison = f"POST /v1/predict, {champion['family']} champion, validate + score + insert, wrk -c{args.connections}"
    record(args.summary, comparison, "requests/s", ours_load[0], reference, ref_load[0], higher_is_better=True)
    record(args.summary, comparison, "p99 latency", ours_load[2], reference, ref_load[2], higher_is_better=False,
           unit="ms")
    record(args.summary, f"predict cold start, {champion['family']} champion (process start -> first stored "
           "prediction)", "seconds", ours_cold, reference, ref_cold, higher_is_better=False, unit="s")


if __name__ == "__main__":
    main()
