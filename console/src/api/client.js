// The console's only way to loam: its public AWS APIs on this origin, signed
// with SigV4 exactly as an SDK signs them.
import { currentCredentials } from "./credentials.js";
import { canonicalQuery, sign, uriEncode } from "./sigv4.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message ? `${code}: ${message}` : code);
    this.status = status;
    this.code = code;
    this.detail = message;
  }
}

// JSON-protocol services: target prefix, content type and signing name per service.
const JSON_SERVICES = {
  logs: ["Logs_20140328", "application/x-amz-json-1.1", "logs"],
  events: ["AWSEvents", "application/x-amz-json-1.1", "events"],
  sqs: ["AmazonSQS", "application/x-amz-json-1.0", "sqs"],
  monitoring: ["GraniteServiceVersion20100801", "application/x-amz-json-1.0", "monitoring"],
};

// REST-JSON services other than Lambda: their signing names.
const REST_SERVICES = { apigatewayv2: "apigateway", lambda: "lambda" };

// "/2015-03-31/functions/{name}" style paths: each segment encoded as an SDK does.
export function wirePath(path) {
  return path.split("/").map((s) => uriEncode(decodeURIComponent(s))).join("/");
}

// The AWS error code of a failed answer, wherever the protocol put it.
function errorCode(response, doc) {
  const header = response.headers.get("x-amzn-ErrorType");
  const raw = header || doc?.__type || doc?.code || doc?.Code || (doc?.Type !== "User" && doc?.Type) || "";
  const code = String(raw).split(":")[0].split("#").pop();
  return code || `HTTP${response.status}`;
}

export async function send({ service, signingName, method, path, query, headers = {}, body }) {
  const credentials = currentCredentials();
  if (!credentials) throw new ApiError(0, "NotSignedIn", "Sign in with an access key first.");
  const queryString = canonicalQuery(query);
  const sentPath = wirePath(path);
  const signed = await sign({
    credentials,
    service: signingName ?? service,
    method,
    path: sentPath,
    query: queryString,
    headers: { host: location.host, ...headers },
    body: body ?? "",
  });
  let response;
  try {
    response = await fetch(sentPath + (queryString ? "?" + queryString : ""), {
      method,
      headers: signed,
      body: method === "GET" || method === "HEAD" ? undefined : body ?? "",
      credentials: "omit",
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "NetworkError", `loam did not answer (${err.message}).`);
  }
  return response;
}

async function parse(response) {
  const text = await response.text();
  let doc = null;
  if (text) {
    try {
      doc = JSON.parse(text);
    } catch {
      doc = null;
    }
  }
  if (!response.ok) {
    const message = doc?.message ?? doc?.Message ?? (doc ? "" : text.slice(0, 300));
    throw new ApiError(response.status, errorCode(response, doc), message);
  }
  if (response.status === 204 || !text) return null;
  if (doc === null) throw new ApiError(response.status, "InvalidResponse", "The answer was not JSON.");
  return doc;
}

function jsonBody(body) {
  return body === undefined ? undefined : JSON.stringify(body);
}

export async function rest(service, method, path, { query, body } = {}) {
  const signingName = REST_SERVICES[service] ?? service;
  const payload = jsonBody(body);
  const headers = payload === undefined ? {} : { "content-type": "application/json" };
  return parse(await send({ service, signingName, method, path, query, headers, body: payload }));
}

export function lambda(method, path, options = {}) {
  return rest("lambda", method, path, options);
}

// Invoke, answered as AWS answers it: status, headers and the raw payload.
export async function invoke(name, payload, { qualifier, logType = "Tail", invocationType } = {}) {
  const headers = { "content-type": "application/json" };
  if (logType) headers["x-amz-log-type"] = logType;
  if (invocationType) headers["x-amz-invocation-type"] = invocationType;
  const response = await send({
    service: "lambda",
    method: "POST",
    path: `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`,
    query: qualifier ? { Qualifier: qualifier } : undefined,
    headers,
    body: payload,
  });
  if (!response.ok) return parse(response);
  return {
    status: response.status,
    body: await response.text(),
    functionError: response.headers.get("x-amz-function-error"),
    logResult: response.headers.get("x-amz-log-result"),
    executedVersion: response.headers.get("x-amz-executed-version"),
    requestId: response.headers.get("x-amzn-requestid"),
  };
}

export async function awsJson(service, operation, body = {}) {
  const entry = JSON_SERVICES[service];
  if (!entry) throw new ApiError(0, "UnknownService", `The console does not speak ${service}.`);
  const [prefix, contentType, signingName] = entry;
  const headers = { "content-type": contentType, "x-amz-target": `${prefix}.${operation}` };
  return parse(await send({ service, signingName, method: "POST", path: "/", headers, body: JSON.stringify(body) }));
}

// GetFunction's Code.Location is a presigned URL of this server: fetched on this
// origin whatever host name the server put in it.
export async function downloadCode(location) {
  const url = new URL(location, window.location.href);
  const response = await fetch(url.pathname + url.search, { credentials: "omit", cache: "no-store" });
  if (!response.ok) {
    throw new ApiError(response.status, "CodeDownloadFailed", (await response.text()).slice(0, 200));
  }
  return new Uint8Array(await response.arrayBuffer());
}

// The runtimes this loam node runs (its runtime registry), in the order to offer them.
export async function listRuntimes() {
  const response = await fetch("/_loam/runtimes", { credentials: "omit", cache: "no-store" });
  if (!response.ok) throw new ApiError(response.status, "RuntimesUnavailable", "loam did not list its runtimes.");
  return (await response.json()).runtimes;
}
