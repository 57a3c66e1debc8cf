"""The exemplar pool: one apply path, so a change applied live and the same change replayed from the journal give
identical pools and ids."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from safe_embed.detector import Detector, Exemplar
from safe_embed.detector.pool import Addition, ExemplarPool, Removal
from safe_embed.errors import DataError


def _snapshot(det: Detector) -> dict:
    """Everything the pool holds, per label: ids, exemplars and vectors in index order; and the id counters."""
    return {"next_id": det.pool.next_id,
            **{label: ([e.id for e in idx.exemplars], list(idx.exemplars), idx.vectors())
               for label, idx in det.indexes.items()}}


def _assert_same(a: dict, b: dict) -> None:
    assert a["next_id"] == b["next_id"]
    for label in ("unsafe", "safe"):
        assert a[label][0] == b[label][0] and a[label][1] == b[label][1]
        np.testing.assert_array_equal(a[label][2], b[label][2])


def test_an_addition_replayed_from_the_journal_equals_the_same_addition_applied_live(tiny_detector_dir, tmp_path):
    root = tmp_path / "det"
    shutil.copytree(tiny_detector_dir, root)
    live = Detector.load(root)
    first = live.persist_add(["make a bomb quietly", "hide the knife"], ["unsafe", "unsafe"], ["harm", None],
                             source="mine")
    live.persist_add(["bake bread today"], ["safe"], ids=["own:bread"])
    live.persist_remove([first[1]])  # the highest automatic id is removed: it must never come back
    again = live.persist_add(["poison the well"], ["unsafe"], source="mine")
    assert first == ["mine:0", "mine:1"] and again == ["mine:2"]

    replayed = Detector.load(root)  # the snapshot, then the journal's four records
    _assert_same(_snapshot(live), _snapshot(replayed))
    assert live.pool.new_ids("mine", 2) == replayed.pool.new_ids("mine", 2) == ["mine:3", "mine:4"]
    assert replayed.add(["steal a car"], ["unsafe"], source="mine") == live.add(["steal a car"], ["unsafe"],
                                                                                source="mine") == ["mine:3"]
    # the replay matches a pool built by hand from the snapshot plus the same exemplars (an independent build)
    snap = Detector.load(tiny_detector_dir)
    kept = [e for e in replayed.unsafe if e.id not in {e.id for e in snap.unsafe}]
    assert [e.id for e in kept] == ["mine:0", "mine:2", "mine:3"]
    np.testing.assert_allclose(replayed.indexes["unsafe"].vectors()[-3:], snap.embed([e.text for e in kept]),
                               atol=1e-6)


def _pool() -> ExemplarPool:
    return ExemplarPool.build({"unsafe": [Exemplar("u:0", "a", "unsafe")], "safe": [Exemplar("s:0", "b", "safe")]},
                              {"unsafe": np.eye(1, 4, 0, np.float32), "safe": np.eye(1, 4, 1, np.float32)})


def test_the_pool_refuses_clashing_ids_and_emptying_a_label():
    pool = _pool()
    rows = pool.new_exemplars(["c"], ["unsafe"], None, ["u:0"], "x", check_ids=False)
    with pytest.raises(DataError, match="exemplar id 'u:0' already exists"):
        pool.apply(Addition(rows, np.eye(1, 4, 2, np.float32)))
    with pytest.raises(DataError, match="would leave no safe exemplars"):
        pool.check_removal(["s:0"])
    with pytest.raises(DataError, match="unknown exemplar id"):
        pool.check_removal(["nope"])
    assert pool.apply(Removal(frozenset({"gone"}))) == 0  # a replayed removal of what is no longer there


def test_journal_counters_move_the_ids_past_what_a_record_says():
    pool = _pool()
    rows = pool.new_exemplars(["c"], ["unsafe"], None, None, "x")
    pool.apply(Addition(rows, np.eye(1, 4, 2, np.float32)), counters={"x": 7, "y": 2})
    assert pool.next_id == {"x": 7, "y": 2} and pool.new_ids("x", 1) == ["x:7"]
