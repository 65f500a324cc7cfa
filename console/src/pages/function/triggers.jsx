// The Triggers tab of a function's page. Props: { fn, refresh } (fn is GetFunction's answer).
// Lists what invokes the function (function URL, HTTP API routes, schedules, EventBridge rules,
// SQS mappings) with each one's state; adds and removes them.
import { useEffect, useState } from "preact/hooks";
import { Button, ErrorBanner, Modal } from "../../ui/index.js";
import { Outcome, Section, useAction } from "./configuration/common.jsx";
import AddTrigger from "./triggers/add.jsx";
import { loadTriggers } from "./triggers/sources.js";

const SETTLING = new Set(["Creating", "Updating", "Enabling", "Disabling", "Deleting"]);

export default function TriggersTab({ fn }) {
  const [data, setData] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const action = useAction();

  const load = async () => setData(await loadTriggers(fn));
  useEffect(() => { load().catch(action.setError); }, [fn.Configuration.FunctionArn]);
  // Mappings pass through Creating / Disabling / … on their way to a settled state.
  useEffect(() => {
    if (!data?.triggers.some((t) => SETTLING.has(t.state))) return undefined;
    const timer = setTimeout(() => load().catch(action.setError), 1500);
    return () => clearTimeout(timer);
  }, [data]);

  const remove = (trigger) => {
    setConfirm(null);
    return action.run(async () => { await trigger.remove(); await load(); }, `Removed ${trigger.kind.toLowerCase()} ${trigger.name}.`);
  };
  const toggle = (trigger) => action.run(async () => { await trigger.toggle(); await load(); },
    `${trigger.state === "Enabled" ? "Disabled" : "Enabled"} ${trigger.name}.`);

  const rows = data?.triggers || [];
  return (
    <div class="panels">
      <Section id="triggers" title="Triggers">
        {(data?.errors || []).map((e) => <ErrorBanner key={e.what} error={{ code: e.error.code || "Error", detail: `could not list ${e.what}: ${e.error.detail ?? e.error.message}` }} />)}
        <table class="table">
          <caption class="sr-only">Triggers of this function</caption>
          <thead><tr><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Details</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {data === null ? <tr><td colSpan={5} class="empty-cell">Loading…</td></tr>
              : rows.length === 0 ? <tr><td colSpan={5} class="empty-cell">No triggers yet: add one below.</td></tr>
                : rows.map((t) => (
                  <tr key={t.key}>
                    <td>{t.kind}</td>
                    <td class="mono">
                      {t.link ? <a href={t.link} target="_blank" rel="noopener noreferrer">{t.name}</a> : t.name}
                      {t.altLink ? <div class="small"><span class="muted">or </span><a href={t.altLink} target="_blank" rel="noopener noreferrer">{t.altLink}</a></div> : null}
                    </td>
                    <td class="mono small">{t.detail}</td>
                    <td><span class={`state state-${t.state.toLowerCase()}`}>{t.state}</span></td>
                    <td class="row-actions">
                      {t.toggle ? <Button kind="link" onClick={() => toggle(t)} aria-label={`${t.state === "Enabled" ? "Disable" : "Enable"} ${t.name}`}>{t.state === "Enabled" ? "Disable" : "Enable"}</Button> : null}
                      <Button kind="link" onClick={() => setConfirm(t)} aria-label={`Remove ${t.kind} ${t.name}`}>Remove</Button>
                    </td>
                  </tr>
                ))}
          </tbody>
        </table>
        <Outcome action={action} />
      </Section>
      <Section id="add-trigger" title="Add a trigger">
        <AddTrigger fn={fn} onAdded={load} />
      </Section>
      {confirm ? (
        <Modal title={`Remove ${confirm.kind.toLowerCase()}?`} onClose={() => setConfirm(null)}
          footer={<>
            <Button onClick={() => setConfirm(null)}>Cancel</Button>
            <Button kind="danger" onClick={() => remove(confirm)}>Remove</Button>
          </>}>
          <p>This removes {confirm.removes}: <strong>{confirm.name}</strong>.</p>
        </Modal>
      ) : null}
    </div>
  );
}
