// Test-event templates. Each is a JSON file Python tests check against
// aws-lambda-powertools' parser models (tests/unit/test_console_templates.py).
import apigatewayHttpApi from "./apigateway-http-api.json";
import custom from "./custom.json";
import functionUrl from "./function-url.json";
import s3Put from "./s3-put.json";
import scheduledEvent from "./scheduled-event.json";
import sqs from "./sqs.json";

export const TEMPLATES = [
  { id: "custom", label: "Custom JSON", event: custom },
  { id: "apigateway-http-api", label: "API Gateway HTTP API (payload 2.0)", event: apigatewayHttpApi },
  { id: "function-url", label: "Function URL", event: functionUrl },
  { id: "s3-put", label: "S3 put", event: s3Put },
  { id: "sqs", label: "SQS message", event: sqs },
  { id: "scheduled-event", label: "Scheduled event (EventBridge)", event: scheduledEvent },
];
