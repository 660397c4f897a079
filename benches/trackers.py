"""Tracker mirroring: the seconds a training spends copying its new version to MLflow and
to W&B, beside the trackers' own Python clients doing the same work for the same version.

- driftloop: `driftloop train --family logistic-regression --json` on the published 120
  rows with MLFLOW_TRACKING_URI and WANDB_API_KEY set, in a fresh folder each repetition
  (so each sync mirrors exactly one new version); the training's JSON reports the
  `seconds` of its MLflow sync (run, params, metrics, the artifact uploaded, registered
  version, `champion` alias) and of its W&B sync (run, config, one history step per grid
  candidate, summary, the model artifact, finished).
- MLflow's client (mlflow, from the test venv): a run with the same params, metrics and
  tags, the artifact file logged into it, a registered model version and the alias.
- W&B's SDK (wandb 0.31.0, from the test venv): `wandb.init` with driftloop's config and
  tags, one `log` per grid candidate, the summary, the model as a reference artifact
  with its aliases, `finish`. Imports are not timed.

Both servers run here (`mlflow server` on SQLite, openwandb), so the figures are each
client's own work plus local round trips; medians of --repeat runs. Needs the test venv
that `./scripts/test` creates (mlflow, wandb, openwandb); `--tools` names another."""

import argparse
import base64
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from summary import record

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
PUBLISHED = os.path.join(ROOT, "..", "shared", "data", "mental-disorders-120.csv")
KEY = "local" + "0" * 40

MLFLOW_REFERENCE = r"""
import json, sys, time
given = json.load(open(sys.argv[1]))
import mlflow
from mlflow import MlflowClient
started = time.perf_counter()
mlflow.set_tracking_uri(given["mlflow"])
mlflow.set_experiment(given["experiment"])
with mlflow.start_run(run_name=given["name"]) as run:
    mlflow.log_params(given["params"])
    mlflow.log_metrics(given["metrics"])
    mlflow.set_tags(given["tags"])
    mlflow.log_artifact(given["artifact"], artifact_path="model")
client = MlflowClient()
try:
    client.create_registered_model(given["model"])
except mlflow.exceptions.MlflowException:
    pass
version = client.create_model_version(given["model"], f"{run.info.artifact_uri}/model", run.info.run_id)
client.set_registered_model_alias(given["model"], "champion", version.version)
print(time.perf_counter() - started)
"""

WANDB_REFERENCE = r"""
import json, sys, time
given = json.load(open(sys.argv[1]))
import wandb
started = time.perf_counter()
run = wandb.init(project=given["project"], entity="local", id=given["id"], name=given["name"],
                 job_type="train", tags=given["tags"], config=given["config"])
for step in given["history"]:
    run.log(step)
run.summary.update(given["summary"])
artifact = wandb.Artifact(given["model"], type="model", metadata=given["metadata"])
artifact.add_reference("file://" + given["artifact"], name=given["file"])
run.log_artifact(artifact, aliases=given["aliases"])
run.finish()
print(time.perf_counter() - started)
"""


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def wait_for(url, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"{url} did not answer within {seconds} s")


def graphql(server, query):
    request = urllib.request.Request(f"{server}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    request.add_header("Authorization", "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def driftloop_training(binary, folder, env):
    def run(*args):
        done = subprocess.run([binary, *args], cwd=folder, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"driftloop {' '.join(args)}: {done.stderr}")
        return json.loads(done.stdout)
    run("db", "migrate", "--json")
    run("import", PUBLISHED, "--json")
    trained = run("train", "--family", "logistic-regression", "--json")
    for tracker in ("mlflow", "wandb"):
        report = trained.get(tracker) or {}
        if report.get("failed") or not report.get("mirrored"):
            sys.exit(f"the {tracker} mirror did not mirror the version: {report}")
    return trained, run("models", "show", "1", "--json")


def reference_inputs(server, project, version, i):
    """What the clients send: driftloop's run as the W&B server holds it, its metrics."""
    run_id = version["sha256"][:16]
    node = graphql(server, f'{{ project(name: "{project}", entityName: "local") {{ runs {{ edges {{ node {{ '
                           f'name displayName tags config summaryMetrics }} }} }} }} }}')
    node = node["data"]["project"]["runs"]["edges"][0]["node"]
    config = {k: v["value"] for k, v in json.loads(node["config"]).items()}
    summary = json.loads(node["summaryMetrics"])
    with urllib.request.urlopen(f"{server}/api/v2/runs/{run_id}/metrics?key=cv_mean_macro_f1", timeout=30) as a:
        steps = json.load(a)["metrics"]
    history = [{"candidate": s["step"], "cv_mean_macro_f1": s["value"]} for s in steps]
    artifact = version["artifact_uri"].removeprefix("file://")
    scalars = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {
        "project": f"{project}-sdk", "id": f"sdk{i:04d}{run_id[:9]}", "name": node["displayName"],
        "tags": node["tags"], "config": config, "history": history, "summary": summary,
        "model": version["name"], "metadata": {"version": version["version"], "family": version["family"]},
        "artifact": artifact, "file": os.path.basename(artifact), "aliases": ["driftloop-v1", "champion"],
        "experiment": f"bench-reference-{i}", "params": {k: str(v) for k, v in version["params"].items()},
        "metrics": scalars,
    }


def reference(python, script, given, workdir, env):
    path = os.path.join(workdir, "given.json")
    with open(path, "w") as f:
        json.dump(given, f)
    done = subprocess.run([python, "-c", script, path], cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the reference client failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--driftloop", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--summary", help="append the headline numbers to this JSON-lines file")
    requirements = os.path.join(ROOT, "scripts", "requirements-test.txt")
    with open(requirements, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    venvs = os.environ.get("DRIFTLOOP_VENV_DIR", "/var/cache/driftloop-venv")
    parser.add_argument("--tools", default=os.path.join(venvs, digest),
                        help="a venv with mlflow, wandb and openwandb (default: the test command's)")
    args = parser.parse_args()
    tools = os.path.join(args.tools, "bin")
    for tool in ("mlflow", "wandb", "openwandb", "python"):
        if not os.access(os.path.join(tools, tool), os.X_OK):
            sys.exit(f"{tools}/{tool} is missing: run ./scripts/test once (it creates the venv) or pass --tools")

    work = tempfile.mkdtemp(prefix="driftloop-trackers-")
    servers = []
    try:
        mlflow_port, wandb_port = free_port(), free_port()
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        servers.append(subprocess.Popen(
            [f"{tools}/mlflow", "server", "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{work}/mlflow.db", "--artifacts-destination", f"{work}/artifacts"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        servers.append(subprocess.Popen(
            [f"{tools}/openwandb", "serve", "--host", "127.0.0.1", "-p", str(wandb_port), "--data-dir",
             f"{work}/openwandb"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        mlflow_uri, wandb_uri = f"http://127.0.0.1:{mlflow_port}", f"http://127.0.0.1:{wandb_port}"
        wait_for(f"{mlflow_uri}/health", 180)
        wait_for(f"{wandb_uri}/", 60)

        ours = {"mlflow": [], "wandb": []}
        theirs = {"mlflow": [], "wandb": []}
        for i in range(args.repeat):
            folder = os.path.join(work, f"run-{i}")
            os.makedirs(folder)
            project = f"bench-{i}"
            env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "MLFLOW_", "DRIFTLOOP_"))}
            env |= {"MLFLOW_TRACKING_URI": mlflow_uri, "DRIFTLOOP_MLFLOW_EXPERIMENT": f"bench-{i}",
                    "WANDB_API_KEY": KEY, "WANDB_BASE_URL": wandb_uri, "WANDB_PROJECT": project,
                    "WANDB_ENTITY": "local", "RUST_LOG": "warn"}
            trained, version = driftloop_training(args.driftloop, folder, env)
            ours["mlflow"].append(trained["mlflow"]["seconds"])
            ours["wandb"].append(trained["wandb"]["seconds"])

            given = reference_inputs(wandb_uri, project, version, i)
            given["mlflow"] = mlflow_uri
            client_env = {k: v for k, v in env.items() if not k.startswith("MLFLOW_")}
            client_env |= {"WANDB_DIR": folder, "WANDB_CACHE_DIR": f"{folder}/cache", "WANDB_DATA_DIR": f"{folder}/data",
                           "WANDB_CONFIG_DIR": f"{folder}/config", "WANDB_SILENT": "true"}
            mlflow_given = dict(given, tags={"driftloop.version": "1", "family": version["family"]})
            theirs["mlflow"].append(reference(f"{tools}/python", MLFLOW_REFERENCE, mlflow_given, folder, client_env))
            theirs["wandb"].append(reference(f"{tools}/python", WANDB_REFERENCE, given, folder, client_env))
    finally:
        for server in servers:
            try:
                os.killpg(server.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    print(f"\nTracker mirroring of one new version (published 120 rows, logistic regression), "
          f"median of {args.repeat}; both servers local")
    print("| tracker | driftloop's sync s | the tracker's Python client s | runs (driftloop) |")
    print("|---|---:|---:|---|")
    for tracker, client in (("mlflow", "mlflow client"), ("wandb", "wandb 0.31.0 SDK")):
        o, t = statistics.median(ours[tracker]), statistics.median(theirs[tracker])
        print(f"| {tracker} | {o:.3f} | {t:.3f} ({client}) | {', '.join(f'{s:.3f}' for s in ours[tracker])} |")
        record(args.summary, "tracker mirroring", f"{'MLflow' if tracker == 'mlflow' else 'W&B'}: seconds per "
               "training", o, client, t, False, "s")


if __name__ == "__main__":
    main()
