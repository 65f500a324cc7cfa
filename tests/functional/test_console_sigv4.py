"""The console's browser signer (console/src/api/sigv4.js, run by node with its
WebCrypto) signs exactly as botocore signs: same canonical path (ARNs, encoded
twice), query (sorted, RFC 3986), headers and payload hash, so the same
Authorization header for the same request, key and instant."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CONSOLE = Path(__file__).resolve().parents[2] / "console" / "src" / "api"
NODE = shutil.which("node")
AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
INSTANT = datetime.datetime(2026, 3, 10, 12, 34, 56)

SCRIPT = """
import { sign, canonicalQuery } from "./sigv4.js";
import { wirePath } from "./client.js";
let text = "";
for await (const chunk of process.stdin) text += chunk;
const given = JSON.parse(text);
const out = [];
for (const c of given.cases) {
  const secret = new TextEncoder().encode("AWS4" + given.secret);
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" },
                                            false, ["sign"]);
  const credentials = { accessKeyId: given.akid, region: c.region, key };
  const path = wirePath(c.path);
  const query = canonicalQuery(c.query);
  const headers = await sign({ credentials, service: c.service, method: c.method, path, query,
    headers: { host: "127.0.0.1:9070", ...c.headers }, body: c.body, now: new Date(given.now) });
  out.push({ path, query, headers });
}
console.log(JSON.stringify(out));
"""

CASES: list[dict[str, Any]] = [
    {"service": "lambda", "region": "us-east-1", "method": "GET",
     "path": "/2015-03-31/functions/", "query": {"MaxItems": 50, "Marker": "a b/c+d=e~f*"},
     "headers": {}, "body": ""},
    {"service": "lambda", "region": "eu-west-3", "method": "POST",
     "path": "/2015-03-31/functions/arn:aws:lambda:eu-west-3:123456789012:function:f/invocations",
     "query": {"Qualifier": "$LATEST"},
     "headers": {"content-type": "application/json", "x-amz-log-type": "Tail"},
     "body": '{"name": "café ☕"}'},
    {"service": "logs", "region": "us-east-1", "method": "POST", "path": "/", "query": {},
     "headers": {"content-type": "application/x-amz-json-1.1",
                 "x-amz-target": "Logs_20140328.FilterLogEvents"},
     "body": '{"logGroupName": "/aws/lambda/f"}'},
]


def _node_signatures() -> list[dict[str, Any]]:
    assert NODE is not None
    given = {"akid": AKID, "secret": SECRET, "cases": CASES, "now": INSTANT.isoformat() + "Z"}
    done = subprocess.run([NODE, "--input-type=module", "-e", SCRIPT], cwd=CONSOLE,
                          input=json.dumps(given), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    signed: list[dict[str, Any]] = json.loads(done.stdout)
    return signed


@pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup installs it)")
def test_the_browser_signer_signs_as_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: INSTANT)
    for case, browser in zip(CASES, _node_signatures(), strict=True):
        url = "http://127.0.0.1:9070" + browser["path"]
        if browser["query"]:
            url += "?" + browser["query"]
        request = AWSRequest(method=case["method"], url=url, data=case["body"].encode(),
                             headers={**case["headers"]})
        botocore.auth.SigV4Auth(Credentials(AKID, SECRET), case["service"],
                                case["region"]).add_auth(request)
        assert browser["headers"]["x-amz-date"] == request.headers["X-Amz-Date"]
        assert browser["headers"]["authorization"] == request.headers["Authorization"], case
