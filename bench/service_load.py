"""Service under load: 1, 8 and 64 concurrent clients against `safe-embed serve` on 127.0.0.1.

    python bench/service_load.py [--detector DIR] [--clients 1 8 64] [--duration 60 | 30 30 60] [--rounds 3]
                                 [--out ...json]

Starts the service in a subprocess (its own process and GIL, as in production), then, in this process:
1. measures the batched in-process detector throughput on the same prompts (batches of 64, same machine, same run)
   and keeps each prompt's result as the reference;
2. for each client count, runs that many keep-alive HTTP/1.1 connections (a minimal asyncio client, so the load
   generator costs little CPU), each sending one prompt per request in a closed loop for ``--duration`` seconds;
3. checks every response: status 200, its request id echoed, one result, and the label and score of *its* prompt
   (a lost or reordered result would carry another prompt's score); counts errors and mismatches.
Steps 1 and 2 alternate for ``--rounds`` rounds, with an in-process segment (``--inproc-seconds / 2``) before the
first round and after each one; a round's ratio is its service rate over the mean of the two in-process segments
around it, so a drift in machine load moves both. Prints throughput, latency p50/p95/p99, the server's mean
micro-batch size and the ratio to the in-process rate, per round and as the median (range) over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import data_dir, ensure_detector, machine, pct, prompts, table, write_json


def start_service(detector: Path, port: int, extra: list[str]) -> subprocess.Popen:
    env = {**os.environ, "SAFE_EMBED_DATA": data_dir() or ""}
    proc = subprocess.Popen([sys.executable, "-m", "safe_embed.cli", "serve", str(detector), "--port", str(port),
                             "--log-level", "warning", *extra], env=env)
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            sys.exit(f"error: the service exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            sys.exit("error: the service did not start within 180 s")
        time.sleep(0.25)


def in_process_rate(detector: Path, texts: list[str], seconds: float, batch: int, backend: str = "auto",
                    ) -> tuple[float, list]:
    """Batched in-process texts/s over ``texts`` for about ``seconds``, and one reference Detection per text."""
    from safe_embed.detector import Detector

    det = Detector.load(detector, backend=backend)
    ref = []
    for s in range(0, len(texts), batch):  # also warms up
        ref.extend(det.classify(texts[s:s + batch]))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for s in range(0, len(texts), batch):
            n += len(det.classify(texts[s:s + batch]))
    rate = n / (time.perf_counter() - t0)
    del det
    return rate, ref


async def _client(cid: int, port: int, texts: list[str], k: int, neighbors: bool, until: float,
                  warm_until: float, out: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    j = 0
    try:
        while time.perf_counter() < until:
            idx = [(cid * 7919 + (j * k + i) * 104729) % len(texts) for i in range(k)]
            rid = f"{cid}-{j}"
            body = json.dumps({"texts": [texts[i] for i in idx], "id": rid, "neighbors": neighbors}).encode()
            t0 = time.perf_counter()
            try:
                writer.write(b"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                payload = await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration) as e:
                out["errors"].append(f"{rid}: {type(e).__name__}: {e}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                j += 1
                continue
            dt = time.perf_counter() - t0
            if t0 >= warm_until:
                out["latency"].append(dt)
                out["requests"] += 1
                out["texts"] += k
                out["checks"].append((status, rid, payload, idx))
            j += 1
    finally:
        writer.close()


def verify(checks: list, ref: list, k: int) -> dict:
    errors = mismatched = 0
    for status, rid, payload, idx in checks:
        if status != 200:
            errors += 1
            continue
        body = json.loads(payload)
        res = body.get("results", [])
        ok = body.get("id") == rid and len(res) == k and all(
            r["label"] == ref[i].label and abs(r["score"] - ref[i].score) < 1e-3 for r, i in zip(res, idx, strict=False))
        mismatched += not ok
    return {"http_errors": errors, "mismatched": mismatched}


async def run_level(port: int, clients: int, texts: list[str], k: int, neighbors: bool, duration: float,
                    warmup: float) -> dict:
    out = {"latency": [], "requests": 0, "texts": 0, "errors": [], "checks": []}
    now = time.perf_counter()
    await asyncio.gather(*(_client(c, port, texts, k, neighbors, now + warmup + duration, now + warmup, out)
                           for c in range(clients)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--duration", type=float, nargs="+", default=[60.0],
                    help="seconds per client count: one value for all, or one per --clients entry (default 60)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds per level not counted (default 3)")
    ap.add_argument("--inproc-seconds", type=float, default=15.0,
                    help="seconds of each pair of in-process segments (default 15: 7.5 s before and after each round)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternations of in-process and service measurement (default 1); the summary gives the "
                         "median and range of the ratio")
    ap.add_argument("--texts-per-request", type=int, default=1)
    ap.add_argument("--no-neighbors", action="store_true", help="ask for label/score/category only")
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--serve-args", default="", help="extra `safe-embed serve` flags, e.g. '--wait-ms 1'")
    ap.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx", "onnx-fp32", "onnx-int8"),
                    help="encoder runtime of the service and of the in-process reference (default auto)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 1 and 4 clients, 3 s each, 2 s in-process")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.clients, args.duration, args.warmup, args.inproc_seconds = [1, 4], [3.0], 0.5, 2.0
    if len(args.duration) not in (1, len(args.clients)):
        ap.error(f"give one --duration or one per client count ({len(args.clients)}), got {len(args.duration)}")
    durations = dict(zip(args.clients, args.duration * len(args.clients) if len(args.duration) == 1
                         else args.duration, strict=True))

    from safe_embed.serve.runner import free_port

    if args.rounds < 1:
        ap.error(f"--rounds must be >= 1, got {args.rounds}")
    detector = ensure_detector(args.detector)
    texts = prompts()
    k, neighbors = args.texts_per_request, not args.no_neighbors
    segment = args.inproc_seconds / 2
    print(f"in-process batched detector throughput ({segment:.0f} s) ...", file=sys.stderr)
    first, ref = in_process_rate(detector, texts, segment, 64, args.backend)
    inproc = [first]
    port = args.port or free_port()
    proc = start_service(detector, port, ["--backend", args.backend, *args.serve_args.split()])
    rounds: list[list[dict]] = []
    try:
        for r in range(args.rounds):
            rows = []
            for c in args.clients:
                info0 = httpx.get(f"http://127.0.0.1:{port}/v1/info").json()["batching"]
                print(f"round {r + 1}/{args.rounds}: {c} clients for {durations[c]:.0f} s ...", file=sys.stderr)
                out = asyncio.run(run_level(port, c, texts, k, neighbors, durations[c], args.warmup))
                info1 = httpx.get(f"http://127.0.0.1:{port}/v1/info").json()["batching"]
                v = verify(out["checks"], ref, k)
                lat = out["latency"]
                batches = info1["batches"] - info0["batches"]
                rows.append({"round": r + 1, "clients": c, "seconds": durations[c], "requests": out["requests"],
                             "texts/s": out["texts"] / durations[c],
                             "p50 ms": 1000 * pct(lat, 50), "p95 ms": 1000 * pct(lat, 95),
                             "p99 ms": 1000 * pct(lat, 99),
                             "errors": len(out["errors"]) + v["http_errors"], "mismatched": v["mismatched"],
                             "mean batch": (info1["texts"] - info0["texts"]) / batches if batches else 0.0,
                             "error_samples": out["errors"][:5]})
            rounds.append(rows)
            if r + 1 < args.rounds:  # the service idles meanwhile, as it does after the last round
                inproc.append(in_process_rate(detector, texts, segment, 64, args.backend)[0])
    finally:
        proc.terminate()
        proc.wait(30)
    inproc.append(in_process_rate(detector, texts, segment, 64, args.backend)[0])
    for r, rows in enumerate(rounds):
        around = (inproc[r] + inproc[r + 1]) / 2
        for row in rows:
            row["in-process"] = around
            row["vs in-process"] = row["texts/s"] / around
    all_rows = [row for rows in rounds for row in rows]
    summary = []
    for c in args.clients:
        mine = [row for row in all_rows if row["clients"] == c]
        ratios = [row["vs in-process"] for row in mine]
        summary.append({"clients": c, "rounds": len(mine),
                        "texts/s": statistics.median(row["texts/s"] for row in mine),
                        "p50 ms": statistics.median(row["p50 ms"] for row in mine),
                        "p95 ms": statistics.median(row["p95 ms"] for row in mine),
                        "errors": sum(row["errors"] for row in mine),
                        "mismatched": sum(row["mismatched"] for row in mine),
                        "vs in-process": statistics.median(ratios),
                        "range": f"{min(ratios):.2f}-{max(ratios):.2f}"})
    print("\nin-process batched detector (batch 64), per segment: "
          + ", ".join(f"{x:.1f}" for x in inproc) + " texts/s")
    print(table(all_rows, ["round", "clients", "seconds", "requests", "texts/s", "p50 ms", "p95 ms", "p99 ms",
                           "errors", "mismatched", "mean batch", "in-process", "vs in-process"]))
    print("\nmedian over rounds:")
    print(table(summary, ["clients", "rounds", "texts/s", "p50 ms", "p95 ms", "errors", "mismatched",
                          "vs in-process", "range"]))
    last = summary[-1]
    print(f"\nunder load ({last['clients']} clients): errors {last['errors']}, mismatched {last['mismatched']}, "
          f"throughput {100 * last['vs in-process']:.0f}% of in-process, median of {last['rounds']} rounds "
          f"(range {last['range']}; >= 80%)")
    write_json(args.out, "service_load", {"detector": str(detector), "backend": args.backend,
                                          "durations_s": durations, "rounds": args.rounds,
                                          "texts_per_request": k, "neighbors": neighbors,
                                          "in_process_texts_per_s": statistics.mean(inproc),
                                          "in_process_segments": inproc, "levels": all_rows, "summary": summary,
                                          "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
