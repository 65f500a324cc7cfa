// The Monitor tab of a function's page. Props: { fn, refresh } (fn is GetFunction's answer).
// CloudWatch charts (GetMetricData) of the function's AWS/Lambda metrics, cold starts and cost
// over a chosen range, refreshed every 15 s while the range ends now and the browser tab is shown.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Button, ErrorBanner, Field } from "../../ui/index.js";
import { Chart, format } from "../../charts/Chart.jsx";
import { costSeries, monthToDate } from "../../charts/cost.js";
import { RANGES, lambdaQuery, metricData, onSlots, periodFor, windowFor } from "../../charts/metrics.js";
import "../../styles/panels.css";

const LIVE_MS = 15000;

const CHARTS = [
  { id: "invocations", title: "Invocations", unit: "count", series: [{ id: "inv", label: "Invocations" }], empty: "No invocations in this range", total: "sum" },
  { id: "errors", title: "Errors and throttles", unit: "count", series: [{ id: "err", label: "Errors" }, { id: "thr", label: "Throttles" }], empty: "No errors or throttles in this range", total: "sum" },
  { id: "duration", title: "Duration", unit: "ms", series: [{ id: "p50", label: "p50" }, { id: "p99", label: "p99" }], empty: "No invocations in this range", total: "max" },
  { id: "concurrency", title: "Concurrent executions", unit: "count", series: [{ id: "conc", label: "Maximum" }], empty: "Nothing ran in this range", total: "max" },
  { id: "cold", title: "Cold starts", unit: "count", series: [{ id: "cold", label: "Cold starts" }], empty: "No cold starts in this range", total: "sum" },
  { id: "cost", title: "Cost", unit: "usd", series: [{ id: "cost", label: "USD" }], empty: "No billed usage in this range", total: "sum" },
];

function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

function summary(chart, data) {
  if (!data) return "…";
  const values = data.slice(1).map((ys) => ys.filter((y) => y != null));
  if (chart.total === "sum") return chart.series.map((s, i) => `${s.label} ${format(values[i].reduce((a, b) => a + b, 0), chart.unit)}`).join(", ");
  return chart.series.map((s, i) => `${s.label} ${values[i].length ? format(Math.max(...values[i]), chart.unit) : "—"}`).join(", ");
}

async function readAll(fn, window) {
  const config = fn.Configuration;
  const name = config.FunctionName;
  const p = window.period;
  const queries = [
    lambdaQuery("inv", "Invocations", "Sum", name, p), lambdaQuery("err", "Errors", "Sum", name, p),
    lambdaQuery("thr", "Throttles", "Sum", name, p), lambdaQuery("p50", "Duration", "p50", name, p),
    lambdaQuery("p99", "Duration", "p99", name, p), lambdaQuery("conc", "ConcurrentExecutions", "Maximum", name, p),
    // One InitDuration sample per cold start: its SampleCount counts them.
    lambdaQuery("cold", "InitDuration", "SampleCount", name, p),
  ];
  const [results, cost] = await Promise.all([
    metricData(queries, window.start, window.end),
    costSeries(name, (config.Architectures || ["x86_64"])[0], window),
  ]);
  const counts = (id) => onSlots(results[id], window, 0);
  const measured = (id) => onSlots(results[id], window, null);
  const xs = counts("inv").xs;
  const costXs = [];
  const costYs = [];
  for (let t = cost.slots.start; t < cost.slots.end; t += cost.slots.period) {
    costXs.push(t);
    costYs.push(cost.byTime.has(t) ? cost.byTime.get(t) : cost.source === "computed" ? 0 : null);
  }
  return {
    invocations: [xs, counts("inv").ys],
    errors: [xs, counts("err").ys, counts("thr").ys],
    duration: [xs, measured("p50").ys, measured("p99").ys],
    concurrency: [xs, measured("conc").ys],
    cold: [xs, counts("cold").ys],
    cost: [costXs, costYs],
    notes: {
      cold: "InitDuration samples (AWS/Lambda): each environment's Init, or Restore when forked.",
      cost: cost.source === "EstimatedCharges"
        ? "EstimatedCharges (Loam/Billing): the month-to-date AWS-equivalent charge."
        : `Usage (Loam/Billing) × AWS us-east-1 prices, per ${cost.slots.period >= 86400 ? "day" : "hour"}, before the free tier.`,
    },
    costSource: cost.source,
  };
}

export default function MonitorTab({ fn }) {
  const [rangeId, setRangeId] = useState("1h");
  const [custom, setCustom] = useState(() => ({ from: toLocalInput(Date.now() - 3 * 3600000), to: toLocalInput(Date.now()) }));
  const [applied, setApplied] = useState(null);
  const [data, setData] = useState(null);
  const [month, setMonth] = useState(null);
  const [error, setError] = useState(null);
  const [updated, setUpdated] = useState(null);
  const [live, setLive] = useState(true);
  const [visible, setVisible] = useState(() => document.visibilityState !== "hidden");
  const generation = useRef(0);

  const spec = useMemo(() => {
    if (rangeId === "custom") {
      if (!applied) return null;
      const from = Date.parse(applied.from);
      const to = Date.parse(applied.to);
      return { fixed: true, from, to, period: periodFor((to - from) / 1000) };
    }
    const r = RANGES.find((x) => x.id === rangeId);
    return { fixed: false, seconds: r.seconds, period: r.period };
  }, [rangeId, applied]);

  async function load() {
    if (!spec) return;
    const mine = ++generation.current;
    const now = Date.now();
    const window = spec.fixed ? windowFor(spec.from, spec.to, spec.period) : windowFor(now - spec.seconds * 1000, now, spec.period);
    try {
      const [got, mtd] = await Promise.all([readAll(fn, window), monthToDate(fn.Configuration.FunctionName)]);
      if (mine !== generation.current) return; // a newer range was chosen meanwhile
      setData(got);
      setMonth(mtd);
      setError(null);
      setUpdated(new Date());
    } catch (err) {
      if (mine === generation.current) setError(err);
    }
  }

  useEffect(() => {
    const seen = () => setVisible(document.visibilityState !== "hidden");
    document.addEventListener("visibilitychange", seen);
    return () => document.removeEventListener("visibilitychange", seen);
  }, []);

  // A live range reads nothing while the tab is hidden, and reads at once when it is shown
  // again; a fixed or paused range does not depend on visibility at all.
  const polling = Boolean(spec && !spec.fixed && live);
  const active = visible || !polling;
  useEffect(() => {
    if (!active) return undefined;
    load();
    if (!polling) return undefined;
    const timer = setInterval(load, LIVE_MS);
    return () => clearInterval(timer);
  }, [spec, polling, active, fn.Configuration.FunctionArn]);

  const applyCustom = (event) => {
    event.preventDefault();
    if (Date.parse(custom.from) >= Date.parse(custom.to)) {
      setError({ code: "InvalidParameterValue", detail: "The start of the range must be before its end." });
      return;
    }
    setApplied({ ...custom });
  };

  return (
    <div class="monitor">
      <div class="monitor-head">
        <div class="range-picker" role="group" aria-label="Time range">
          {[...RANGES, { id: "custom", label: "Custom" }].map((r) => (
            <button key={r.id} type="button" aria-pressed={rangeId === r.id ? "true" : "false"} onClick={() => setRangeId(r.id)}>{r.label}</button>
          ))}
        </div>
        {rangeId === "custom" ? (
          <form class="custom-range" onSubmit={applyCustom}>
            <Field label="From" type="datetime-local" value={custom.from} onInput={(e) => setCustom({ ...custom, from: e.currentTarget.value })} required />
            <Field label="To" type="datetime-local" value={custom.to} onInput={(e) => setCustom({ ...custom, to: e.currentTarget.value })} required />
            <Button type="submit" kind="primary">Show</Button>
          </form>
        ) : (
          <label class="live-toggle"><input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> Live (every 15 s)</label>
        )}
        <span class="grow" />
        <span class="muted" role="status" aria-live="off">{updated ? `Updated ${updated.toLocaleTimeString()}` : "Loading…"}</span>
        <Button onClick={load} aria-label="Refresh charts">Refresh</Button>
      </div>
      <ErrorBanner error={error} onRetry={load} />
      <div class="chart-card month-card">
        <h3>
          <span>Cost this month</span>
          <span class="chart-total" data-testid="month-cost">
            {month ? `${format(month.total, "usd")} (${month.requests.toLocaleString()} request${month.requests === 1 ? "" : "s"}, ${month.gbs.toFixed(3)} GB-s)` : "…"}
          </span>
        </h3>
        <p class="chart-note">
          {month ? (month.source === "EstimatedCharges"
            ? "Month-to-date EstimatedCharges published by loam (AWS-equivalent, free tier applied to the account)."
            : "Computed here from the Loam/Billing usage and AWS us-east-1 prices: this function's share of the account's bill, free tier applied to the account.") : " "}
        </p>
      </div>
      <div class="charts">
        {CHARTS.map((chart) => (
          <section class="chart-card" key={chart.id} aria-labelledby={`chart-${chart.id}`}>
            <h3 id={`chart-${chart.id}`}>
              <span>{chart.title}</span>
              <span class="chart-total" data-testid={`total-${chart.id}`}>{summary(chart, data?.[chart.id])}</span>
            </h3>
            <p class="chart-note">{data?.notes[chart.id] || (chart.id === "duration" ? "Percentiles per period." : " ")}</p>
            <Chart data={data?.[chart.id]} series={chart.series} unit={chart.unit} empty={chart.empty}
              label={`${chart.title}: ${summary(chart, data?.[chart.id])}`} />
          </section>
        ))}
      </div>
    </div>
  );
}
