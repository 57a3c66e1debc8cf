"""The shared soak (``python bench/soak.py --shared``): two `serve --shared` replicas under classify load while
exemplars are added to either, Redis is killed and restarted, and one replica is killed and restarted.

- a redis-server (temporary data, AOF with fsync always) and replicas A and B of the detector on loopback;
- ``--clients`` classify clients (half start on each replica), each sending one prompt per request in a closed
  loop. They reach the replicas as through a load balancer: a request whose connection is refused or cut (a
  replica that is down) is sent again to the other replica (classification is idempotent); counted as a retry;
- one addition every 0.5 s to A or B at random (to the other when that one is down), each outcome recorded;
- at 20% of ``--duration``: Redis is killed (SIGKILL) and restarted 3 s later on the same data;
- at 50%: replica B is killed (SIGKILL) and started again at once (it replays the stream before it listens).

Pass: 0 failed classify requests (a non-200 answer, or no answer from either replica); no failed addition other
than a 503 while Redis was down (or one cut by B's kill, never acknowledged); every acknowledged addition on both
replicas at the end (each one's text finds its own id as the nearest exemplar); the same exemplar counts and
stream position on both.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx
from _common import machine, pct, prompts, table, write_json
from _shared import add, info, start_redis, start_replica, top_neighbours

from safe_embed.serve.runner import free_port


async def _send(conns: dict, port: int, body: bytes) -> int:
    """One request on the kept-alive connection to ``port`` (opened when missing; dropped when it fails)."""
    if port not in conns:
        conns[port] = await asyncio.open_connection("127.0.0.1", port)
    reader, writer = conns[port]
    try:
        writer.write(b"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
    except BaseException:
        conns.pop(port)[1].close()
        raise
    if b"connection: close" in head.lower():
        conns.pop(port)[1].close()
    return int(head[9:12])


async def _client(cid: int, ports: list[int], texts: list[str], until: float, out: dict) -> None:
    j, conns = 0, {}
    while time.perf_counter() < until:
        body = json.dumps({"texts": [texts[(cid * 7919 + j * 104729) % len(texts)]], "neighbors": False}).encode()
        t0 = time.perf_counter()
        for attempt in range(20):
            port = ports[(cid + attempt) % len(ports)]
            try:
                status = await _send(conns, port, body)
                break
            except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration):
                out["retries"] += 1
                await asyncio.sleep(0.0 if attempt == 0 else 0.1)
        else:
            status = 0
        out["latency"].append(time.perf_counter() - t0)
        out["requests"] += 1
        if status != 200:
            out["failed"].append(status)
        j += 1
    for _, writer in conns.values():
        writer.close()


async def _load(ports: list[int], clients: int, duration: float) -> dict:
    out = {"requests": 0, "retries": 0, "failed": [], "latency": []}
    until = time.perf_counter() + duration
    await asyncio.gather(*(_client(c, ports, prompts(), until, out) for c in range(clients)))
    return out


def _adder(urls: list[str], stop: threading.Event, events: dict, rng: random.Random, log: list) -> None:
    n = 0
    with httpx.Client(timeout=30) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            first = rng.randrange(len(urls))
            text = f"shared soak attack {n} {rng.random():.6f}"
            row = {"text": text, "t": time.time(), "redis_down": events["redis_down"].is_set(),
                   "b_killed": events["b_killed"].is_set()}
            for k in range(len(urls)):
                url = urls[(first + k) % len(urls)]
                try:
                    r = add(c, url, text, "soak")
                    row.update(replica=url, status=r.status_code, body=r.json())
                    break
                except httpx.ConnectError:
                    continue
                except httpx.HTTPError as e:
                    row.update(replica=url, status=0, body=f"{type(e).__name__}: {e}")
                    break
            else:
                row.update(status=0, body="no replica reachable")
            row["redis_down"] = row["redis_down"] or events["redis_down"].is_set()
            row["b_killed"] = row["b_killed"] or events["b_killed"].is_set()
            log.append(row)
            n += 1
            stop.wait(max(0.0, 0.5 - (time.perf_counter() - t0)))


def _chaos(redis, det: Path, ports: list[int], procs: dict, url: str, key: str, duration: float,
           events: dict, timeline: list) -> None:
    t0 = time.monotonic()
    mark = lambda what: timeline.append({"t_s": round(time.monotonic() - t0, 2), "event": what})
    time.sleep(0.2 * duration)
    events["redis_down"].set()
    redis.stop(kill=True)
    mark("redis killed")
    time.sleep(3)
    redis.start()
    mark("redis restarted")
    time.sleep(2)  # a 503 answered just before the restart still arrives afterwards
    events["redis_down"].clear()
    time.sleep(max(0.0, 0.5 * duration - (time.monotonic() - t0)))
    events["b_killed"].set()
    os.kill(procs["B"].pid, signal.SIGKILL)
    procs["B"].wait(30)
    mark("replica B killed")
    procs["B"] = start_replica(det, ports[1], url, key)
    mark("replica B serving again")
    events["b_killed"].clear()


def shared_soak(detector: Path, clients: int, duration: float, seed: int, out: str | None) -> int:
    redis = start_redis()
    key = f"soak-{os.getpid()}"
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    procs = {"A": start_replica(detector, ports[0], redis.url, key),
             "B": start_replica(detector, ports[1], redis.url, key)}
    events = {"redis_down": threading.Event(), "b_killed": threading.Event()}
    stop, log, timeline = threading.Event(), [], []
    adder = threading.Thread(target=_adder, args=(urls, stop, events, random.Random(seed), log))
    chaos = threading.Thread(target=_chaos, args=(redis, detector, ports, procs, redis.url, key, duration, events,
                                                  timeline))
    try:
        adder.start()
        chaos.start()
        load = asyncio.run(_load(ports, clients, duration))
        chaos.join()
        stop.set()
        adder.join()
        deadline = time.monotonic() + 30
        while len({info(u)["shared"]["position"] for u in urls}) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        infos = [info(u) for u in urls]
        acked = [(r["text"], r["body"]["ids"][0]) for r in log if r["status"] == 200]
        with httpx.Client(timeout=60) as c:
            found = [top_neighbours(c, u, [t for t, _ in acked]) for u in urls]
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
            p.wait(60)
        redis.stop()
    missing = {name: [i for (_, i), (_, got) in zip(acked, f, strict=True) if got != i]
               for name, f in zip("AB", found, strict=True)}
    outage_503 = [r for r in log if r["status"] == 503 and r["redis_down"]]
    cut = [r for r in log if r["status"] == 0 and r["b_killed"] and r.get("replica") == urls[1]]
    other_failures = [r for r in log if r["status"] != 200 and r not in outage_503 and r not in cut]
    summary = {"seconds": duration, "classify requests": load["requests"],
               "texts/s": load["requests"] / duration, "failed classify": len(load["failed"]),
               "retried on the other replica": load["retries"], "p95 ms": 1000 * pct(load["latency"], 95),
               "additions": len(log), "acked": len(acked), "503 in outage": len(outage_503), "cut by the kill": len(cut),
               "other add failures": len(other_failures)}
    print(table([summary], list(summary)))
    print(table(timeline))
    print(table([{"replica": n, **i["exemplars"], "position": i["shared"]["position"],
                  "refused": str(i["shared"]["refused"]), "missing acked": len(missing[n])}
                 for n, i in zip("AB", infos, strict=True)]))
    checks = {"0 failed classify requests": not load["failed"],
              "additions failed only with 503 while Redis was down (or cut by the kill)": not other_failures,
              "every acknowledged addition on both replicas": not missing["A"] and not missing["B"],
              "same pool on both (counts, stream position)": infos[0]["exemplars"] == infos[1]["exemplars"]
              and infos[0]["shared"]["position"] == infos[1]["shared"]["position"]}
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    write_json(out, "soak_shared", {"detector": str(detector), "clients": clients, "summary": summary,
                                    "timeline": timeline, "other_add_failures": other_failures[:20],
                                    "classify_failures": load["failed"][:20], "missing": missing,
                                    "info": {n: {"exemplars": i["exemplars"], "shared": i["shared"]}
                                             for n, i in zip("AB", infos, strict=True)},
                                    "checks": checks, "machine": machine()})
    return 0 if all(checks.values()) else 1
