// The Versions tab of a function's page. Props: { fn, refresh } (fn is GetFunction's answer).
// Versions (publish with a description), aliases (create, delete) and an alias's traffic split
// between two versions (RoutingConfig.AdditionalVersionWeights) with a weight slider.
import { useEffect, useState } from "preact/hooks";
import { lambda } from "../../api/client.js";
import { Button, Field } from "../../ui/index.js";
import { Outcome, Section, fnPath, useAction } from "./configuration/common.jsx";

function TrafficShift({ fn, alias, versions, onSaved }) {
  const name = fn.Configuration.FunctionName;
  const weights = alias.RoutingConfig?.AdditionalVersionWeights || {};
  const [secondary0] = Object.keys(weights);
  const others = versions.filter((v) => v !== alias.FunctionVersion);
  const [secondary, setSecondary] = useState(secondary0 || others[others.length - 1] || "");
  const [percent, setPercent] = useState(secondary0 ? Math.round(weights[secondary0] * 100) : 0);
  const action = useAction();
  const sliderId = `weight-${alias.Name}`;

  const save = (event) => {
    event.preventDefault();
    return action.run(async () => {
      const routing = percent > 0 && secondary ? { AdditionalVersionWeights: { [secondary]: percent / 100 } } : { AdditionalVersionWeights: {} };
      await lambda("PUT", fnPath(name, `/aliases/${encodeURIComponent(alias.Name)}`), {
        body: { FunctionVersion: alias.FunctionVersion, RoutingConfig: routing, RevisionId: alias.RevisionId },
      });
      await onSaved();
    }, "Traffic shift saved.");
  };

  if (!others.length) {
    return <p class="panel-hint">Publish another version to shift {alias.Name}'s traffic between two versions.</p>;
  }
  return (
    <form onSubmit={save} aria-label={`Traffic of alias ${alias.Name}`}>
      <div class="weights">
        <div>
          <div class="muted">Version {alias.FunctionVersion}</div>
          <output for={sliderId} aria-label={`Version ${alias.FunctionVersion} share`}>{100 - percent}%</output>
        </div>
        <div>
          <label for={sliderId} class="sr-only">Traffic weight for alias {alias.Name}</label>
          <input id={sliderId} type="range" min="0" max="100" step="1" value={percent}
            aria-valuetext={`${100 - percent}% to version ${alias.FunctionVersion}, ${percent}% to version ${secondary}`}
            onInput={(e) => setPercent(Number(e.currentTarget.value))} />
        </div>
        <div class="end">
          <Field as="select" label="Second version" value={secondary} onChange={(e) => setSecondary(e.currentTarget.value)}>
            {others.map((v) => <option value={v}>{v}</option>)}
          </Field>
          <output for={sliderId} aria-label={`Version ${secondary} share`}>{percent}%</output>
        </div>
      </div>
      <div class="panel-actions">
        <Button kind="primary" type="submit" busy={action.busy}>Save traffic of {alias.Name}</Button>
      </div>
      <Outcome action={action} />
    </form>
  );
}

export default function VersionsTab({ fn }) {
  const name = fn.Configuration.FunctionName;
  const [versions, setVersions] = useState(null);
  const [aliases, setAliases] = useState(null);
  const [description, setDescription] = useState("");
  const [aliasForm, setAliasForm] = useState({ name: "", version: "", description: "" });
  const publish = useAction();
  const aliasAction = useAction();

  async function load() {
    const [v, a] = await Promise.all([lambda("GET", fnPath(name, "/versions")), lambda("GET", fnPath(name, "/aliases"))]);
    setVersions(v.Versions || []);
    setAliases(a.Aliases || []);
    const numbers = (v.Versions || []).map((x) => x.Version).filter((x) => x !== "$LATEST");
    setAliasForm((f) => ({ ...f, version: f.version || numbers[numbers.length - 1] || "$LATEST" }));
  }
  useEffect(() => { load().catch(publish.setError); }, [name]);

  const doPublish = (event) => {
    event.preventDefault();
    const known = new Set((versions || []).map((v) => v.Version));
    return publish.run(async () => {
      const v = await lambda("POST", fnPath(name, "/versions"), { body: description ? { Description: description } : {} });
      setDescription("");
      setAliasForm((f) => ({ ...f, version: v.Version }));
      await load();
      return v;
      // Lambda publishes nothing new when code and configuration are unchanged.
    }, (v) => (known.has(v.Version)
      ? `Nothing changed since version ${v.Version}: PublishVersion returned it again.`
      : `Published version ${v.Version}.`));
  };
  const createAlias = (event) => {
    event.preventDefault();
    return aliasAction.run(async () => {
      await lambda("POST", fnPath(name, "/aliases"), {
        body: { Name: aliasForm.name.trim(), FunctionVersion: aliasForm.version, ...(aliasForm.description ? { Description: aliasForm.description } : {}) },
      });
      setAliasForm({ ...aliasForm, name: "", description: "" });
      await load();
    }, "Alias created.");
  };
  const deleteAlias = (alias) => aliasAction.run(async () => {
    await lambda("DELETE", fnPath(name, `/aliases/${encodeURIComponent(alias)}`));
    await load();
  }, `Alias ${alias} deleted.`);

  const numbers = (versions || []).map((v) => v.Version).filter((v) => v !== "$LATEST");
  const routing = (a) => {
    const w = a.RoutingConfig?.AdditionalVersionWeights || {};
    const [other] = Object.keys(w);
    return other ? `${Math.round((1 - w[other]) * 100)}% → ${a.FunctionVersion}, ${Math.round(w[other] * 100)}% → ${other}` : `100% → ${a.FunctionVersion}`;
  };
  return (
    <div class="panels">
      <Section id="versions" title="Versions">
        <table class="table">
          <caption class="sr-only">Versions</caption>
          <thead><tr><th scope="col">Version</th><th scope="col">Description</th><th scope="col">Code SHA-256</th><th scope="col">Last modified</th></tr></thead>
          <tbody>
            {versions === null ? <tr><td colSpan={4} class="empty-cell">Loading…</td></tr> : versions.map((v) => (
              <tr key={v.Version}>
                <td>{v.Version}</td>
                <td>{v.Description}</td>
                <td class="mono small">{v.CodeSha256?.slice(0, 16)}…</td>
                <td>{new Date(v.LastModified).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <form class="panel-grid" onSubmit={doPublish}>
          <Field class="wide" label="New version description" value={description} maxLength={256} onInput={(e) => setDescription(e.currentTarget.value)} />
          <div class="panel-actions"><Button kind="primary" type="submit" busy={publish.busy}>Publish new version</Button></div>
        </form>
        <Outcome action={publish} />
      </Section>
      <Section id="aliases" title="Aliases">
        <table class="table">
          <caption class="sr-only">Aliases</caption>
          <thead><tr><th scope="col">Alias</th><th scope="col">Traffic</th><th scope="col">Description</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {aliases === null ? <tr><td colSpan={4} class="empty-cell">Loading…</td></tr>
              : aliases.length === 0 ? <tr><td colSpan={4} class="empty-cell">No aliases.</td></tr>
                : aliases.map((a) => (
                  <tr key={a.Name}>
                    <td>{a.Name}</td>
                    <td>{routing(a)}</td>
                    <td>{a.Description}</td>
                    <td><Button kind="link" aria-label={`Delete alias ${a.Name}`} onClick={() => deleteAlias(a.Name)}>Delete</Button></td>
                  </tr>
                ))}
          </tbody>
        </table>
        <form class="panel-grid" onSubmit={createAlias}>
          <Field label="Alias name" value={aliasForm.name} required maxLength={128} pattern="(?!^[0-9]+$)([a-zA-Z0-9\-_]+)"
            onInput={(e) => setAliasForm({ ...aliasForm, name: e.currentTarget.value })} />
          <Field as="select" label="Alias version" value={aliasForm.version} onChange={(e) => setAliasForm({ ...aliasForm, version: e.currentTarget.value })}>
            {["$LATEST", ...numbers].map((v) => <option value={v}>{v}</option>)}
          </Field>
          <Field label="Alias description" value={aliasForm.description} maxLength={256}
            onInput={(e) => setAliasForm({ ...aliasForm, description: e.currentTarget.value })} />
          <div class="panel-actions"><Button kind="primary" type="submit" busy={aliasAction.busy}>Create alias</Button></div>
        </form>
        <Outcome action={aliasAction} />
      </Section>
      {(aliases || []).filter((a) => a.FunctionVersion !== "$LATEST").map((a) => (
        <Section key={`${a.Name}-${a.RevisionId}`} id={`traffic-${a.Name}`} title={`Traffic shift: ${a.Name}`}
          description="Weighted routing between the alias's version and one other version.">
          <TrafficShift fn={fn} alias={a} versions={numbers} onSaved={load} />
        </Section>
      ))}
    </div>
  );
}
