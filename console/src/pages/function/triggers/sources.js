// What triggers a function, read from the services that hold each kind, and how each kind is
// added and removed. Removing a trigger undoes what adding it did: its target or route, the rule
// or API made for it, the policy statement that let its service in, a queue made with it.
import { awsJson, lambda, rest } from "../../../api/client.js";
import { arnParts, fnPath, policyStatements, principalOf, removePermissionsFor, sourceArnOf, statementId } from "../configuration/common.jsx";
import { allowPublicUrl, deleteUrl, getUrlConfig, pathUrl } from "../configuration/url.jsx";

const APIGW = "apigateway.amazonaws.com";
const EVENTS = "events.amazonaws.com";
// Tag put on a queue created together with its mapping: the mapping's removal deletes it too.
export const QUEUE_TAG = "loam:trigger-function";

// An integration URI names the function as its ARN, possibly qualified or inside an
// apigateway invocation ARN.
function targetsFunction(uri, fnArn) {
  if (!uri) return false;
  const at = uri.indexOf(fnArn);
  if (at < 0) return false;
  const next = uri[at + fnArn.length];
  return next === undefined || next === ":" || next === "/";
}

async function allowOnce(name, principal, sourceArn, prefix) {
  const present = (await policyStatements(name))
    .some((s) => principalOf(s) === principal && sourceArnOf(s) === sourceArn);
  if (present) return;
  await lambda("POST", fnPath(name, "/policy"), {
    body: { StatementId: statementId(prefix), Action: "lambda:InvokeFunction", Principal: principal, SourceArn: sourceArn },
  });
}

// ----- function URL -----
async function urlTriggers(fn) {
  const name = fn.Configuration.FunctionName;
  const doc = await getUrlConfig(name);
  if (!doc) return [];
  return [{
    key: "url", kind: "Function URL", name: doc.FunctionUrl, link: doc.FunctionUrl,
    // The same URL by path on the main port, for clients without wildcard DNS.
    altLink: pathUrl(doc.FunctionUrl),
    state: "Enabled", detail: `Auth ${doc.AuthType}, ${doc.InvokeMode || "BUFFERED"}`,
    remove: () => deleteUrl(name), removes: "the function URL and its public-access statement",
  }];
}

export async function addUrl(fn, { auth }) {
  const name = fn.Configuration.FunctionName;
  await lambda("POST", fnPath(name, "/url", "2021-10-31"), { body: { AuthType: auth } });
  if (auth === "NONE") await allowPublicUrl(name);
}

// ----- HTTP API routes (apigatewayv2 speaks camelCase on the wire) -----
function apiSourceArn(fnArn, apiId) {
  const { region, account } = arnParts(fnArn);
  return `arn:aws:execute-api:${region}:${account}:${apiId}/*`;
}

async function all(path) {
  const items = [];
  let token;
  do {
    const page = await rest("apigatewayv2", "GET", path, { query: token ? { nextToken: token } : undefined });
    items.push(...(page.items || []));
    token = page.nextToken;
  } while (token);
  return items;
}

export function listApis() {
  return all("/v2/apis");
}

async function apiTriggers(fn) {
  const name = fn.Configuration.FunctionName;
  const fnArn = fn.Configuration.FunctionArn;
  const found = [];
  for (const api of await listApis()) {
    const integrations = (await all(`/v2/apis/${api.apiId}/integrations`))
      .filter((i) => targetsFunction(i.integrationUri, fnArn));
    if (!integrations.length) continue;
    const ids = new Set(integrations.map((i) => i.integrationId));
    const routes = await all(`/v2/apis/${api.apiId}/routes`);
    const mine = routes.filter((r) => ids.has((r.target || "").replace("integrations/", "")));
    for (const route of mine) {
      const path = route.routeKey === "$default" ? "/" : route.routeKey.split(" ")[1] || "/";
      const integrationId = route.target.replace("integrations/", "");
      found.push({
        key: `api-${api.apiId}-${route.routeId}`, kind: "HTTP API", name: `${api.name}: ${route.routeKey}`,
        link: path.includes("{") ? null : api.apiEndpoint + path, detail: api.apiEndpoint, state: "Deployed",
        removes: route.apiGatewayManaged ? `the HTTP API ${api.name} (made by quick create)` : `the route ${route.routeKey}`,
        remove: async () => {
          if (route.apiGatewayManaged) {
            await rest("apigatewayv2", "DELETE", `/v2/apis/${api.apiId}`);
          } else {
            await rest("apigatewayv2", "DELETE", `/v2/apis/${api.apiId}/routes/${route.routeId}`);
            if (!routes.some((r) => r.routeId !== route.routeId && r.target === route.target)) {
              await rest("apigatewayv2", "DELETE", `/v2/apis/${api.apiId}/integrations/${integrationId}`);
            }
            if (mine.length > 1) return; // other routes of this API still call the function
          }
          await removePermissionsFor(name, APIGW, apiSourceArn(fnArn, api.apiId));
        },
      });
    }
  }
  return found;
}

export async function addApiRoute(fn, { apiId, apiName, routeKey }) {
  const name = fn.Configuration.FunctionName;
  const fnArn = fn.Configuration.FunctionArn;
  let id = apiId;
  if (!apiId) {
    const api = await rest("apigatewayv2", "POST", "/v2/apis", {
      body: { name: apiName, protocolType: "HTTP", target: fnArn, routeKey },
    });
    id = api.apiId;
  } else {
    const integration = await rest("apigatewayv2", "POST", `/v2/apis/${apiId}/integrations`, {
      body: { integrationType: "AWS_PROXY", integrationUri: fnArn, payloadFormatVersion: "2.0" },
    });
    await rest("apigatewayv2", "POST", `/v2/apis/${apiId}/routes`, {
      body: { routeKey, target: `integrations/${integration.integrationId}` },
    });
    // A stage without auto-deploy serves the route only once deployed.
    for (const stage of await all(`/v2/apis/${apiId}/stages`)) {
      if (!stage.autoDeploy) {
        await rest("apigatewayv2", "POST", `/v2/apis/${apiId}/deployments`, { body: { stageName: stage.stageName } });
      }
    }
  }
  await allowOnce(name, APIGW, apiSourceArn(fnArn, id), "apigateway");
}

// ----- EventBridge rules (schedules and event patterns) -----
export async function listBuses() {
  const answer = await awsJson("events", "ListEventBuses", {});
  return (answer.EventBuses || []).map((b) => b.Name);
}

async function ruleTriggers(fn) {
  const name = fn.Configuration.FunctionName;
  const fnArn = fn.Configuration.FunctionArn;
  const found = [];
  for (const bus of await listBuses()) {
    let token;
    const names = [];
    do {
      const page = await awsJson("events", "ListRuleNamesByTarget", { TargetArn: fnArn, EventBusName: bus, ...(token ? { NextToken: token } : {}) });
      names.push(...(page.RuleNames || []));
      token = page.NextToken;
    } while (token);
    for (const ruleName of names) {
      const rule = await awsJson("events", "DescribeRule", { Name: ruleName, EventBusName: bus });
      const schedule = Boolean(rule.ScheduleExpression);
      found.push({
        key: `rule-${bus}-${ruleName}`, kind: schedule ? "Schedule" : "EventBridge rule",
        name: bus === "default" ? ruleName : `${bus}/${ruleName}`,
        detail: schedule ? rule.ScheduleExpression : rule.EventPattern,
        state: rule.State === "ENABLED" ? "Enabled" : "Disabled",
        toggle: () => awsJson("events", rule.State === "ENABLED" ? "DisableRule" : "EnableRule", { Name: ruleName, EventBusName: bus }),
        removes: `the rule ${ruleName} (when it has no other target) and its permission`,
        remove: async () => {
          const targets = (await awsJson("events", "ListTargetsByRule", { Rule: ruleName, EventBusName: bus })).Targets || [];
          const ids = targets.filter((t) => t.Arn === fnArn).map((t) => t.Id);
          if (ids.length) await awsJson("events", "RemoveTargets", { Rule: ruleName, EventBusName: bus, Ids: ids });
          if (ids.length === targets.length) await awsJson("events", "DeleteRule", { Name: ruleName, EventBusName: bus });
          await removePermissionsFor(name, EVENTS, rule.Arn);
        },
      });
    }
  }
  return found;
}

// PutRule, the permission for the bus (before the target, so the first run is allowed), PutTargets.
export async function addRule(fn, { ruleName, bus = "default", schedule, pattern }) {
  const name = fn.Configuration.FunctionName;
  const fnArn = fn.Configuration.FunctionArn;
  const rule = await awsJson("events", "PutRule", {
    Name: ruleName, EventBusName: bus, State: "ENABLED",
    ...(schedule ? { ScheduleExpression: schedule } : { EventPattern: pattern }),
  });
  await allowOnce(name, EVENTS, rule.RuleArn, "events");
  const answer = await awsJson("events", "PutTargets", {
    Rule: ruleName, EventBusName: bus, Targets: [{ Id: name.slice(0, 64), Arn: fnArn }],
  });
  if (answer.FailedEntryCount) {
    const failed = answer.FailedEntries[0];
    throw new Error(`${failed.ErrorCode}: ${failed.ErrorMessage}`);
  }
}

// ----- SQS event source mappings -----
const ESM = "/2015-03-31/event-source-mappings/";

async function queueUrlOf(queueArn) {
  const [, , , , account, queueName] = queueArn.split(":");
  const answer = await awsJson("sqs", "GetQueueUrl", { QueueName: queueName, QueueOwnerAWSAccountId: account });
  return answer.QueueUrl;
}

async function madeForFunction(queueArn, name) {
  try {
    const url = await queueUrlOf(queueArn);
    const tags = (await awsJson("sqs", "ListQueueTags", { QueueUrl: url })).Tags || {};
    return tags[QUEUE_TAG] === name ? url : null;
  } catch (err) {
    if (err.code === "QueueDoesNotExist" || err.code === "AWS.SimpleQueueService.NonExistentQueue") return null;
    throw err;
  }
}

async function sqsTriggers(fn) {
  const name = fn.Configuration.FunctionName;
  const answer = await lambda("GET", ESM, { query: { FunctionName: name } });
  const found = [];
  for (const m of answer.EventSourceMappings || []) {
    const ownQueue = await madeForFunction(m.EventSourceArn, name);
    found.push({
      key: `esm-${m.UUID}`, kind: "SQS queue", name: m.EventSourceArn.split(":").pop(),
      detail: `Batch size ${m.BatchSize}${m.StateTransitionReason ? ` — ${m.StateTransitionReason}` : ""}`,
      state: m.State, uuid: m.UUID,
      toggle: m.State === "Enabled" || m.State === "Disabled"
        ? () => lambda("PUT", ESM + m.UUID, { body: { Enabled: m.State !== "Enabled" } }) : null,
      removes: ownQueue ? "the mapping and the queue created with it" : "the mapping (the queue stays)",
      remove: async () => {
        await lambda("DELETE", ESM + m.UUID);
        if (ownQueue) await awsJson("sqs", "DeleteQueue", { QueueUrl: ownQueue });
      },
    });
  }
  return found;
}

export async function listQueues() {
  const answer = await awsJson("sqs", "ListQueues", {});
  return answer.QueueUrls || [];
}

export async function addQueueMapping(fn, { queueUrl, newQueue, batchSize }) {
  const name = fn.Configuration.FunctionName;
  let url = queueUrl;
  if (newQueue) {
    url = (await awsJson("sqs", "CreateQueue", { QueueName: newQueue, tags: { [QUEUE_TAG]: name } })).QueueUrl;
  }
  const attrs = await awsJson("sqs", "GetQueueAttributes", { QueueUrl: url, AttributeNames: ["QueueArn"] });
  await lambda("POST", ESM, {
    body: { FunctionName: name, EventSourceArn: attrs.Attributes.QueueArn, BatchSize: Number(batchSize), Enabled: true },
  });
}

export async function loadTriggers(fn) {
  const kinds = await Promise.allSettled([urlTriggers(fn), apiTriggers(fn), ruleTriggers(fn), sqsTriggers(fn)]);
  const labels = ["function URL", "HTTP APIs", "EventBridge rules", "SQS mappings"];
  return {
    triggers: kinds.flatMap((k) => (k.status === "fulfilled" ? k.value : [])),
    errors: kinds.map((k, i) => (k.status === "rejected" ? { what: labels[i], error: k.reason } : null)).filter(Boolean),
  };
}
