// Create function: author from scratch (a starter handler zipped here) or upload a
// .zip; then wait for Active with visible progress and open the function.
import { useEffect, useState } from "preact/hooks";
import { lambda, listRuntimes } from "../api/client.js";
import { toBase64, zipFiles } from "../api/bytes.js";
import { waitUntil } from "../api/functions.js";
import { Link, navigate } from "../router.jsx";
import { sortRuntimes, starter } from "../starters.js";
import { Button, ErrorBanner, Field, Spinner, toast } from "../ui/index.js";
import { functionPath } from "./function/index.jsx";

const DEFAULT_ACCOUNT = "123456789012";

// The account's id from any function it already has (loam's default otherwise).
async function guessRole() {
  try {
    const page = await lambda("GET", "/2015-03-31/functions/", { query: { MaxItems: 1 } });
    const arn = page.Functions[0]?.FunctionArn;
    const account = arn ? arn.split(":")[4] : DEFAULT_ACCOUNT;
    return page.Functions[0]?.Role ?? `arn:aws:iam::${account}:role/lambda-role`;
  } catch {
    return `arn:aws:iam::${DEFAULT_ACCOUNT}:role/lambda-role`;
  }
}

function Steps({ steps }) {
  return (
    <ol class="steps" aria-live="polite">
      {steps.map((step) => (
        <li key={step.label} class={step.status}>
          {step.status === "active" ? <Spinner small /> : <span aria-hidden="true">{step.status === "done" ? "✓" : step.status === "failed" ? "✗" : "○"}</span>}
          <span>{step.label}</span>
        </li>
      ))}
    </ol>
  );
}

export default function CreatePage() {
  const [mode, setMode] = useState("scratch");
  const [runtimes, setRuntimes] = useState(null);
  const [form, setForm] = useState({ name: "", runtime: "", architecture: "x86_64", memory: 128, timeout: 3, role: "", handler: "" });
  const [upload, setUpload] = useState(null);
  const [steps, setSteps] = useState(null);
  const [error, setError] = useState(null);
  const set = (key) => (event) => setForm((f) => ({ ...f, [key]: event.currentTarget.value }));
  useEffect(() => {
    listRuntimes()
      .then((list) => {
        const sorted = sortRuntimes(list);
        setRuntimes(sorted);
        setForm((f) => ({ ...f, runtime: f.runtime || (sorted.includes("python3.12") ? "python3.12" : sorted[0]) }));
      })
      .catch(setError);
    guessRole().then((role) => setForm((f) => ({ ...f, role: f.role || role })));
  }, []);
  const start = form.runtime ? starter(form.runtime) : null;
  const handler = mode === "scratch" ? start?.handler ?? "" : form.handler || start?.handler || "";
  const busy = steps !== null && !error;

  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    const plan = [
      { label: mode === "scratch" ? "Package the starter code" : `Read ${upload?.name ?? "the .zip"}`, status: "active" },
      { label: "Create the function (CreateFunction)", status: "pending" },
      { label: "Wait until it is Active", status: "pending" },
    ];
    const progress = (index, status, label) => {
      plan[index] = { label: label ?? plan[index].label, status };
      if (status === "done" && plan[index + 1]) plan[index + 1] = { ...plan[index + 1], status: "active" };
      setSteps([...plan]);
    };
    setSteps([...plan]);
    let at = 0;
    try {
      const zip = mode === "scratch" ? zipFiles(start.files) : new Uint8Array(await upload.arrayBuffer());
      progress(at++, "done");
      await lambda("POST", "/2015-03-31/functions", {
        body: {
          FunctionName: form.name.trim(),
          Runtime: form.runtime,
          Role: form.role.trim(),
          Handler: handler,
          Architectures: [form.architecture],
          MemorySize: Number(form.memory),
          Timeout: Number(form.timeout),
          Code: { ZipFile: toBase64(zip) },
        },
      });
      progress(at++, "done");
      await waitUntil(form.name.trim(), "active", (c) => progress(2, "active", `Wait until it is Active (State: ${c.State})`));
      progress(at++, "done", "Active");
      toast(`Function ${form.name.trim()} created`);
      navigate(functionPath(form.name.trim()));
    } catch (err) {
      progress(at, "failed");
      setError(err);
    }
  };

  return (
    <section class="page create-form">
      <nav class="crumbs" aria-label="Breadcrumb"><Link href="/">Functions</Link> <span aria-hidden="true">/</span> <span>Create</span></nav>
      <h1>Create function</h1>
      <form onSubmit={submit}>
        <fieldset class="choice" disabled={busy}>
          <legend class="sr-only">How to start</legend>
          <label>
            <input type="radio" name="mode" value="scratch" checked={mode === "scratch"} onChange={() => setMode("scratch")} />
            <span><strong>Author from scratch</strong><span class="muted">Start with a small handler and edit it here.</span></span>
          </label>
          <label>
            <input type="radio" name="mode" value="zip" checked={mode === "zip"} onChange={() => setMode("zip")} />
            <span><strong>Upload a .zip</strong><span class="muted">A deployment package you built.</span></span>
          </label>
        </fieldset>
        <fieldset class="card" disabled={busy}>
          <legend class="sr-only">Basic information</legend>
          <Field label="Function name" required maxLength={64} pattern="[A-Za-z0-9_\-]+" value={form.name} onInput={set("name")} hint="Letters, numbers, hyphens and underscores; at most 64." autocomplete="off" />
          <div class="row">
            <Field as="select" label="Runtime" value={form.runtime} onChange={set("runtime")} required disabled={!runtimes}>
              {(runtimes ?? []).map((r) => <option key={r} value={r}>{r}</option>)}
            </Field>
            <Field as="select" label="Architecture" value={form.architecture} onChange={set("architecture")}>
              <option value="x86_64">x86_64</option>
              <option value="arm64">arm64</option>
            </Field>
          </div>
          <div class="row">
            <Field label="Memory (MB)" type="number" min={128} max={10240} step={1} required value={form.memory} onInput={set("memory")} />
            <Field label="Timeout (seconds)" type="number" min={1} max={900} step={1} required value={form.timeout} onInput={set("timeout")} />
          </div>
          {mode === "zip" ? (
            <div class="row">
              <Field label="Deployment package (.zip)" type="file" accept=".zip,application/zip" required onChange={(e) => setUpload(e.currentTarget.files[0] ?? null)} />
              <Field label="Handler" required value={handler} onInput={set("handler")} hint="file.function, e.g. index.handler" />
            </div>
          ) : (
            <p class="muted">Starts with <code>{start ? Object.keys(start.files)[0] : "…"}</code>, handler <code>{handler || "…"}</code>.</p>
          )}
          <Field label="Execution role ARN" required value={form.role} onInput={set("role")} hint="loam accepts any role ARN; it is reported as AWS reports it." />
        </fieldset>
        <div class="toolbar">
          <Button kind="primary" type="submit" busy={busy} disabled={!form.runtime}>Create function</Button>
          <Link href="/">Cancel</Link>
        </div>
        <div aria-live="polite">{steps ? <Steps steps={steps} /> : null}</div>
        <ErrorBanner error={error} />
      </form>
    </section>
  );
}
