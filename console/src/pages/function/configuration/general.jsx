// Memory, timeout and ephemeral storage: one UpdateFunctionConfiguration, then wait for it.
import { useEffect, useState } from "preact/hooks";
import { lambda } from "../../../api/client.js";
import { Button, Field } from "../../../ui/basics.jsx";
import { Outcome, Section, fnPath, useAction, waitUpdated } from "./common.jsx";

export default function GeneralSection({ fn, refresh }) {
  const config = fn.Configuration;
  const [memory, setMemory] = useState(String(config.MemorySize));
  const [timeout, setTimeoutValue] = useState(String(config.Timeout));
  const [storage, setStorage] = useState(String(config.EphemeralStorage?.Size ?? 512));
  const [description, setDescription] = useState(config.Description || "");
  const action = useAction();
  // A save (here or in another section) brings a new revision: show what the server holds.
  useEffect(() => {
    setMemory(String(config.MemorySize));
    setTimeoutValue(String(config.Timeout));
    setStorage(String(config.EphemeralStorage?.Size ?? 512));
    setDescription(config.Description || "");
  }, [config.RevisionId]);

  async function save(event) {
    event.preventDefault();
    await action.run(async () => {
      await lambda("PUT", fnPath(config.FunctionName, "/configuration"), {
        body: {
          MemorySize: Number(memory),
          Timeout: Number(timeout),
          EphemeralStorage: { Size: Number(storage) },
          Description: description,
        },
      });
      await waitUpdated(config.FunctionName);
      await refresh();
    }, "Saved.");
  }

  return (
    <Section id="general" title="General configuration">
      <form class="panel-grid" onSubmit={save}>
        <Field label="Memory (MB)" type="number" min="128" max="10240" step="1" required
          value={memory} onInput={(e) => setMemory(e.currentTarget.value)}
          hint="128 – 10,240 MB; CPU share follows memory." />
        <Field label="Timeout (seconds)" type="number" min="1" max="900" step="1" required
          value={timeout} onInput={(e) => setTimeoutValue(e.currentTarget.value)} hint="1 – 900 s." />
        <Field label="Ephemeral storage (MB)" type="number" min="512" max="10240" step="1" required
          value={storage} onInput={(e) => setStorage(e.currentTarget.value)} hint="/tmp size: 512 – 10,240 MB." />
        <Field label="Description" maxLength={256} value={description}
          onInput={(e) => setDescription(e.currentTarget.value)} />
        <div class="panel-actions">
          <Button kind="primary" type="submit" busy={action.busy}>Save general configuration</Button>
        </div>
      </form>
      <Outcome action={action} />
    </Section>
  );
}
