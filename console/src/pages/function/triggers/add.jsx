// The form that adds one trigger of a chosen kind.
import { useEffect, useState } from "preact/hooks";
import { Button, Field } from "../../../ui/basics.jsx";
import { Outcome, useAction } from "../configuration/common.jsx";
import { addApiRoute, addQueueMapping, addRule, addUrl, listApis, listBuses, listQueues } from "./sources.js";

const KINDS = [
  ["schedule", "Schedule"], ["api", "HTTP API route"], ["sqs", "SQS queue"],
  ["rule", "EventBridge rule"], ["url", "Function URL"],
];

function safeName(text) {
  return text.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64);
}

function ScheduleFields({ form, set }) {
  return (
    <>
      <Field label="Rule name" value={form.ruleName} onInput={set("ruleName")} required maxLength={64} pattern="[\.\-_A-Za-z0-9]+" />
      <Field label="Schedule expression" value={form.schedule} onInput={set("schedule")} required
        hint="rate(1 minute), rate(5 minutes), cron(0 12 * * ? *)" spellcheck={false} />
    </>
  );
}

function RuleFields({ form, set, buses }) {
  return (
    <>
      <Field label="Rule name" value={form.ruleName} onInput={set("ruleName")} required maxLength={64} pattern="[\.\-_A-Za-z0-9]+" />
      <Field as="select" label="Event bus" value={form.bus} onChange={set("bus")}>
        {buses.map((b) => <option value={b}>{b}</option>)}
      </Field>
      <Field as="textarea" class="full" label="Event pattern (JSON)" value={form.pattern} onInput={set("pattern")} required spellcheck={false} rows={4} />
    </>
  );
}

function ApiFields({ form, set, apis }) {
  return (
    <>
      <Field as="select" label="HTTP API" value={form.apiId} onChange={set("apiId")}>
        <option value="">Create a new API (quick create)</option>
        {apis.map((a) => <option value={a.apiId}>{a.name} ({a.apiId})</option>)}
      </Field>
      {form.apiId ? null : <Field label="New API name" value={form.apiName} onInput={set("apiName")} required maxLength={128} />}
      <Field label="Route key" value={form.routeKey} onInput={set("routeKey")} required hint="ANY /path, GET /items/{id} or $default" spellcheck={false} />
    </>
  );
}

function SqsFields({ form, set, queues }) {
  return (
    <>
      <Field as="select" label="Queue" value={form.queueUrl} onChange={set("queueUrl")}>
        <option value="">Create a new queue</option>
        {queues.map((q) => <option value={q}>{q.split("/").pop()}</option>)}
      </Field>
      {form.queueUrl ? null : <Field label="New queue name" value={form.newQueue} onInput={set("newQueue")} required maxLength={80} pattern="[A-Za-z0-9_\-]+(\.fifo)?" />}
      <Field label="Batch size" type="number" min="1" max="10000" value={form.batchSize} onInput={set("batchSize")} required />
    </>
  );
}

function UrlFields({ form, set }) {
  return (
    <Field as="select" label="Auth type" value={form.auth} onChange={set("auth")}
      hint={form.auth === "NONE" ? "Anyone may call it: a public-access statement is added." : "Callers sign with SigV4."}>
      <option value="NONE">NONE</option>
      <option value="AWS_IAM">AWS_IAM</option>
    </Field>
  );
}

export default function AddTrigger({ fn, onAdded }) {
  const name = fn.Configuration.FunctionName;
  const [kind, setKind] = useState("schedule");
  const [form, setForm] = useState({
    ruleName: safeName(`${name}-schedule`), schedule: "rate(1 minute)", bus: "default",
    pattern: '{\n  "source": ["my.app"]\n}', apiId: "", apiName: safeName(`${name}-api`),
    routeKey: `ANY /${name}`, queueUrl: "", newQueue: safeName(`${name}-queue`), batchSize: "10", auth: "NONE",
  });
  const [lists, setLists] = useState({ apis: [], buses: ["default"], queues: [] });
  const action = useAction();

  useEffect(() => {
    const load = { api: () => listApis().then((apis) => ({ apis })), rule: () => listBuses().then((buses) => ({ buses })), sqs: () => listQueues().then((queues) => ({ queues })) }[kind];
    if (load) load().then((got) => setLists((l) => ({ ...l, ...got })), action.setError);
  }, [kind]);

  const set = (field) => (e) => setForm({ ...form, [field]: e.currentTarget.value });
  const pick = (id) => {
    setKind(id);
    action.setError(null);
    if (id === "rule" && form.ruleName.endsWith("-schedule")) setForm({ ...form, ruleName: safeName(`${name}-events`) });
    if (id === "schedule" && form.ruleName.endsWith("-events")) setForm({ ...form, ruleName: safeName(`${name}-schedule`) });
  };

  const submit = (event) => {
    event.preventDefault();
    return action.run(async () => {
      if (kind === "schedule") await addRule(fn, { ruleName: form.ruleName, schedule: form.schedule.trim() });
      if (kind === "rule") {
        let pattern;
        try {
          pattern = JSON.stringify(JSON.parse(form.pattern));
        } catch (err) {
          throw new Error(`InvalidEventPatternException: the pattern is not JSON (${err.message}).`);
        }
        await addRule(fn, { ruleName: form.ruleName, bus: form.bus, pattern });
      }
      if (kind === "api") await addApiRoute(fn, { apiId: form.apiId, apiName: form.apiName, routeKey: form.routeKey.trim() });
      if (kind === "sqs") await addQueueMapping(fn, { queueUrl: form.queueUrl, newQueue: form.newQueue, batchSize: form.batchSize });
      if (kind === "url") await addUrl(fn, { auth: form.auth });
      await onAdded();
    }, "Trigger added.");
  };

  const Fields = { schedule: ScheduleFields, rule: RuleFields, api: ApiFields, sqs: SqsFields, url: UrlFields }[kind];
  return (
    <form onSubmit={submit}>
      <fieldset class="trigger-kinds">
        <legend class="sr-only">Kind of trigger</legend>
        {KINDS.map(([id, label]) => (
          <label key={id}><input type="radio" name="trigger-kind" value={id} checked={kind === id} onChange={() => pick(id)} /> {label}</label>
        ))}
      </fieldset>
      <div class="panel-grid trigger-form">
        <Fields form={form} set={set} {...lists} />
        <div class="panel-actions">
          <Button kind="primary" type="submit" busy={action.busy}>Add trigger</Button>
        </div>
      </div>
      <Outcome action={action} />
    </form>
  );
}
