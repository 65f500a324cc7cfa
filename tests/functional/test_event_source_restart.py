"""A mapping survives a restart of the server, and its poller starts again by itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.functional.support import deploy, unique_name
from tests.functional.test_event_source_sqs import RECORDER, make_queue, wait_for
from tests.helpers import client, running_server

pytestmark = pytest.mark.sandbox


def test_a_mapping_outlives_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    name = unique_name()
    with running_server(data) as server:
        lam, sqs = client(server), client(server, "sqs")
        deploy(lam, name, {"index.py": RECORDER})
        url, arn = make_queue(sqs)
        uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                               BatchSize=5)["UUID"]
        wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
                 "Enabled", 10)
    with running_server(data) as server:
        lam, sqs = client(server), client(server, "sqs")
        again = lam.get_event_source_mapping(UUID=uuid)
        assert (again["State"], again["BatchSize"], again["EventSourceArn"]) == (
            "Enabled", 5, arn)
        marker = unique_name("m")
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"marker": marker}))
        wait_for(lambda: marker in "".join(re.findall(r"ESM-EVENT .*", server.log())),
                 "delivery after the restart")
