"""Reserved concurrency and throttling, as AWS answers them."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tests.functional.support import deploy

SLEEPY = (
    "import time\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return 'ok'\n"
)

pytestmark = pytest.mark.sandbox


def test_put_get_delete_function_concurrency(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": SLEEPY})
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    before = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    out = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert out["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    after = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert after == before - 5
    resp = lam.delete_function_concurrency(FunctionName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "Concurrency" not in lam.get_function(FunctionName=name)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before


def test_reservations_keep_100_unreserved(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": SLEEPY})
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    assert info.value.response["Error"]["Message"] == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )


def test_reserved_concurrency_of_zero_throttles(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": SLEEPY})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException) as info:
        lam.invoke(FunctionName=name, Payload=b"{}")
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert error["Error"]["Message"] == "Rate Exceeded."
    assert error["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    lam.delete_function_concurrency(FunctionName=name)
    assert _ok(lam, name)


def test_reserved_concurrency_caps_parallel_invocations(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": SLEEPY}, Timeout=10)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    results: list[str] = []

    def long_call() -> None:
        resp = lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": 3}).encode())
        results.append(resp["Payload"].read().decode())

    first = threading.Thread(target=long_call)
    first.start()
    time.sleep(1.0)  # admitted at once; still sleeping for two more seconds
    with pytest.raises(lam.exceptions.TooManyRequestsException) as info:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert info.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    first.join()
    assert results == ['"ok"']
    assert _ok(lam, name)


def _ok(lam: Any, name: str) -> bool:
    resp = lam.invoke(FunctionName=name, Payload=b"{}")
    return bool(resp["StatusCode"] == 200 and resp["Payload"].read() == b'"ok"')
