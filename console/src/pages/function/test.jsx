// The Test tab: saved test events (in this browser), templates, Invoke with the
// log tail, the response or error document, and the REPORT line's figures.
import { useMemo, useState } from "preact/hooks";
import { decodeBase64Text } from "../../api/bytes.js";
import { ApiError, invoke } from "../../api/client.js";
import { parseReport } from "../../api/report.js";
import { TEMPLATES } from "../../templates/index.js";
import { Button, ErrorBanner, Field, Notice, toast } from "../../ui/index.js";

// AWS keeps shareable test events in a schema registry; loam has none, so they live
// in this browser's localStorage, per region and function.
const storageKey = (fn) => `loam-console:test-events:${fn.Configuration.FunctionArn}`;

function loadEvents(fn) {
  try {
    const saved = JSON.parse(localStorage.getItem(storageKey(fn)) ?? "{}");
    return saved && typeof saved === "object" && !Array.isArray(saved) ? saved : {};
  } catch {
    return {};
  }
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

const FIGURES = [
  ["duration", "Duration", "ms"],
  ["billedDuration", "Billed Duration", "ms"],
  ["memorySize", "Memory Size", "MB"],
  ["maxMemoryUsed", "Max Memory Used", "MB"],
  ["initDuration", "Init Duration", "ms"],
];

function Result({ result }) {
  const report = parseReport(result.log);
  const failed = !!result.functionError;
  return (
    <section class="result card" aria-labelledby="result-title">
      <h2 id="result-title">
        Execution result: <span class={failed ? "status-error" : "status-ok"}>{failed ? `failed (${result.functionError})` : "succeeded"}</span>
      </h2>
      <dl class="metrics">
        {FIGURES.map(([key, label, unit]) => (
          <div class="metric" key={key}>
            <dt>{label}</dt>
            <dd>{report && report[key] !== undefined ? `${report[key]} ${unit}` : "—"}</dd>
          </div>
        ))}
      </dl>
      <h3>{failed ? "Error document" : "Response"}</h3>
      <pre class="block" aria-label={failed ? "Error document" : "Response"}>{pretty(result.body) || "(empty)"}</pre>
      <h3>Log output <span class="muted">(the last 4 KB)</span></h3>
      <pre class="block" aria-label="Log output">{result.log || "(no log tail)"}</pre>
      <p class="muted">
        Request ID <code>{result.requestId ?? report?.requestId ?? "—"}</code>
        {result.executedVersion ? <> · version <code>{result.executedVersion}</code></> : null}
      </p>
    </section>
  );
}

export default function TestTab({ fn }) {
  const [events, setEvents] = useState(() => loadEvents(fn));
  const names = useMemo(() => Object.keys(events).sort(), [events]);
  const [selected, setSelected] = useState(() => names[0] ?? "");
  const [name, setName] = useState(() => names[0] ?? "MyEvent");
  const [body, setBody] = useState(() => (names[0] ? events[names[0]] : JSON.stringify(TEMPLATES[0].event, null, 2)));
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const jsonError = useMemo(() => {
    try {
      JSON.parse(body);
      return null;
    } catch (err) {
      return `Not valid JSON: ${err.message}`;
    }
  }, [body]);

  const store = (next) => {
    localStorage.setItem(storageKey(fn), JSON.stringify(next));
    setEvents(next);
  };
  const choose = (value) => {
    setSelected(value);
    if (value.startsWith("template:")) {
      const template = TEMPLATES.find((t) => `template:${t.id}` === value);
      setBody(JSON.stringify(template.event, null, 2));
      setName(template.id.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase()));
    } else if (events[value] !== undefined) {
      setBody(events[value]);
      setName(value);
    }
  };
  const save = () => {
    const trimmed = name.trim();
    if (!trimmed || jsonError) return;
    store({ ...events, [trimmed]: body });
    setSelected(trimmed);
    toast(`Test event ${trimmed} saved`);
  };
  const remove = () => {
    const next = { ...events };
    delete next[selected];
    store(next);
    setSelected("");
    toast(`Test event ${selected} deleted`);
  };
  const run = async () => {
    if (jsonError) return;
    setBusy(true);
    setError(null);
    try {
      const answer = await invoke(fn.Configuration.FunctionName, body);
      setResult({ ...answer, log: answer.logResult ? decodeBase64Text(answer.logResult) : "" });
    } catch (err) {
      setResult(null);
      setError(err instanceof ApiError ? err : new ApiError(0, "InvokeFailed", String(err.message ?? err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="test-layout">
      <section aria-labelledby="event-title">
        <h2 id="event-title">Test event</h2>
        <Notice>Saved events are kept in this browser (localStorage) for this function only: loam has no schema registry to share them.</Notice>
        <Field as="select" label="Saved event or template" value={selected} onChange={(e) => choose(e.currentTarget.value)}>
          <option value="">{names.length ? "Choose…" : "No saved events yet"}</option>
          {names.length ? (
            <optgroup label="Saved events">
              {names.map((n) => <option key={n} value={n}>{n}</option>)}
            </optgroup>
          ) : null}
          <optgroup label="New from a template">
            {TEMPLATES.map((t) => <option key={t.id} value={`template:${t.id}`}>{t.label}</option>)}
          </optgroup>
        </Field>
        <Field label="Event name" value={name} maxLength={25} pattern="[A-Za-z0-9_\-.]+" onInput={(e) => setName(e.currentTarget.value)} />
        <Field as="textarea" label="Event JSON" class="event-field" rows={12} spellcheck={false} value={body} onInput={(e) => setBody(e.currentTarget.value)} error={jsonError} />
        <div class="toolbar">
          <Button kind="primary" onClick={run} busy={busy} disabled={!!jsonError}>Invoke</Button>
          <Button onClick={save} disabled={!!jsonError || !name.trim()}>Save</Button>
          <Button onClick={() => setBody(pretty(body))} disabled={!!jsonError}>Format</Button>
          {events[selected] !== undefined ? <Button kind="danger" onClick={remove}>Delete</Button> : null}
        </div>
      </section>
      <div aria-live="polite">
        <ErrorBanner error={error} />
        {result ? <Result result={result} /> : <p class="muted result-placeholder">Invoke the function to see its response, log tail and figures here.</p>}
      </div>
    </div>
  );
}
