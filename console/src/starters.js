// The handler a new function starts with, per runtime family (as AWS's console does).

const PYTHON = `import json


def lambda_handler(event, context):
    print("event:", json.dumps(event))
    return {
        "statusCode": 200,
        "body": json.dumps({"message": "Hello from loam!", "requestId": context.aws_request_id}),
    }
`;

const NODE = `export const handler = async (event, context) => {
  console.log("event:", JSON.stringify(event));
  return {
    statusCode: 200,
    body: JSON.stringify({ message: "Hello from loam!", requestId: context.awsRequestId }),
  };
};
`;

// A custom runtime's bootstrap talks to the Lambda Runtime API itself.
const PROVIDED = `#!/usr/bin/env python3
"""A custom runtime: fetch each event from the Runtime API, answer it."""
import json
import os
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"

while True:
    with urllib.request.urlopen(API + "next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read() or b"null")
    print("event:", json.dumps(event), flush=True)
    body = json.dumps({"statusCode": 200, "body": json.dumps({"message": "Hello from loam!"})})
    urllib.request.urlopen(urllib.request.Request(API + request_id + "/response", data=body.encode()))
`;

export function runtimeFamily(runtime) {
  if (runtime.startsWith("python")) return "python";
  if (runtime.startsWith("nodejs")) return "nodejs";
  return "provided";
}

export function starter(runtime) {
  switch (runtimeFamily(runtime)) {
    case "python":
      return { handler: "lambda_function.lambda_handler", files: { "lambda_function.py": PYTHON } };
    case "nodejs":
      return { handler: "index.handler", files: { "index.mjs": NODE } };
    default:
      return { handler: "bootstrap", files: { bootstrap: PROVIDED } };
  }
}

// Newest Python first, then Node.js, then the custom runtimes.
export function sortRuntimes(runtimes) {
  const family = { python: 0, nodejs: 1, provided: 2 };
  const version = (r) => (r.match(/\d+/g) ?? ["0"]).map(Number).reduce((a, n) => a * 1000 + n, 0);
  return [...runtimes].sort((a, b) => family[runtimeFamily(a)] - family[runtimeFamily(b)] || version(b) - version(a));
}
