// The resource-based policy: its statements (GetPolicy), AddPermission and RemovePermission.
import { useEffect, useState } from "preact/hooks";
import { lambda } from "../../../api/client.js";
import { Button, Field } from "../../../ui/basics.jsx";
import { Outcome, Section, fnPath, onPolicyChanged, policyStatements, principalOf, sourceArnOf, useAction } from "./common.jsx";

const ACTIONS = ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl", "lambda:GetFunction", "lambda:*"];
const EMPTY = { sid: "", action: ACTIONS[0], principal: "", sourceArn: "", sourceAccount: "", urlAuth: "", qualifier: "" };

function conditionText(statement) {
  return Object.entries(statement.Condition || {})
    .flatMap(([test, pairs]) => Object.entries(pairs).map(([k, v]) => `${test} ${k} = ${v}`))
    .join("; ");
}

export default function PermissionsSection({ fn }) {
  const name = fn.Configuration.FunctionName;
  const [statements, setStatements] = useState(null);
  const [form, setForm] = useState(EMPTY);
  const action = useAction();

  const load = async () => setStatements(await policyStatements(name));
  useEffect(() => { load().catch(action.setError); }, [name]);
  useEffect(() => onPolicyChanged(() => load().catch(action.setError)), [name]);

  const set = (field) => (e) => setForm({ ...form, [field]: e.currentTarget.value });
  const add = (event) => {
    event.preventDefault();
    return action.run(async () => {
      const body = { StatementId: form.sid.trim(), Action: form.action, Principal: form.principal.trim() };
      if (form.sourceArn.trim()) body.SourceArn = form.sourceArn.trim();
      if (form.sourceAccount.trim()) body.SourceAccount = form.sourceAccount.trim();
      if (form.urlAuth) body.FunctionUrlAuthType = form.urlAuth;
      await lambda("POST", fnPath(name, "/policy"), {
        body,
        query: form.qualifier.trim() ? { Qualifier: form.qualifier.trim() } : undefined,
      });
      setForm(EMPTY);
      await load();
    }, "Statement added.");
  };
  const remove = (sid) => action.run(async () => {
    await lambda("DELETE", fnPath(name, `/policy/${encodeURIComponent(sid)}`));
    await load();
  }, `Statement ${sid} removed.`);

  return (
    <Section id="permissions" title="Permissions" description="The resource-based policy: who may invoke this function.">
      <table class="table">
        <caption class="sr-only">Policy statements</caption>
        <thead><tr><th scope="col">Statement id</th><th scope="col">Principal</th><th scope="col">Action</th><th scope="col">Conditions</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {statements === null ? <tr><td colSpan={5} class="empty-cell">Loading…</td></tr>
            : statements.length === 0 ? <tr><td colSpan={5} class="empty-cell">No statements: only this account's keys can invoke the function.</td></tr>
              : statements.map((s) => (
                <tr key={s.Sid}>
                  <td class="mono">{s.Sid}</td>
                  <td>{principalOf(s)}</td>
                  <td>{[].concat(s.Action).join(", ")}</td>
                  <td class="mono small" title={sourceArnOf(s) || ""}>{conditionText(s)}</td>
                  <td><Button kind="link" aria-label={`Remove statement ${s.Sid}`} onClick={() => remove(s.Sid)}>Remove</Button></td>
                </tr>
              ))}
        </tbody>
      </table>
      <form class="panel-grid" onSubmit={add}>
        <Field label="Statement id" value={form.sid} onInput={set("sid")} required maxLength={100} pattern="[a-zA-Z0-9\-_]+" />
        <Field as="select" label="Action" value={form.action} onChange={set("action")}>
          {ACTIONS.map((a) => <option value={a}>{a}</option>)}
        </Field>
        <Field label="Principal" value={form.principal} onInput={set("principal")} required placeholder="events.amazonaws.com, 123456789012 or *" />
        <Field class="wide" label="Source ARN (optional)" value={form.sourceArn} onInput={set("sourceArn")} spellcheck={false} />
        <Field label="Source account (optional)" value={form.sourceAccount} onInput={set("sourceAccount")} />
        <Field as="select" label="Function URL auth type" value={form.urlAuth} onChange={set("urlAuth")}>
          <option value="">(none)</option>
          <option value="NONE">NONE</option>
          <option value="AWS_IAM">AWS_IAM</option>
        </Field>
        <Field label="Qualifier (optional)" value={form.qualifier} onInput={set("qualifier")} placeholder="version or alias" />
        <div class="panel-actions">
          <Button kind="primary" type="submit" busy={action.busy}>Add permission</Button>
        </div>
      </form>
      <Outcome action={action} />
    </Section>
  );
}
