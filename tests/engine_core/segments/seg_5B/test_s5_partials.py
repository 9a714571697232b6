"""5B.S5 pass partials: merging is in part order and associative in its bookkeeping, so the
fold's T4 messages and totals do not depend on how parts are grouped."""

from types import SimpleNamespace

import numpy as np

from engine_core.segments.seg_5B.s5_arrivals_pass import ArrivalPartial
from engine_core.segments.seg_5B.s5_dense import DensePartial

C = SimpleNamespace(z=2, L=3, sites=SimpleNamespace(height=2), edges=SimpleNamespace(height=1))


def part(i, rows=0, head=None, tail=None, msgs=()):
    p = ArrivalPartial.empty(C, parts=1)
    p.rows, p.seq_head, p.seq_tail = rows, head, tail
    p.t4 = [(i, 1, m) for m in msgs]
    p.tz_counts += i
    return p


def fold(ps):
    acc = ArrivalPartial.empty(C)
    for p in ps:
        acc = acc.merge(p)
    return acc


PARTS = [
    part(0, msgs=["part 0: short"]),  # unmeasured: no seq ends
    part(1, 5, (1, 7, 3), (7, 9), ["part 1: keys (1 arrivals)"]),  # starts mid-merchant
    part(2, 4, (2, 7, 11), (8, 2)),  # seq breaks: 11 != 10
    part(3, 2, (3, 8, 3), (8, 5)),  # continues
]


def test_arrival_fold_checks_seq_across_parts_in_part_order():
    v = fold(PARTS).values(n_files=4)
    assert v["t4"] == [
        "part 0: short",
        "part 1: arrival_seq 3 != 0 at start",  # nothing before: checked when the fold ends
        "part 1: keys (1 arrivals)",
        "part 2: arrival_seq 11 != 10 at start",
    ]
    assert v["rows"] == 11 and v["parts"] == 4 and v["tz_counts"].tolist() == [6, 6]
    assert (
        fold(PARTS).values(n_files=3)["t4"][-1] == "3 arrival part files, the S4 part law gives 4"
    )


def test_arrival_merge_is_associative():
    a, b, c, d = PARTS
    grouped = ArrivalPartial.empty(C).merge(a.merge(b)).merge(c.merge(d))
    assert grouped.values(4)["t4"] == fold(PARTS).values(4)["t4"]
    right = a.merge(b.merge(c.merge(d)))
    assert right.values(4)["t4"] == fold(PARTS).values(4)["t4"]


def test_dense_merge_keeps_part_order():
    c = SimpleNamespace(z=1, hz=SimpleNamespace(h=2))
    p = [
        DensePartial(np.array([1.0, 2.0]), True, True, np.ones(3), np.ones(2), np.ones(2), 3, [i])
        for i in range(3)
    ]
    p[1].replay_counts = False
    acc = DensePartial.empty(c)
    for x in p:
        acc = acc.merge(x)
    v = acc.values()
    assert v["trace_s3"] == [0, 1, 2] and v["arrivals"] == 9 and not v["replay_counts"]
    assert (
        v["replay_lambda"] and v["exp_tb"].tolist() == [3.0, 6.0] and v["t9a"].tolist() == [3] * 3
    )
