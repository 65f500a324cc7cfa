// The function URL: create, update or delete it, with auth type, CORS and invoke mode.
import { useEffect, useState } from "preact/hooks";
import { lambda } from "../../../api/client.js";
import { Button, Field } from "../../../ui/basics.jsx";
import { Outcome, Section, fnPath, policyChanged, useAction } from "./common.jsx";

const URL_VERSION = "2021-10-31";
export const PUBLIC_SID = "FunctionURLAllowPublicAccess";

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

// The same URL on the main port, for clients that cannot resolve *.localhost names (loam's
// http/url_ids.py): /_loam/url/<url-id>/ on the origin serving this console. Null when the
// FunctionUrl does not have loam's shape.
export function pathUrl(functionUrl) {
  const id = /^https?:\/\/([a-z0-9]{32})\.lambda-url\./.exec(functionUrl || "")?.[1];
  return id ? `${location.origin}/_loam/url/${id}/` : null;
}

// Both forms of a function URL, as links.
export function UrlLinks({ url }) {
  const byPath = pathUrl(url);
  return (
    <span class="url-links">
      <a href={url} target="_blank" rel="noopener noreferrer">{url}</a>
      {byPath ? <> <span class="muted">or, without wildcard DNS,</span> <a href={byPath} target="_blank" rel="noopener noreferrer">{byPath}</a></> : null}
    </span>
  );
}

export async function getUrlConfig(name) {
  try {
    return await lambda("GET", fnPath(name, "/url", URL_VERSION));
  } catch (err) {
    if (err.code === "ResourceNotFoundException") return null;
    throw err;
  }
}

// Anyone may call a NONE-auth URL only where the policy says so; as AWS's console does, the
// statement is added with the URL.
export async function allowPublicUrl(name) {
  try {
    await lambda("POST", fnPath(name, "/policy"), {
      body: {
        StatementId: PUBLIC_SID, Action: "lambda:InvokeFunctionUrl", Principal: "*",
        FunctionUrlAuthType: "NONE",
      },
    });
  } catch (err) {
    if (err.code !== "ResourceConflictException") throw err; // already there
  }
}

export async function deleteUrl(name) {
  await lambda("DELETE", fnPath(name, "/url", URL_VERSION));
  await removePublicUrl(name);
}

async function removePublicUrl(name) {
  try {
    await lambda("DELETE", fnPath(name, `/policy/${PUBLIC_SID}`));
  } catch (err) {
    if (err.code !== "ResourceNotFoundException") throw err;
  }
}

function formOf(doc) {
  const cors = doc?.Cors || {};
  return {
    auth: doc?.AuthType || "NONE",
    mode: doc?.InvokeMode || "BUFFERED",
    origins: (cors.AllowOrigins || []).join(", "),
    methods: (cors.AllowMethods || []).join(", "),
    headers: (cors.AllowHeaders || []).join(", "),
    expose: (cors.ExposeHeaders || []).join(", "),
    maxAge: cors.MaxAge != null ? String(cors.MaxAge) : "",
    credentials: Boolean(cors.AllowCredentials),
  };
}

export default function UrlSection({ fn }) {
  const name = fn.Configuration.FunctionName;
  const [doc, setDoc] = useState(undefined);
  const [form, setForm] = useState(formOf(null));
  const action = useAction();

  async function load() {
    const found = await getUrlConfig(name);
    setDoc(found);
    setForm(formOf(found));
  }
  useEffect(() => { load().catch(action.setError); }, [name]);

  const set = (field) => (e) => setForm({ ...form, [field]: e.currentTarget.type === "checkbox" ? e.currentTarget.checked : e.currentTarget.value });
  const save = (event) => {
    event.preventDefault();
    return action.run(async () => {
      const cors = {};
      if (list(form.origins).length) cors.AllowOrigins = list(form.origins);
      if (list(form.methods).length) cors.AllowMethods = list(form.methods);
      if (list(form.headers).length) cors.AllowHeaders = list(form.headers);
      if (list(form.expose).length) cors.ExposeHeaders = list(form.expose);
      if (form.maxAge !== "") cors.MaxAge = Number(form.maxAge);
      if (form.credentials) cors.AllowCredentials = true;
      const body = { AuthType: form.auth, InvokeMode: form.mode, Cors: cors };
      await lambda(doc ? "PUT" : "POST", fnPath(name, "/url", URL_VERSION), { body });
      if (form.auth === "NONE") await allowPublicUrl(name);
      else await removePublicUrl(name);
      await load();
      policyChanged();
    }, doc ? "Function URL updated." : "Function URL created.");
  };
  const remove = () => action.run(async () => {
    await deleteUrl(name);
    await load();
    policyChanged();
  }, "Function URL deleted.");

  return (
    <Section id="url" title="Function URL">
      <p class="panel-description url-line">
        {doc === undefined ? "Loading…" : doc
          ? <>URL: <UrlLinks url={doc.FunctionUrl} /></>
          : "No function URL."}
      </p>
      <form class="panel-grid" onSubmit={save}>
        <Field as="select" label="Auth type" value={form.auth} onChange={set("auth")}
          hint={form.auth === "NONE" ? "Public: the policy statement FunctionURLAllowPublicAccess is added." : "Callers sign with SigV4 (lambda-url)."}>
          <option value="NONE">NONE</option>
          <option value="AWS_IAM">AWS_IAM</option>
        </Field>
        <Field as="select" label="Invoke mode" value={form.mode} onChange={set("mode")}>
          <option value="BUFFERED">BUFFERED</option>
          <option value="RESPONSE_STREAM">RESPONSE_STREAM</option>
        </Field>
        <Field label="CORS allowed origins" value={form.origins} onInput={set("origins")} placeholder="https://example.com, *" hint="Comma-separated; empty for no CORS." />
        <Field label="CORS allowed methods" value={form.methods} onInput={set("methods")} placeholder="GET, POST" />
        <Field label="CORS allowed headers" value={form.headers} onInput={set("headers")} placeholder="content-type" />
        <Field label="CORS exposed headers" value={form.expose} onInput={set("expose")} />
        <Field label="CORS max age (seconds)" type="number" min="0" max="86400" value={form.maxAge} onInput={set("maxAge")} />
        <div class="field checkbox-field">
          <label><input type="checkbox" checked={form.credentials} onChange={set("credentials")} /> CORS allow credentials</label>
        </div>
        <div class="panel-actions">
          <Button kind="primary" type="submit" busy={action.busy}>{doc ? "Update function URL" : "Create function URL"}</Button>
          <Button onClick={remove} disabled={!doc || action.busy}>Delete function URL</Button>
        </div>
      </form>
      <Outcome action={action} />
    </Section>
  );
}
