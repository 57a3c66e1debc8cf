"""Shared additions: how soon an exemplar added through one replica changes another replica's verdict.

    python bench/shared_propagation.py [--detector DIR] [--additions 50] [--out ...json]

Starts a redis-server (temporary data, AOF with fsync always) and two `safe-embed serve --shared` replicas A and B
on loopback. For each of ``--additions`` benign prompts that B labels safe, adds the prompt as an unsafe exemplar
through A and polls B with a near copy (the prompt with a suffix) until B labels it unsafe; the time is from
A's request to B's unsafe verdict. Then checks that both replicas report the same exemplar counts and stream
position, and that B's nearest exemplar for each near copy has the id A acknowledged. Prints a table and writes
JSON. Pass: p95 under 1 s, identical ids and counts.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ensure_detector, machine, pct, table, write_json
from _shared import add, info, start_redis, start_replica, top_neighbours

from safe_embed.serve.runner import free_port

POLL_S = 0.005
TIMEOUT_S = 10.0


def candidates(n: int) -> list[str]:
    topics = ["tomato seedlings", "watercolour skies", "sourdough starters", "bicycle gears", "origami cranes",
              "bird migration", "tide pools", "jazz chords", "knitting cables", "moss gardens"]
    return [f"write a short note number {i} about {topics[i % len(topics)]} for the village newsletter"
            for i in range(3 * n)]


def measure(a: str, b: str, n: int) -> tuple[list[dict], list[str]]:
    rows, acked = [], []
    with httpx.Client(timeout=30) as c:
        labels = top_neighbours(c, b, [t + " please" for t in candidates(n)])
        texts = [t for t, (label, _) in zip(candidates(n), labels, strict=True) if label == "safe"][:n]
        if len(texts) < n:
            sys.exit(f"error: only {len(texts)} of the candidate prompts are safe on B; need {n}")
        for text in texts:
            t0 = time.perf_counter()
            r = add(c, a, text)
            ack = time.perf_counter() - t0
            r.raise_for_status()
            acked.append(r.json()["ids"][0])
            while True:
                label, nearest = top_neighbours(c, b, [text + " please"])[0]
                if label == "unsafe":
                    break
                if time.perf_counter() - t0 > TIMEOUT_S:
                    sys.exit(f"error: B did not change its verdict on {text!r} within {TIMEOUT_S} s")
                time.sleep(POLL_S)
            rows.append({"id": acked[-1], "ack_s": ack, "visible_s": time.perf_counter() - t0, "nearest": nearest})
    return rows, texts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None)
    ap.add_argument("--additions", type=int, default=50)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    detector = ensure_detector(args.detector)
    redis = start_redis()
    key = f"propagation-{os.getpid()}"
    pa, pb = free_port(), free_port()
    procs = [start_replica(detector, pa, redis.url, key), start_replica(detector, pb, redis.url, key)]
    a, b = f"http://127.0.0.1:{pa}", f"http://127.0.0.1:{pb}"
    try:
        rows, texts = measure(a, b, args.additions)
        deadline = time.monotonic() + 10
        while info(a)["shared"]["position"] != info(b)["shared"]["position"] and time.monotonic() < deadline:
            time.sleep(0.05)
        ia, ib = info(a), info(b)
        with httpx.Client(timeout=30) as c:
            on_a = [i for _, i in top_neighbours(c, a, [t + " please" for t in texts])]
            on_b = [i for _, i in top_neighbours(c, b, [t + " please" for t in texts])]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(60)
        redis.stop()
    acked = [r["id"] for r in rows]
    visible = [r["visible_s"] for r in rows]
    acks = [r["ack_s"] for r in rows]
    summary = {"additions": len(rows), "visible p50 ms": 1000 * pct(visible, 50),
               "visible p95 ms": 1000 * pct(visible, 95), "visible max ms": 1000 * max(visible),
               "ack p50 ms": 1000 * pct(acks, 50), "ack p95 ms": 1000 * pct(acks, 95)}
    print(table([summary], list(summary)))
    print(table([{"replica": "A", **ia["exemplars"], "position": ia["shared"]["position"]},
                 {"replica": "B", **ib["exemplars"], "position": ib["shared"]["position"]}]))
    checks = {"p95 from A's request to B's verdict < 1 s": pct(visible, 95) < 1.0,
              "same ids on both (nearest exemplar of each near copy)": on_a == on_b == acked,
              "same /v1/info exemplar counts and stream position": ia["exemplars"] == ib["exemplars"]
              and ia["shared"]["position"] == ib["shared"]["position"],
              "nothing refused": not ia["shared"]["refused"] and not ib["shared"]["refused"]}
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    write_json(args.out, "shared_propagation", {"detector": str(detector), "summary": summary, "rows": rows,
                                                "info": {"A": ia["exemplars"], "B": ib["exemplars"],
                                                         "shared_A": ia["shared"], "shared_B": ib["shared"]},
                                                "checks": checks, "machine": machine()})
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
