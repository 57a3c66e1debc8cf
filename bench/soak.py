"""Soak: classification under load while exemplars are added by the service and by a second process, then crashes.

    python bench/soak.py [--detector DIR] [--clients 64] [--duration 60] [--kills 5] [--out ...json]
    python bench/soak.py --shared [--detector DIR] [--clients 64] [--duration 60] [--out ...json]

``--shared`` runs the two-replica soak of :mod:`soak_shared` (Redis killed and restarted, a replica killed and
restarted) instead of the phases below.

Works on a copy of the detector (default: the MiniLM detector of bench/_common.py), loopback only:

1. baseline: ``safe-embed serve COPY --persist`` with ``--clients`` classify clients for ``--duration`` s;
2. the same load while one exemplar is added through ``POST /v1/exemplars`` every 0.5 s by a client process of
   its own (each acknowledgement timed there) and a second process runs ``safe-embed add-exemplars COPY`` every ``--cli-every`` s (default 30: each
   run loads torch and the model, a few CPU-seconds on 2 cores); then the service stops and the
   directory is loaded again: every acknowledged addition must be there;
3. ``--kills`` times: start the service, add exemplars as fast as acknowledgements come, ``kill -9`` it at a
   random moment; the directory must load with every acknowledged addition; after one more start no temporary
   file may remain.

Prints a table and writes JSON. Pass criteria (printed): 0 failed classify requests, throughput under additions
within 10% of the baseline, acknowledgement p95 under 100 ms, nothing acknowledged lost, no temporary files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ensure_detector, machine, pct, prompts, table, write_json
from service_load import run_level, start_service

from safe_embed.serve.runner import free_port

TOKEN = "soak-token"


def adder(url: str, stop: threading.Event, every: float, record) -> None:
    """Add one exemplar every ``every`` s (0: as fast as acknowledgements come) until ``stop``; ``record(row)``
    gets ``{"text", "latency"}`` for each acknowledgement and ``{"failure"}`` for each refusal."""
    n = 0
    with httpx.Client(timeout=30) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            text = f"soak attack number {n} {random.random():.6f}"
            try:
                r = c.post(f"{url}/v1/exemplars", headers={"Authorization": f"Bearer {TOKEN}"},
                           json={"exemplars": [{"text": text, "label": "unsafe", "category": "soak"}]})
                if r.status_code == 200:
                    record({"text": text, "latency": time.perf_counter() - t0})
                else:
                    record({"failure": f"{r.status_code}: {r.text[:120]}"})
            except httpx.HTTPError as e:
                record({"failure": f"{type(e).__name__}: {e}"})
            n += 1
            wait = every - (time.perf_counter() - t0)
            if wait > 0:
                stop.wait(wait)


class AdderProcess:
    """The adding client in a process of its own, as a second client of the service is: timed inside the load
    generator's process, an acknowledgement would also wait for that process's 64 asyncio clients (its GIL).
    Each acknowledgement is written to a file at once, so a crash of the service loses none of the record."""

    def __init__(self, url: str, every: float) -> None:
        self.out = Path(tempfile.mkstemp(suffix=".jsonl")[1])
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--adder", url, "--every",
                                      str(every), "--adder-out", str(self.out)])

    def stop(self) -> tuple[list[str], list[float], list[str]]:
        """Stop the client; (acknowledged texts, their latencies, failures)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        rows = [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]
        self.out.unlink()
        return ([r["text"] for r in rows if "text" in r], [r["latency"] for r in rows if "text" in r],
                [r["failure"] for r in rows if "failure" in r])


def adder_main(url: str, every: float, out: str) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(out, "a", encoding="utf-8") as f:
        def record(row: dict) -> None:
            f.write(json.dumps(row) + "\n")
            f.flush()

        adder(url, stop, every, record)
    return 0


def cli_adder(det: Path, stop: threading.Event, every: float, acked: list, failures: list) -> None:
    n = 0
    while not stop.wait(every):
        f = Path(tempfile.mkstemp(suffix=".jsonl")[1])
        text = f"cli attack number {n} {random.random():.6f}"
        f.write_text(json.dumps({"text": text, "label": "unsafe", "category": "soak-cli"}) + "\n")
        p = subprocess.run([sys.executable, "-m", "safe_embed.cli", "add-exemplars", str(det), str(f)],
                           capture_output=True, text=True, check=False)
        (acked if p.returncode == 0 else failures).append(text if p.returncode == 0 else p.stderr[-200:])
        f.unlink()
        n += 1


def present(det: Path) -> set[str]:
    from safe_embed.detector import Detector

    d = Detector.load(det)
    return {e.text for e in d.unsafe + d.safe}


def temp_files(det: Path) -> list[str]:
    return sorted(p.name for p in det.iterdir() if p.name.startswith(".tmp-") or ".tmp-" in p.name)


def load_phase(det: Path, port: int, clients: int, duration: float, additions: bool, cli_every: float = 30.0) -> dict:
    proc = start_service(det, port, ["--persist", "--token", TOKEN])
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    acked: list[str] = []
    cli_acked: list[str] = []
    lat: list[float] = []
    failures: list[str] = []
    threads, api = [], None
    if additions:
        api = AdderProcess(url, 0.5)
        threads = [threading.Thread(target=cli_adder, args=(det, stop, cli_every, cli_acked, failures))]
        for t in threads:
            t.start()
    try:
        out = asyncio.run(run_level(port, clients, prompts(), 1, False, duration, 3.0))
    finally:
        stop.set()
        if api is not None:
            acked, lat, api_failures = api.stop()
            failures += api_failures
        for t in threads:
            t.join()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    ok = sum(1 for status, *_ in out["checks"] if status == 200)
    return {"rate": out["texts"] / duration, "requests": out["requests"],
            "failed_requests": len(out["errors"]) + (out["requests"] - ok), "acked": acked, "cli_acked": cli_acked,
            "ack_p50_ms": pct(lat, 50) * 1000, "ack_p95_ms": pct(lat, 95) * 1000, "add_failures": failures}


def kill_phase(det: Path, kills: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rounds = []
    for k in range(kills):
        port = free_port()
        proc = start_service(det, port, ["--persist", "--token", TOKEN])
        api = AdderProcess(f"http://127.0.0.1:{port}", 0.0)
        time.sleep(rng.uniform(1.0, 4.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        acked, _, _ = api.stop()
        try:
            missing = sorted(set(acked) - present(det))
            loads = True
        except Exception as e:  # noqa: BLE001 - any failure to load is the finding
            missing, loads = [f"load failed: {e}"], False
        rounds.append({"round": k, "acked": len(acked), "loads": loads, "missing": missing})
    port = free_port()
    proc = start_service(det, port, ["--persist", "--token", TOKEN])  # the next start cleans up
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    rounds.append({"round": "after restart", "temp_files": temp_files(det)})
    return rounds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--cli-every", type=float, default=30.0, help="seconds between CLI additions (default 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--shared", action="store_true", help="two `serve --shared` replicas and a redis-server, "
                                                          "with Redis and one replica killed mid-run")
    ap.add_argument("--adder", default=None, help=argparse.SUPPRESS)  # run as the adding client of this URL
    ap.add_argument("--every", type=float, default=0.5, help=argparse.SUPPRESS)
    ap.add_argument("--adder-out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.adder:
        return adder_main(args.adder, args.every, args.adder_out)
    if args.shared:
        from soak_shared import shared_soak

        return shared_soak(ensure_detector(args.detector), args.clients, args.duration, args.seed, args.out)
    src = ensure_detector(args.detector)
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    det = work / "detector"
    shutil.copytree(src, det)
    base = load_phase(det, free_port(), args.clients, args.duration, additions=False)
    under = load_phase(det, free_port(), args.clients, args.duration, additions=True, cli_every=args.cli_every)
    have = present(det)
    lost = sorted(set(under["acked"] + under["cli_acked"]) - have)
    kills = kill_phase(det, args.kills, args.seed)
    rows = [{"phase": "baseline", "texts/s": base["rate"], "failed": base["failed_requests"]},
            {"phase": "with additions", "texts/s": under["rate"], "failed": under["failed_requests"],
             "acked": len(under["acked"]), "cli acked": len(under["cli_acked"]), "ack p95 ms": under["ack_p95_ms"],
             "lost after restart": len(lost)}]
    print(table(rows, ["phase", "texts/s", "failed", "acked", "cli acked", "ack p95 ms", "lost after restart"]))
    print(table([{k: (len(v) if isinstance(v, list) else v) for k, v in r.items()} for r in kills]))
    ratio = under["rate"] / base["rate"] if base["rate"] else float("nan")
    checks = {"0 failed classify requests": base["failed_requests"] == under["failed_requests"] == 0,
              "throughput within 10%": ratio >= 0.9, "ack p95 < 100 ms": under["ack_p95_ms"] < 100,
              "nothing acknowledged lost": not lost and all(not r.get("missing") for r in kills[:-1]),
              "directory always loads": all(r.get("loads", True) for r in kills),
              "no temp files after the next start": not kills[-1]["temp_files"]}
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    write_json(args.out, "soak", {"baseline": {k: v for k, v in base.items() if k not in ("acked", "cli_acked")},
                                  "with_additions": {**{k: v for k, v in under.items()
                                                        if k not in ("acked", "cli_acked")},
                                                     "acked": len(under["acked"]),
                                                     "cli_acked": len(under["cli_acked"]), "lost": lost,
                                                     "throughput_ratio": ratio},
                                  "kills": kills, "checks": checks, "machine": machine()})
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
