// Layers: the ones attached (in merge order) and adding one by ARN or from ListLayers /
// ListLayerVersions. Saved with UpdateFunctionConfiguration's Layers list.
import { useEffect, useState } from "preact/hooks";
import { lambda } from "../../../api/client.js";
import { Button, Field } from "../../../ui/basics.jsx";
import { Outcome, Section, fnPath, useAction, waitUpdated } from "./common.jsx";

const MAX_LAYERS = 5;

export default function LayersSection({ fn, refresh }) {
  const config = fn.Configuration;
  const attached = (config.Layers || []).map((l) => l.Arn);
  const [layers, setLayers] = useState([]);
  const [layer, setLayer] = useState("");
  const [versions, setVersions] = useState([]);
  const [arn, setArn] = useState("");
  const action = useAction();

  useEffect(() => {
    lambda("GET", "/2018-10-31/layers").then((a) => {
      setLayers(a.Layers || []);
      setLayer((a.Layers || [])[0]?.LayerName || "");
    }, action.setError);
  }, []);
  useEffect(() => {
    if (!layer) return;
    lambda("GET", `/2018-10-31/layers/${encodeURIComponent(layer)}/versions`).then((a) => {
      setVersions(a.LayerVersions || []);
      setArn((a.LayerVersions || [])[0]?.LayerVersionArn || "");
    }, action.setError);
  }, [layer]);

  const save = (list, doneText) => action.run(async () => {
    await lambda("PUT", fnPath(config.FunctionName, "/configuration"), { body: { Layers: list } });
    await waitUpdated(config.FunctionName);
    await refresh();
  }, doneText);
  const add = (event) => {
    event.preventDefault();
    return save([...attached, arn.trim()], "Layer added.");
  };

  return (
    <Section id="layers" title="Layers" description="Merged in this order into /opt.">
      <table class="table">
        <caption class="sr-only">Attached layers</caption>
        <thead><tr><th scope="col">Order</th><th scope="col">Layer version ARN</th><th scope="col" class="num">Size</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {attached.length === 0 ? <tr><td colSpan={4} class="empty-cell">No layers.</td></tr>
            : (config.Layers || []).map((l, i) => (
              <tr key={l.Arn}>
                <td>{i + 1}</td>
                <td class="mono">{l.Arn}</td>
                <td class="num">{l.CodeSize != null ? `${(l.CodeSize / 1024).toFixed(1)} KB` : ""}</td>
                <td><Button kind="link" aria-label={`Remove layer ${l.Arn}`} onClick={() => save(attached.filter((a) => a !== l.Arn), "Layer removed.")}>Remove</Button></td>
              </tr>
            ))}
        </tbody>
      </table>
      <form class="panel-grid" onSubmit={add}>
        <Field as="select" label="Layer" value={layer} onChange={(e) => setLayer(e.currentTarget.value)} disabled={!layers.length}>
          {layers.length ? layers.map((l) => <option value={l.LayerName}>{l.LayerName}</option>) : <option value="">No layers published</option>}
        </Field>
        <Field as="select" label="Version" value={arn} onChange={(e) => setArn(e.currentTarget.value)} disabled={!versions.length}>
          {versions.map((v) => <option value={v.LayerVersionArn}>{v.Version}{v.Description ? ` — ${v.Description}` : ""}</option>)}
        </Field>
        <Field class="wide" label="Layer version ARN" value={arn} onInput={(e) => setArn(e.currentTarget.value)}
          placeholder="arn:aws:lambda:us-east-1:123456789012:layer:name:1" spellcheck={false} required />
        <div class="panel-actions">
          <Button kind="primary" type="submit" busy={action.busy} disabled={attached.length >= MAX_LAYERS || !arn.trim()}>Add layer</Button>
        </div>
      </form>
      <Outcome action={action} />
    </Section>
  );
}
