"""The console's test-event templates have the shapes AWS sends: each parses with the
aws-lambda-powertools parser model of its event source (strict about required fields
and types), and every template file is checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    EventBridgeModel,
    LambdaFunctionUrlModel,
    S3Model,
    SqsModel,
)
from pydantic import ValidationError

TEMPLATES = Path(__file__).resolve().parents[2] / "console" / "src" / "templates"
MODELS: dict[str, Any] = {
    "apigateway-http-api.json": APIGatewayProxyEventV2Model,
    "function-url.json": LambdaFunctionUrlModel,
    "s3-put.json": S3Model,
    "sqs.json": SqsModel,
    "scheduled-event.json": EventBridgeModel,
    "custom.json": None,  # any JSON object
}


def test_every_template_file_has_a_model() -> None:
    assert sorted(p.name for p in TEMPLATES.glob("*.json")) == sorted(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_template_parses_as_its_event_source(name: str) -> None:
    event = json.loads((TEMPLATES / name).read_text())
    model = MODELS[name]
    if model is None:
        assert isinstance(event, dict)
        return
    parsed = parse(event=event, model=model)
    assert parsed is not None


def test_a_broken_template_would_fail() -> None:
    event = json.loads((TEMPLATES / "sqs.json").read_text())
    del event["Records"][0]["messageId"]
    with pytest.raises(ValidationError, match="messageId"):
        parse(event=event, model=SqsModel)


def test_the_scheduled_event_is_what_a_schedule_sends() -> None:
    event = parse(event=json.loads((TEMPLATES / "scheduled-event.json").read_text()),
                  model=EventBridgeModel)
    assert event.detail_type == "Scheduled Event" and event.source == "aws.events"
