// Asynchronous invocation: retries, maximum event age and destinations per qualifier
// (Put/Get/DeleteFunctionEventInvokeConfig).
import { useEffect, useState } from "preact/hooks";
import { lambda } from "../../../api/client.js";
import { Button, Field } from "../../../ui/basics.jsx";
import { Outcome, Section, fnPath, useAction } from "./common.jsx";
import { qualifiers } from "./concurrency.jsx";

const PATH = "/event-invoke-config";

export default function AsyncSection({ fn }) {
  const name = fn.Configuration.FunctionName;
  const [targets, setTargets] = useState([]);
  const [qualifier, setQualifier] = useState("$LATEST");
  const [saved, setSaved] = useState(undefined); // undefined: loading, null: none
  const [form, setForm] = useState({ retries: "2", age: "21600", success: "", failure: "" });
  const action = useAction();

  useEffect(() => { qualifiers(name).then(setTargets, () => setTargets([])); }, [name]);
  async function load(q) {
    setSaved(undefined);
    try {
      const doc = await lambda("GET", fnPath(name, PATH, "2019-09-25"), { query: { Qualifier: q } });
      setSaved(doc);
      setForm({
        retries: String(doc.MaximumRetryAttempts ?? 2),
        age: String(doc.MaximumEventAgeInSeconds ?? 21600),
        success: doc.DestinationConfig?.OnSuccess?.Destination || "",
        failure: doc.DestinationConfig?.OnFailure?.Destination || "",
      });
    } catch (err) {
      if (err.code !== "ResourceNotFoundException") action.setError(err);
      setSaved(null);
      setForm({ retries: "2", age: "21600", success: "", failure: "" });
    }
  }
  useEffect(() => { load(qualifier); }, [name, qualifier]);

  const set = (field) => (e) => setForm({ ...form, [field]: e.currentTarget.value });
  const save = (event) => {
    event.preventDefault();
    return action.run(async () => {
      const destinations = {};
      if (form.success.trim()) destinations.OnSuccess = { Destination: form.success.trim() };
      if (form.failure.trim()) destinations.OnFailure = { Destination: form.failure.trim() };
      await lambda("PUT", fnPath(name, PATH, "2019-09-25"), {
        query: { Qualifier: qualifier },
        body: {
          MaximumRetryAttempts: Number(form.retries),
          MaximumEventAgeInSeconds: Number(form.age),
          DestinationConfig: destinations,
        },
      });
      await load(qualifier);
    }, "Saved.");
  };
  const remove = () => action.run(async () => {
    await lambda("DELETE", fnPath(name, PATH, "2019-09-25"), { query: { Qualifier: qualifier } });
    await load(qualifier);
  }, "Removed: AWS's defaults apply (2 retries, 6 hours, no destinations).");

  return (
    <Section id="async" title="Asynchronous invocation"
      description={saved === null ? "Not configured for this qualifier: 2 retries, events kept 6 hours, no destinations." : " "}>
      <form class="panel-grid" onSubmit={save}>
        <Field as="select" label="Qualifier" value={qualifier} onChange={(e) => setQualifier(e.currentTarget.value)}>
          <option value="$LATEST">$LATEST</option>
          {targets.map((t) => <option value={t.value}>{t.label}</option>)}
        </Field>
        <Field label="Retry attempts" type="number" min="0" max="2" step="1" required value={form.retries} onInput={set("retries")} hint="0 – 2" />
        <Field label="Maximum event age (seconds)" type="number" min="60" max="21600" step="1" required value={form.age} onInput={set("age")} hint="60 – 21,600" />
        <Field class="wide" label="On-success destination ARN" value={form.success} onInput={set("success")} placeholder="arn:aws:sqs:… / arn:aws:lambda:… / arn:aws:events:…" spellcheck={false} />
        <Field class="wide" label="On-failure destination ARN" value={form.failure} onInput={set("failure")} placeholder="arn:aws:sqs:… / arn:aws:lambda:… / arn:aws:events:…" spellcheck={false} />
        <div class="panel-actions">
          <Button kind="primary" type="submit" busy={action.busy}>Save asynchronous configuration</Button>
          <Button onClick={remove} disabled={!saved || action.busy}>Remove</Button>
        </div>
      </form>
      <Outcome action={action} />
    </Section>
  );
}
