// A function's page: GetFunction once, then the tab the URL names.
import { useCallback, useEffect, useState } from "preact/hooks";
import { lambda } from "../../api/client.js";
import { Link, navigate } from "../../router.jsx";
import { ErrorBanner, Loading, TabPanel, Tabs } from "../../ui/index.js";
import CodeTab from "./code.jsx";
import ConfigurationTab from "./configuration.jsx";
import LogsTab from "./logs.jsx";
import MonitorTab from "./monitor.jsx";
import TestTab from "./test.jsx";
import TriggersTab from "./triggers.jsx";
import VersionsTab from "./versions.jsx";

const TABS = [
  { id: "code", label: "Code", component: CodeTab },
  { id: "test", label: "Test", component: TestTab },
  { id: "configuration", label: "Configuration", component: ConfigurationTab },
  { id: "triggers", label: "Triggers", component: TriggersTab },
  { id: "versions", label: "Versions", component: VersionsTab },
  { id: "monitor", label: "Monitor", component: MonitorTab },
  { id: "logs", label: "Logs", component: LogsTab },
];

export function functionPath(name, tab = "code") {
  return `/functions/${encodeURIComponent(name)}/${tab}`;
}

export default function FunctionPage({ name, tab }) {
  const [fn, setFn] = useState(null);
  const [error, setError] = useState(null);
  const refresh = useCallback(async () => {
    try {
      const doc = await lambda("GET", `/2015-03-31/functions/${encodeURIComponent(name)}`);
      setFn(doc);
      setError(null);
      return doc;
    } catch (err) {
      setError(err);
      return null;
    }
  }, [name]);
  useEffect(() => {
    refresh();
  }, [refresh]);
  const current = TABS.find((t) => t.id === tab) ?? TABS[0];
  const Component = current.component;
  const config = fn?.Configuration;
  return (
    <section class="page function-page">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/">Functions</Link> <span aria-hidden="true">/</span> <span>{name}</span>
      </nav>
      <div class="page-head">
        <h1>{name}</h1>
        <dl class="facts" aria-label="Summary">
          <div><dt>Runtime</dt><dd>{config?.Runtime ?? (config?.PackageType === "Image" ? "image" : "—")}</dd></div>
          <div><dt>Memory</dt><dd>{config ? `${config.MemorySize} MB` : "—"}</dd></div>
          <div><dt>State</dt><dd><span class={`state state-${(config?.State ?? "").toLowerCase()}`}>{config?.State ?? "—"}</span></dd></div>
          <div><dt>Last update</dt><dd>{config?.LastUpdateStatus ?? "—"}</dd></div>
        </dl>
      </div>
      <Tabs
        label="Function"
        idPrefix="fn-tab"
        current={current.id}
        tabs={TABS.map((t) => ({ ...t, href: `/console${functionPath(name, t.id)}` }))}
        onSelect={(id) => navigate(functionPath(name, id))}
      />
      <TabPanel idPrefix="fn-tab" current={current.id}>
        {error && !fn ? <ErrorBanner error={error} onRetry={refresh} /> : null}
        {fn ? <Component key={current.id} fn={fn} refresh={refresh} /> : error ? null : <Loading label="Loading the function…" height="24rem" />}
      </TabPanel>
    </section>
  );
}
