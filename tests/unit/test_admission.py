from __future__ import annotations

import contextlib

import pytest

from loam.errors import TooManyRequestsException
from loam.invoke.admission import Admission


def test_reserved_functions_are_capped_at_their_reservation() -> None:
    admission = Admission(account_limit=1000)
    admission.set_reservations({"r": 2})
    with admission.admit("r"), admission.admit("r"):
        with pytest.raises(TooManyRequestsException) as info, admission.admit("r"):
            pass
        assert info.value.extra["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    with admission.admit("r"):
        pass


def test_zero_reservation_throttles_everything() -> None:
    admission = Admission(account_limit=1000)
    admission.set_reservations({"off": 0})
    with pytest.raises(TooManyRequestsException), admission.admit("off"):
        pass


def test_unreserved_pool_is_the_account_limit_minus_reservations() -> None:
    admission = Admission(account_limit=5)
    admission.set_reservations({"r": 3})
    assert admission.unreserved_limit == 2
    with contextlib.ExitStack() as stack:
        stack.enter_context(admission.admit("a"))
        stack.enter_context(admission.admit("b"))
        with pytest.raises(TooManyRequestsException) as info, admission.admit("c"):
            pass
        assert info.value.extra["Reason"] == "ConcurrentInvocationLimitExceeded"
        stack.enter_context(admission.admit("r"))  # reserved capacity is separate
        assert admission.statistics().in_flight == 3
    stats = admission.statistics()
    assert stats.in_flight == 0
    assert stats.throttled == 1


def test_provisioned_invocations_run_outside_the_unreserved_pool_then_spill_over() -> None:
    admission = Admission(account_limit=4)
    admission.set_provisioned({("p", "1"): 2})
    # The configured two come out of the shared pool: two left for everyone else.
    assert admission.unreserved_limit == 2
    with contextlib.ExitStack() as stack:
        stack.enter_context(admission.admit("p", "1"))
        stack.enter_context(admission.admit("p", "1"))
        assert admission.statistics().unreserved_in_flight == 0
        stack.enter_context(admission.admit("p", "1"))  # spills over
        assert admission.statistics().unreserved_in_flight == 1
        stack.enter_context(admission.admit("other"))
        with pytest.raises(TooManyRequestsException) as info, admission.admit("p", "2"):
            pass
        assert info.value.extra["Reason"] == "ConcurrentInvocationLimitExceeded"
    assert admission.statistics().in_flight == 0
