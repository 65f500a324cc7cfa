// The Node.js runtime inside an execution environment (mounted at /var/runtime).
//
// Speaks loam's framed protocol over the inherited channel socket (argv[2] is
// its fd): each frame is two big-endian uint32 lengths (header, body), a JSON
// header and a raw body. Frames sent: ready, init_error, log, response, error;
// received: invoke. A streaming handler (awslambda.streamifyResponse) answers
// with chunk frames, the first naming the content type, ended by an empty
// response frame or by an error frame. Handlers, the context object, the
// global awslambda, log lines and error documents follow AWS's Node.js
// runtime. Node's standard library only.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import util from "node:util";
import { Writable } from "node:stream";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || "/var/task";
const channel = new net.Socket({ fd: Number(process.argv[2]), readable: true, writable: true });

function send(type, body = Buffer.alloc(0), extra = {}) {
  const head = Buffer.from(JSON.stringify({ type, ...extra }));
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32BE(head.length, 0);
  prefix.writeUInt32BE(body.length, 4);
  return channel.write(Buffer.concat([prefix, head, body]));
}

// -- logging, as AWS's Node.js runtime writes it --------------------------------
let currentRequestId = undefined;

// LoggingConfig LogFormat JSON: one object per line, filtered by AWS_LAMBDA_LOG_LEVEL.
const JSON_LOGS = process.env.AWS_LAMBDA_LOG_FORMAT === "JSON";
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const MIN_LEVEL = Math.max(0, LEVELS.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || "TRACE").toUpperCase()));

function logLine(level, args) {
  if (JSON_LOGS) {
    if (LEVELS.indexOf(level) < MIN_LEVEL) return;
    const doc = { timestamp: new Date().toISOString(), level, requestId: currentRequestId,
                  message: util.format(...args) };
    const error = args.find((a) => a instanceof Error);
    if (error) Object.assign(doc, { errorType: error.name, errorMessage: error.message,
                                    stackTrace: (error.stack || "").split("\n") });
    send("log", Buffer.from(JSON.stringify(doc) + "\n"));
    return;
  }
  const message = util.format(...args).replace(/\n/g, "\r");
  const id = currentRequestId ?? "undefined";
  send("log", Buffer.from(`${new Date().toISOString()}\t${id}\t${level}\t${message}\n`));
}

console.log = (...args) => logLine("INFO", args);
console.info = (...args) => logLine("INFO", args);
console.warn = (...args) => logLine("WARN", args);
console.error = (...args) => logLine("ERROR", args);
console.debug = (...args) => logLine("DEBUG", args);
console.trace = (...args) => logLine("TRACE", args);

// -- errors ---------------------------------------------------------------------
class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

function errorDocument(err) {
  if (err instanceof Error) {
    const trace = (err.stack || "").split("\n").filter((line) => line.length > 0);
    return { errorType: err.name || "Error", errorMessage: err.message, trace };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

// -- handler loading --------------------------------------------------------------
async function loadModule(modulePath) {
  for (const ext of [".js", ".mjs", ".cjs"]) {
    const file = path.resolve(TASK_ROOT, modulePath + ext);
    if (!fs.existsSync(file)) continue;
    if (ext === ".js" || ext === ".cjs") {
      try {
        return createRequire(file)(file);
      } catch (err) {
        if (err && err.code === "ERR_REQUIRE_ESM") return await import(pathToFileURL(file).href);
        throw err;
      }
    }
    return await import(pathToFileURL(file).href);
  }
  throw new RuntimeError("Runtime.ImportModuleError",
    `Error: Cannot find module '${modulePath}'\nRequire stack:\n- /var/runtime/index.mjs`);
}

async function loadHandler(handler) {
  const match = /^([^.]*)\.(.*)$/.exec(path.basename(handler));
  if (!match) throw new RuntimeError("Runtime.MalformedHandlerName", "Bad handler");
  const modulePath = path.join(path.dirname(handler), match[1]);
  let module;
  try {
    module = await loadModule(modulePath);
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    if (err instanceof SyntaxError) {
      throw new RuntimeError("Runtime.UserCodeSyntaxError", `${err.name}: ${err.message}`);
    }
    throw err;
  }
  let fn = module;
  for (const key of match[2].split(".")) fn = fn?.[key] ?? fn?.default?.[key];
  if (typeof fn !== "function") {
    throw new RuntimeError("Runtime.HandlerNotFound",
      `${path.basename(handler)} is undefined or not exported`);
  }
  return fn;
}

// -- response streaming: the global awslambda, as AWS's Node.js runtime defines it --
const HANDLER_STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HANDLER_HIGHWATERMARK = Symbol.for("aws.lambda.runtime.handler.streaming.highWaterMark");
const STREAM_RESPONSE = "response";
const HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response";
const MAX_CHUNK = 1 << 20; // frames stay well under the channel's limit

class HttpResponseStream {
  // The metadata (status, headers, cookies) goes first as JSON, then 8 NUL bytes.
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION);
    const metadata = JSON.stringify(prelude);
    stream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(8));
    };
    return stream;
  }
}

globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[HANDLER_STREAMING] = STREAM_RESPONSE;
    if (typeof options?.highWaterMark === "number") {
      handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark);
    }
    return handler;
  },
  HttpResponseStream,
};

// The handler's responseStream: every write leaves at once as chunk frames,
// until the invocation has ended (``ended()``); later writes go nowhere.
function createResponseStream(highWaterMark, ended) {
  let contentType = "application/octet-stream";
  let started = false;
  const emit = (data, callback) => {
    if (ended()) {
      callback();
      return;
    }
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    let flushed = true;
    for (let at = 0; at < buf.length; at += MAX_CHUNK) {
      const extra = started ? {} : { content_type: contentType };
      started = true;
      flushed = send("chunk", buf.subarray(at, at + MAX_CHUNK), extra);
    }
    if (flushed) callback();
    else channel.once("drain", () => callback());
  };
  const beforeFirstWrite = () => {
    if (started || typeof stream._onBeforeFirstWrite !== "function") return;
    stream._onBeforeFirstWrite((data) => emit(typeof data === "string" ? data : Buffer.from(data),
      () => {}));
  };
  const stream = new Writable({
    highWaterMark,
    write(chunk, encoding, callback) {
      beforeFirstWrite();
      emit(chunk, callback);
    },
    final(callback) {
      beforeFirstWrite();
      callback();
    },
  });
  stream.setContentType = (type) => {
    if (started) throw new RuntimeError("Runtime.InvalidStreamingOperation",
      "Cannot set content-type, too late.");
    contentType = type;
  };
  const write = stream.write.bind(stream);
  stream.write = (chunk, encoding, callback) => write(
    typeof chunk === "string" || chunk instanceof Uint8Array ? chunk : JSON.stringify(chunk),
    encoding, callback);
  return stream;
}

function invokeStreaming(handler, header, event) {
  let settled = false;
  const fail = (err) => {
    if (settled) return;
    settled = true;
    const doc = errorDocument(err);
    logLine("ERROR", [`Invoke Error \t${JSON.stringify(doc)}`]);
    send("error", Buffer.from(JSON.stringify(doc)));
  };
  const stream = createResponseStream(handler[HANDLER_HIGHWATERMARK], () => settled);
  stream.on("finish", () => {
    if (settled) return;
    settled = true;
    send("response");
  });
  stream.on("error", (err) => fail(err));
  const context = makeContext(header, () => {});
  delete context.done;
  delete context.succeed;
  delete context.fail;
  let result;
  try {
    result = handler(event, stream, context);
  } catch (err) {
    fail(err);
    return;
  }
  if (!result || typeof result.then !== "function") {
    fail("Streaming does not support non-async handlers.");
    return;
  }
  result.then((value) => {
    if (value !== undefined) console.warn("Streaming handlers ignore return values.");
  }, (err) => fail(err ?? "undefined"));
}

// -- invocations ------------------------------------------------------------------
function makeContext(header, finish) {
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: header.invoked_function_arn,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: header.request_id,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: header.cognito_identity || undefined,
    clientContext: header.client_context ? JSON.parse(header.client_context) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, header.deadline_ms - Date.now()),
    done: (err, result) => finish(err, result),
    succeed: (result) => finish(null, result),
    fail: (err) => finish(err ?? "handled", undefined),
  };
}

async function invoke(handler, header, body) {
  currentRequestId = header.request_id;
  // The invocation's trace header: the AWS SDKs send it on (recursive loop detection).
  if (header.trace_id) process.env._X_AMZN_TRACE_ID = header.trace_id;
  else delete process.env._X_AMZN_TRACE_ID;
  let settled = false;
  const finish = (err, result) => {
    if (settled) return;
    settled = true;
    if (err !== null && err !== undefined) {
      const doc = errorDocument(err);
      logLine("ERROR", [`Invoke Error \t${JSON.stringify(doc)}`]);
      send("error", Buffer.from(JSON.stringify(doc)));
      return;
    }
    let payload;
    try {
      payload = JSON.stringify(result === undefined ? null : result);
    } catch (e) {
      send("error", Buffer.from(JSON.stringify(errorDocument(
        new RuntimeError("Runtime.MarshalError", `Unable to stringify response body`)))));
      return;
    }
    send("response", Buffer.from(payload));
  };
  let event;
  try {
    event = body.length ? JSON.parse(body.toString("utf8")) : {};
  } catch (err) {
    finish(new RuntimeError("Runtime.UnmarshalError", `Unable to parse input as JSON: ${err.message}`));
    return;
  }
  if (handler[HANDLER_STREAMING] === STREAM_RESPONSE) {
    invokeStreaming(handler, header, event);
    return;
  }
  const context = makeContext(header, finish);
  try {
    const result = handler.length >= 3
      ? handler(event, context, (err, res) => finish(err, res))
      : handler(event, context);
    if (result && typeof result.then === "function") {
      result.then((value) => finish(null, value), (err) => finish(err ?? "undefined", undefined));
    } else if (handler.length < 3) {
      finish(null, result);
    }
  } catch (err) {
    finish(err, undefined);
  }
}

// -- the frame reader and main loop ---------------------------------------------
let buffer = Buffer.alloc(0);
let handlerFn = null;
const queue = [];

channel.on("data", (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  while (buffer.length >= 8) {
    const headLen = buffer.readUInt32BE(0);
    const bodyLen = buffer.readUInt32BE(4);
    if (buffer.length < 8 + headLen + bodyLen) break;
    const header = JSON.parse(buffer.subarray(8, 8 + headLen).toString("utf8"));
    const body = buffer.subarray(8 + headLen, 8 + headLen + bodyLen);
    buffer = buffer.subarray(8 + headLen + bodyLen);
    if (header.type === "invoke") {
      if (handlerFn) invoke(handlerFn, header, Buffer.from(body));
      else queue.push([header, Buffer.from(body)]);
    }
  }
});
channel.on("end", () => process.exit(0));
channel.on("error", () => process.exit(0));

process.on("unhandledRejection", (reason) => {
  logLine("ERROR", [`Unhandled Promise Rejection \t${JSON.stringify(errorDocument(reason))}`]);
});

const started = process.hrtime.bigint();
try {
  handlerFn = await loadHandler(process.env._HANDLER || "");
  send("ready", Buffer.alloc(0), { init_ms: Number(process.hrtime.bigint() - started) / 1e6 });
  for (const [header, body] of queue.splice(0)) invoke(handlerFn, header, body);
} catch (err) {
  const doc = errorDocument(err);
  logLine("ERROR", [`Uncaught Exception \t${JSON.stringify(doc)}`]);
  send("init_error", Buffer.from(JSON.stringify(doc)));
}
