// Reserved concurrency (Put/DeleteFunctionConcurrency) and provisioned concurrency per
// version or alias (Put/Get/List/DeleteProvisionedConcurrencyConfig), with each one's status.
import { useEffect, useState } from "preact/hooks";
import { lambda } from "../../../api/client.js";
import { Button, Field, Loading } from "../../../ui/basics.jsx";
import { Outcome, Section, fnPath, useAction } from "./common.jsx";

export function ReservedSection({ fn, refresh }) {
  const name = fn.Configuration.FunctionName;
  const current = fn.Concurrency?.ReservedConcurrentExecutions;
  const [value, setValue] = useState(current == null ? "" : String(current));
  const [account, setAccount] = useState(null);
  const action = useAction();
  useEffect(() => {
    lambda("GET", "/2016-08-19/account-settings/").then(setAccount, () => setAccount(null));
  }, [current]);

  const save = (event) => {
    event.preventDefault();
    return action.run(async () => {
      await lambda("PUT", fnPath(name, "/concurrency", "2017-10-31"), {
        body: { ReservedConcurrentExecutions: Number(value) },
      });
      await refresh();
    }, "Saved.");
  };
  const remove = () => action.run(async () => {
    await lambda("DELETE", fnPath(name, "/concurrency", "2017-10-31"));
    setValue("");
    await refresh();
  }, "Reservation removed: the function uses the unreserved pool.");

  const limits = account?.AccountLimit;
  return (
    <Section id="reserved" title="Reserved concurrency"
      description={current == null
        ? "Not reserved: the function draws on the account's unreserved concurrency."
        : `${current} concurrent executions reserved${current === 0 ? " (the function is throttled: 0 reserved)" : ""}.`}>
      <form class="panel-grid" onSubmit={save}>
        <Field label="Reserved concurrent executions" type="number" min="0" step="1" required
          value={value} onInput={(e) => setValue(e.currentTarget.value)}
          hint={limits ? `Account limit ${limits.ConcurrentExecutions}, unreserved ${limits.UnreservedConcurrentExecutions}.` : " "} />
        <div class="panel-actions">
          <Button kind="primary" type="submit" busy={action.busy}>Save reservation</Button>
          <Button onClick={remove} disabled={current == null || action.busy}>Remove reservation</Button>
        </div>
      </form>
      <Outcome action={action} />
    </Section>
  );
}

// Versions and aliases a configuration can name (never $LATEST).
export async function qualifiers(name) {
  const [versions, aliases] = await Promise.all([
    lambda("GET", fnPath(name, "/versions")),
    lambda("GET", fnPath(name, "/aliases")),
  ]);
  return [
    ...(aliases.Aliases || []).map((a) => ({ value: a.Name, label: `alias ${a.Name} → ${a.FunctionVersion}` })),
    ...(versions.Versions || []).filter((v) => v.Version !== "$LATEST")
      .map((v) => ({ value: v.Version, label: `version ${v.Version}` })),
  ];
}

export function ProvisionedSection({ fn }) {
  const name = fn.Configuration.FunctionName;
  const [configs, setConfigs] = useState(null);
  const [targets, setTargets] = useState([]);
  const [qualifier, setQualifier] = useState("");
  const [amount, setAmount] = useState("1");
  const action = useAction();

  async function load() {
    const answer = await lambda("GET", fnPath(name, "/provisioned-concurrency", "2019-09-30"), { query: { List: "ALL" } });
    setConfigs(answer.ProvisionedConcurrencyConfigs || []);
    return answer.ProvisionedConcurrencyConfigs || [];
  }
  useEffect(() => {
    action.run(async () => {
      const [, found] = await Promise.all([load(), qualifiers(name)]);
      setTargets(found);
      setQualifier((q) => q || found[0]?.value || "");
    });
  }, [name]);
  // Status moves from IN_PROGRESS to READY or FAILED as the environments start.
  useEffect(() => {
    if (!configs?.some((c) => c.Status === "IN_PROGRESS")) return undefined;
    const timer = setTimeout(() => load().catch(action.setError), 2000);
    return () => clearTimeout(timer);
  }, [configs]);

  const put = (event) => {
    event.preventDefault();
    return action.run(async () => {
      await lambda("PUT", fnPath(name, "/provisioned-concurrency", "2019-09-30"), {
        query: { Qualifier: qualifier },
        body: { ProvisionedConcurrentExecutions: Number(amount) },
      });
      await load();
    }, `Provisioned concurrency requested for ${qualifier}.`);
  };
  const remove = (q) => action.run(async () => {
    await lambda("DELETE", fnPath(name, "/provisioned-concurrency", "2019-09-30"), { query: { Qualifier: q } });
    await load();
  }, `Provisioned concurrency of ${q} removed.`);

  return (
    <Section id="provisioned" title="Provisioned concurrency"
      description="Environments kept initialised for a version or alias.">
      {configs === null ? <Loading height="4rem" /> : (
        <table class="table">
          <caption class="sr-only">Provisioned concurrency configurations</caption>
          <thead><tr><th scope="col">Qualifier</th><th scope="col" class="num">Requested</th><th scope="col" class="num">Allocated</th><th scope="col" class="num">Available</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {configs.length === 0 ? <tr><td colSpan={6} class="empty-cell">None configured.</td></tr> : configs.map((c) => {
              const q = c.FunctionArn.split(":").pop();
              return (
                <tr key={q}>
                  <td>{q}</td>
                  <td class="num">{c.RequestedProvisionedConcurrentExecutions}</td>
                  <td class="num">{c.AllocatedProvisionedConcurrentExecutions}</td>
                  <td class="num">{c.AvailableProvisionedConcurrentExecutions}</td>
                  <td><span class={`state state-${c.Status.toLowerCase()}`}>{c.Status}</span>{c.StatusReason ? ` — ${c.StatusReason}` : ""}</td>
                  <td><Button kind="link" onClick={() => remove(q)}>Remove</Button></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {targets.length === 0 && configs !== null ? (
        <p class="panel-hint">Publish a version (Versions tab) to provision concurrency: $LATEST cannot be provisioned.</p>
      ) : (
        <form class="panel-grid" onSubmit={put}>
          <Field as="select" label="Version or alias" value={qualifier} onChange={(e) => setQualifier(e.currentTarget.value)}>
            {targets.map((t) => <option value={t.value}>{t.label}</option>)}
          </Field>
          <Field label="Provisioned concurrent executions" type="number" min="1" step="1" required
            value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
          <div class="panel-actions">
            <Button kind="primary" type="submit" busy={action.busy} disabled={!qualifier}>Save provisioned concurrency</Button>
          </div>
        </form>
      )}
      <Outcome action={action} />
    </Section>
  );
}
