// The functions list: ListFunctions (every page), last hour's activity, search and sort.
import { useEffect, useMemo, useState } from "preact/hooks";
import { lambda } from "../api/client.js";
import { getConfiguration } from "../api/functions.js";
import { lastHourActivity } from "../api/metrics.js";
import { Link, navigate } from "../router.jsx";
import { Button, ErrorBanner, Loading, Sparkline, Table } from "../ui/index.js";
import { functionPath } from "./function/index.jsx";

async function listAll() {
  const functions = [];
  let marker;
  do {
    const page = await lambda("GET", "/2015-03-31/functions/", { query: { MaxItems: 50, Marker: marker } });
    functions.push(...page.Functions);
    marker = page.NextMarker;
  } while (marker);
  return functions;
}

function ago(iso) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso ?? "";
  const seconds = Math.max(0, (Date.now() - then) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(then).toLocaleDateString();
}

// ListFunctions leaves State out (as AWS's does): each function's configuration is
// read for it, a few at a time.
async function fillStates(functions, onState) {
  const queue = functions.filter((f) => !f.State).map((f) => f.FunctionName);
  const worker = async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      try {
        const config = await getConfiguration(name);
        onState(name, config.State, config.LastUpdateStatus);
      } catch {
        onState(name, "Unknown");
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

export default function FunctionsPage() {
  const [functions, setFunctions] = useState(null);
  const [activity, setActivity] = useState({});
  const [activityError, setActivityError] = useState(null);
  const [error, setError] = useState(null);
  const [search, setSearch] = useState("");
  const load = async () => {
    setError(null);
    try {
      const list = await listAll();
      setFunctions(list);
      fillStates(list, (name, state) => setFunctions((all) => all?.map((f) => (f.FunctionName === name ? { ...f, State: state } : f))));
      try {
        setActivity(list.length ? await lastHourActivity(list.map((f) => f.FunctionName)) : {});
        setActivityError(null);
      } catch (err) {
        setActivityError(err);
      }
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    load();
  }, []);
  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return (functions ?? []).filter((f) => !needle || f.FunctionName.toLowerCase().includes(needle) || (f.Runtime ?? "").includes(needle));
  }, [functions, search]);
  const total = (name, key) => (activity[name] ? activity[name][key].reduce((a, b) => a + b, 0) : -1);
  const columns = [
    { id: "name", label: "Function name", value: (f) => f.FunctionName, render: (f) => <Link href={functionPath(f.FunctionName)}>{f.FunctionName}</Link> },
    { id: "runtime", label: "Runtime", value: (f) => f.Runtime ?? f.PackageType },
    { id: "memory", label: "Memory", align: "right", value: (f) => f.MemorySize, render: (f) => `${f.MemorySize} MB` },
    { id: "modified", label: "Last modified", value: (f) => f.LastModified, render: (f) => <time dateTime={f.LastModified} title={f.LastModified}>{ago(f.LastModified)}</time> },
    { id: "state", label: "State", value: (f) => f.State ?? "", render: (f) => <span class={`state state-${(f.State ?? "").toLowerCase()}`}>{f.State ?? "…"}</span> },
    { id: "invocations", label: "Invocations (1 h)", value: (f) => total(f.FunctionName, "invocations"), render: (f) => <Sparkline values={activity[f.FunctionName]?.invocations} label={`${f.FunctionName}: invocations in the last hour`} /> },
    { id: "errors", label: "Errors (1 h)", value: (f) => total(f.FunctionName, "errors"), render: (f) => <Sparkline kind="errors" values={activity[f.FunctionName]?.errors} label={`${f.FunctionName}: errors in the last hour`} /> },
  ];
  return (
    <section class="page">
      <div class="page-head">
        <h1>Functions</h1>
        <Button kind="primary" onClick={() => navigate("/create")}>Create function</Button>
      </div>
      <ErrorBanner error={error} onRetry={load} />
      {activityError ? <ErrorBanner error={activityError} /> : null}
      {functions === null ? (
        error ? null : <Loading label="Loading functions…" height="16rem" />
      ) : functions.length === 0 ? (
        <div class="card empty">
          <h2>No functions yet</h2>
          <p>Write a handler in the browser or upload a .zip package.</p>
          <Button kind="primary" onClick={() => navigate("/create")}>Create your first function</Button>
        </div>
      ) : (
        <>
          <div class="toolbar">
            <label class="sr-only" for="fn-search">Search functions</label>
            <input id="fn-search" class="search" type="search" placeholder="Search by name or runtime" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
            <span class="muted">{shown.length} of {functions.length}</span>
            <span class="grow" />
            <Button kind="ghost" onClick={load}>Refresh</Button>
          </div>
          <Table
            caption="Functions"
            columns={columns}
            rows={shown}
            rowKey={(f) => f.FunctionArn}
            initialSort={{ id: "name", dir: 1 }}
            empty={`No function matches “${search}”.`}
          />
        </>
      )}
    </section>
  );
}
