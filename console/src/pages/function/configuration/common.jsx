// Pieces the Configuration, Triggers and Versions tabs share: paths, ARNs, waiting for an
// update to settle, and a section that saves on its own with its own error banner.
import { useState } from "preact/hooks";
import { lambda } from "../../../api/client.js";
import { ErrorBanner } from "../../../ui/basics.jsx";
import "../../../styles/panels.css";

export function fnPath(name, suffix = "", version = "2015-03-31") {
  return `/${version}/functions/${encodeURIComponent(name)}${suffix}`;
}

// "arn:aws:lambda:us-east-1:123456789012:function:name" → its parts.
export function arnParts(arn) {
  const [, partition, service, region, account] = arn.split(":");
  return { partition, service, region, account };
}

// Poll until a configuration or code update has finished; throws with the reason if it failed.
export async function waitUpdated(name, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const config = await lambda("GET", fnPath(name, "/configuration"));
    if (config.LastUpdateStatus === "Failed") {
      throw new Error(`${config.LastUpdateStatusReasonCode || "UpdateFailed"}: ${config.LastUpdateStatusReason || "the update failed"}`);
    }
    if (config.LastUpdateStatus !== "InProgress" && config.State !== "Pending") return config;
    if (Date.now() > deadline) throw new Error("Timeout: the update is still in progress.");
    await new Promise((r) => setTimeout(r, 400));
  }
}

export function errorText(err) {
  return err?.message || String(err);
}

// A unit of work with its own busy flag and error: `run(async () => ...)`.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState("");
  async function run(work, doneText = "") {
    setBusy(true);
    setError(null);
    setDone("");
    try {
      const out = await work();
      setDone(typeof doneText === "function" ? doneText(out) : doneText);
      return out;
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, done, run, setError };
}

// The error banner and the outcome line of one section; the line keeps its place so nothing jumps.
export function Outcome({ action }) {
  return (
    <div class="panel-outcome">
      <ErrorBanner error={action.error} onDismiss={() => action.setError(null)} />
      {action.error ? null : (
        <p class="panel-done" role="status" aria-live="polite">{action.busy ? "Working…" : action.done}</p>
      )}
    </div>
  );
}

export function Section({ title, id, description, children }) {
  const headingId = `${id}-title`;
  return (
    <section class="panel" id={id} aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {description ? <p class="panel-description">{description}</p> : null}
      {children}
    </section>
  );
}

// The statement id the console gives permissions it adds for a trigger: readable and unique.
export function statementId(prefix) {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${prefix}-${random[0].toString(36)}${random[1].toString(36)}`.slice(0, 100);
}

// The function's resource policy statements ([] when it has none).
export async function policyStatements(name) {
  try {
    const answer = await lambda("GET", fnPath(name, "/policy"));
    return JSON.parse(answer.Policy).Statement || [];
  } catch (err) {
    if (err.code === "ResourceNotFoundException") return [];
    throw err;
  }
}

export function sourceArnOf(statement) {
  const condition = statement.Condition || {};
  for (const test of Object.values(condition)) {
    if (test && test["AWS:SourceArn"]) return test["AWS:SourceArn"];
  }
  return null;
}

export function principalOf(statement) {
  const p = statement.Principal;
  if (typeof p === "string") return p;
  return p?.Service || p?.AWS || "*";
}

// Remove every statement of the function's policy that lets `principal` in from `sourceArn`.
export async function removePermissionsFor(name, principal, sourceArn) {
  for (const statement of await policyStatements(name)) {
    if (principalOf(statement) === principal && sourceArnOf(statement) === sourceArn) {
      await lambda("DELETE", fnPath(name, `/policy/${encodeURIComponent(statement.Sid)}`));
    }
  }
}

// Sections that change the resource policy tell the Permissions section to read it again.
const POLICY_EVENT = "loam:policy-changed";
export function policyChanged() {
  window.dispatchEvent(new Event(POLICY_EVENT));
}
export function onPolicyChanged(listener) {
  window.addEventListener(POLICY_EVENT, listener);
  return () => window.removeEventListener(POLICY_EVENT, listener);
}
