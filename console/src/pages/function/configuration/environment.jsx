// Environment variables as an editable table, with the 4 KB budget counted as Lambda counts
// it: the UTF-8 bytes of the Variables map as compact JSON.
import { useEffect, useState } from "preact/hooks";
import { lambda } from "../../../api/client.js";
import { Button } from "../../../ui/basics.jsx";
import { Outcome, Section, fnPath, useAction, waitUpdated } from "./common.jsx";

export const ENV_LIMIT = 4096;
// Keys Lambda sets itself and refuses in a function's configuration.
const RESERVED = new Set(["_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
  "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
  "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
  "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"]);

export function envBytes(variables) {
  return new TextEncoder().encode(JSON.stringify(variables)).length;
}

let nextRow = 0;
const row = (key = "", value = "") => ({ id: ++nextRow, key, value });

export default function EnvironmentSection({ fn, refresh }) {
  const config = fn.Configuration;
  const fromServer = () => Object.entries(config.Environment?.Variables || {}).map(([k, v]) => row(k, v));
  const [rows, setRows] = useState(fromServer);
  const action = useAction();
  useEffect(() => setRows(fromServer()), [config.RevisionId]);
  const variables = Object.fromEntries(rows.filter((r) => r.key !== "").map((r) => [r.key, r.value]));
  const used = envBytes(variables);
  const keys = rows.map((r) => r.key).filter(Boolean);
  const duplicate = keys.find((k, i) => keys.indexOf(k) !== i);
  const reserved = keys.filter((k) => RESERVED.has(k));
  const problem = duplicate ? `The key ${duplicate} appears twice.`
    : reserved.length ? `Reserved keys cannot be set: ${reserved.join(", ")}.`
      : used > ENV_LIMIT ? `The variables use ${used.toLocaleString()} bytes; Lambda allows ${ENV_LIMIT.toLocaleString()}.` : "";

  const update = (id, field, value) => setRows((all) => all.map((r) => (r.id === id ? { ...r, [field]: value } : r)));

  async function save(event) {
    event.preventDefault();
    await action.run(async () => {
      await lambda("PUT", fnPath(config.FunctionName, "/configuration"), {
        body: { Environment: { Variables: variables } },
      });
      await waitUpdated(config.FunctionName);
      await refresh();
    }, "Saved.");
  }

  const percent = Math.min(100, (used / ENV_LIMIT) * 100);
  return (
    <Section id="environment" title="Environment variables">
      <form onSubmit={save}>
        <table class="table env-table">
          <caption class="sr-only">Environment variables</caption>
          <thead><tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col"><span class="sr-only">Remove</span></th></tr></thead>
          <tbody>
            {rows.length === 0 ? (
              <tr><td colSpan={3} class="empty-cell">No environment variables.</td></tr>
            ) : rows.map((r, i) => (
              <tr key={r.id}>
                <td><input aria-label={`Key ${i + 1}`} value={r.key} pattern="[a-zA-Z]([a-zA-Z0-9_])+" spellcheck={false}
                  onInput={(e) => update(r.id, "key", e.currentTarget.value)} /></td>
                <td><input aria-label={`Value ${i + 1}`} value={r.value} spellcheck={false}
                  onInput={(e) => update(r.id, "value", e.currentTarget.value)} /></td>
                <td><Button kind="link" onClick={() => setRows((all) => all.filter((x) => x.id !== r.id))}
                  aria-label={`Remove ${r.key || `variable ${i + 1}`}`}>Remove</Button></td>
              </tr>
            ))}
          </tbody>
        </table>
        <div class="env-budget">
          <div class="meter" role="meter" aria-label="Environment size" aria-valuemin="0" aria-valuemax={ENV_LIMIT} aria-valuenow={used}>
            <span class={used > ENV_LIMIT ? "meter-fill over" : "meter-fill"} style={{ width: `${percent}%` }} />
          </div>
          <span class="env-budget-text">{used.toLocaleString()} of {ENV_LIMIT.toLocaleString()} bytes used</span>
        </div>
        <p class="panel-problem" aria-live="polite">{problem}</p>
        <div class="panel-actions">
          <Button onClick={() => setRows((all) => [...all, row()])}>Add variable</Button>
          <Button kind="primary" type="submit" busy={action.busy} disabled={Boolean(problem)}>Save environment variables</Button>
        </div>
      </form>
      <Outcome action={action} />
    </Section>
  );
}
