"""Recursive loop detection's trace headers: each invocation continues its chain."""

from __future__ import annotations

import random

from loam.invoke.lineage import continue_trace

A = "arn:aws:lambda:us-east-1:123456789012:function:a"
B = "arn:aws:lambda:us-east-1:123456789012:function:b"


def test_a_new_chain_gets_a_root_and_counts_one() -> None:
    first = continue_trace(None, A, random.Random(1))
    assert first.depth == 1
    assert first.header.startswith(f"Root={first.root};Parent=")
    assert first.root.startswith("1-") and len(first.root) == 35
    assert ";Sampled=0;Lineage=" in first.header


def test_each_function_counts_its_own_invocations_in_the_chain() -> None:
    rng = random.Random(2)
    header = continue_trace(None, A, rng).header
    depths = []
    for arn in (B, A, B, A):
        step = continue_trace(header, arn, rng)
        depths.append(step.depth)
        header = step.header
    assert depths == [1, 2, 2, 3]
    assert header.count("|") == 1  # one entry per function


def test_the_root_and_sampling_decision_are_kept() -> None:
    incoming = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    step = continue_trace(incoming, A)
    assert step.root == "1-5759e988-bd862e3fe1be46a994272793"
    assert ";Sampled=1;" in step.header
    assert step.depth == 1


def test_aws_versioned_lineage_entries_and_junk_are_read_safely() -> None:
    first = continue_trace(None, A)
    key = first.header.rsplit("Lineage=", 1)[1].split(":")[0]
    incoming = f"Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=1:{key}:15|x|:|y:zz"
    assert continue_trace(incoming, A).depth == 16
    assert continue_trace("not a header", A).depth == 1
