"""Replicas sharing exemplar changes through a real redis-server: propagation, ids, refusals, outages, compaction."""

from __future__ import annotations

import logging
import shutil
import threading
import time

import pytest
from redis_server import wait_for

from safe_embed.detector import Detector
from safe_embed.detector.shared_compact import compact
from safe_embed.detector.shared_records import fields_of
from safe_embed.detector.shared_replica import SharedReplica
from safe_embed.detector.shared_stream import RedisStream, SharedUnavailableError
from safe_embed.errors import ConfigError, DataError

KEY = "test"


def replica(detector_copy, srv, start: bool = True) -> tuple[Detector, SharedReplica]:
    det = Detector.load(detector_copy)
    r = SharedReplica(det, RedisStream(srv.url, KEY)).open()
    if start:
        r.start()
    return det, r


def rows(det: Detector) -> list[tuple]:
    return [(e.id, e.text, e.label, e.category) for e in det.unsafe + det.safe]


def test_an_addition_on_one_replica_reaches_the_other_with_the_same_ids(detector_copy, redis_server):
    a_det, a = replica(detector_copy, redis_server)
    b_det, b = replica(detector_copy, redis_server)
    try:
        before = len(b_det.unsafe)
        ids = a.add(["zebra crossing instructions for smuggling"], ["unsafe"], ["smuggling"])
        assert ids == ["added:0"]
        wait_for(lambda: len(b_det.unsafe) == before + 1)
        assert rows(b_det) == rows(a_det)
        near = b_det.classify(["zebra crossing instructions for smuggling!"])[0]
        assert near.neighbors[0].id == "added:0"
        assert b.status().applied == 1 and b.status().healthy
    finally:
        a.stop(), b.stop()


def test_replicas_adding_at_once_never_hand_out_the_same_id(detector_copy, redis_server):
    (a_det, a), (b_det, b) = replica(detector_copy, redis_server), replica(detector_copy, redis_server)
    got: dict[str, list[str]] = {"a": [], "b": []}

    def add_many(name, r):
        for i in range(12):
            got[name] += r.add([f"{name} attack number {i}"], ["unsafe"])

    try:
        threads = [threading.Thread(target=add_many, args=(n, r)) for n, r in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        every = got["a"] + got["b"]
        assert len(set(every)) == 24
        wait_for(lambda: len(a_det.unsafe) == len(b_det.unsafe) == 4 + 24)
        assert rows(a_det) == rows(b_det)
        assert a_det.pool.next_id == b_det.pool.next_id == {"added": 24}
    finally:
        a.stop(), b.stop()


def test_the_same_given_id_is_taken_once_across_replicas(detector_copy, redis_server):
    (_, a), (_, b) = replica(detector_copy, redis_server, start=False), replica(detector_copy, redis_server, start=False)
    a.add(["first text"], ["unsafe"], ids=["mine:x"])
    with pytest.raises(DataError, match="'mine:x' already exists"):
        b.add(["second text"], ["unsafe"], ids=["mine:x"])


def test_a_late_replica_replays_additions_and_removals(detector_copy, redis_server):
    a_det, a = replica(detector_copy, redis_server, start=False)
    a.add(["one bad thing", "another bad thing"], ["unsafe", "unsafe"])
    a.add(["a fine question"], ["safe"])
    assert a.remove(["added:0"]) == 1
    c_det, c = replica(detector_copy, redis_server, start=False)
    assert rows(c_det) == rows(a_det)
    assert "added:0" not in {e.id for e in c_det.unsafe} and c.status().applied == 3
    assert c.add(["yet another"], ["unsafe"]) == ["added:3"]  # the counter moved past the removed id's too


def test_a_record_from_another_encoder_is_refused_and_counted(detector_copy, redis_server, caplog):
    a_det, a = replica(detector_copy, redis_server, start=False)
    foreign = a_det.prepare_add(["from some other model"], ["unsafe"])
    stream = RedisStream(redis_server.url, KEY)
    assert stream.append_after(stream.last_id(), fields_of(foreign, {}, "0123456789abcdef")).id is not None
    n = len(a_det.unsafe)
    with caplog.at_level(logging.ERROR):
        a.catch_up()
    assert len(a_det.unsafe) == n
    assert a.status().refused == {"embedding_space": 1}
    assert "refusing shared record" in caplog.text and "0123456789abcdef" in caplog.text
    assert a.add(["after the refusal"], ["unsafe"]) == ["added:0"]  # the stream goes on


def test_a_record_that_does_not_verify_is_refused(detector_copy, redis_server):
    _, a = replica(detector_copy, redis_server, start=False)
    a.add(["a real addition"], ["unsafe"])
    line = redis_server.client().xrange("safe-embed:{test}")[-1][1]["record"]
    redis_server.client().xadd("safe-embed:{test}", {"record": line.replace("a real addition", "a forged one")})
    b_det, b = replica(detector_copy, redis_server, start=False)
    assert b.status().refused == {"corrupt": 1}
    assert "a forged one" not in {e.text for e in b_det.unsafe}


def test_without_redis_additions_fail_classification_goes_on_and_it_resumes(detector_copy, redis_server):
    (_, a), (b_det, b) = replica(detector_copy, redis_server), replica(detector_copy, redis_server)
    try:
        a.add(["before the outage"], ["unsafe"])
        wait_for(lambda: len(b_det.unsafe) == 5)
        redis_server.stop()
        with pytest.raises(SharedUnavailableError, match="cannot reach Redis"):
            a.add(["during the outage"], ["unsafe"])
        assert not a.healthy
        wait_for(lambda: not b.healthy)
        assert b_det.classify(["before the outage!"])[0].neighbors[0].id == "added:0"
        time.sleep(0.2)
        assert b.status().lag_s > 0 and b.status().reason
        redis_server.start()
        wait_for(lambda: b.healthy)
        assert a.add(["after the outage"], ["unsafe"]) == ["added:1"]
        wait_for(lambda: len(b_det.unsafe) == 6)
        assert [e.text for e in b_det.unsafe[4:]] == ["before the outage", "after the outage"]
    finally:
        a.stop(), b.stop()


def test_a_redis_that_lost_entries_stops_changes(detector_copy, redis_server):
    _, a = replica(detector_copy, redis_server, start=False)
    a.add(["kept only in memory"], ["unsafe"])
    redis_server.stop()
    shutil.rmtree(redis_server.dir)
    redis_server.dir.mkdir()
    redis_server.start()
    with pytest.raises(SharedUnavailableError, match="Redis lost entries"):
        a.add(["next one"], ["unsafe"])
    assert "Redis lost entries" in a.status().reason


def test_compaction_while_replicas_append_loses_nothing(detector_copy, redis_server, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(detector_copy, old)
    a_det, a = replica(detector_copy, redis_server)
    acked: list[str] = []
    stop = threading.Event()

    def adder():
        i = 0
        while not stop.is_set() or i < 40:
            acked.extend(a.add([f"appended while compacting {i}"], ["unsafe"]))
            i += 1

    t = threading.Thread(target=adder)
    t.start()
    try:
        wait_for(lambda: len(acked) >= 10)
        result = compact(detector_copy, redis_server.url, KEY)
        stop.set()
        t.join()
    finally:
        stop.set()
        a.stop()
    assert result.generation == 1 and 10 <= result.records <= len(acked) and result.trimmed == result.records
    c_det, _ = replica(detector_copy, redis_server, start=False)  # the new generation, then what followed it
    assert c_det.origin.generation == 1
    assert rows(c_det) == rows(a_det)
    assert set(acked) <= {e.id for e in c_det.unsafe}
    stream = RedisStream(redis_server.url, KEY)
    assert stream.length() == len(acked) - result.records + 1  # the marker and what came after it
    with pytest.raises(ConfigError, match="compacted through"):
        replica(old, redis_server, start=False)


def test_compacting_twice_starts_from_the_last_compaction(detector_copy, redis_server):
    _, a = replica(detector_copy, redis_server, start=False)
    a.add(["first batch"], ["unsafe"])
    assert compact(detector_copy, redis_server.url, KEY).records == 1
    a.add(["second batch"], ["unsafe"])
    second = compact(detector_copy, redis_server.url, KEY)
    assert (second.generation, second.records) == (2, 1)
    assert compact(detector_copy, redis_server.url, KEY).generation is None  # nothing new
    c_det, _ = replica(detector_copy, redis_server, start=False)
    assert [e.text for e in c_det.unsafe[4:]] == ["first batch", "second batch"]


def test_bad_settings_are_named(detector_copy, redis_server):
    with pytest.raises(ConfigError, match="not a Redis URL"):
        RedisStream("http://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="--shared-key"):
        RedisStream(redis_server.url, "a b")
    with pytest.raises(SharedUnavailableError, match="cannot reach Redis at redis://127.0.0.1:1/0"):
        RedisStream("redis://127.0.0.1:1/0").ping()
