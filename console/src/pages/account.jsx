// The account page: concurrency limits (GetAccountSettings), totals, and this month's usage and
// AWS-equivalent cost with the free tier (the same source as the Monitor tab's cost chart).
import { useEffect, useState } from "preact/hooks";
import { lambda } from "../api/client.js";
import { Link } from "../router.jsx";
import { ErrorBanner, Loading } from "../ui/index.js";
import { FREE_TIER, monthBill, monthToDate, monthUsage, usageCost } from "../charts/cost.js";
import { format } from "../charts/Chart.jsx";
import "../styles/panels.css";

function bytes(n) {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024).toFixed(1)} KB`;
}

function Stat({ label, value, note }) {
  return <div class="stat"><dt>{label}</dt><dd>{value}<small>{note}</small></dd></div>;
}

function FreeTierBar({ label, used, free, unit }) {
  const share = Math.min(100, (used / free) * 100);
  return (
    <>
      <span>{label}</span>
      <div class="meter" role="meter" aria-label={`${label} free tier used`} aria-valuemin="0" aria-valuemax={free} aria-valuenow={Math.min(used, free)}>
        <span class={used > free ? "meter-fill over" : "meter-fill"} style={{ width: `${share}%` }} />
      </div>
      <span class="muted">{used.toLocaleString(undefined, { maximumFractionDigits: 1 })} of {free.toLocaleString()} {unit} ({share.toFixed(share < 1 ? 2 : 0)}%)</span>
    </>
  );
}

export default function AccountPage() {
  const [settings, setSettings] = useState(null);
  const [usage, setUsage] = useState(null);
  const [month, setMonth] = useState(null);
  const [error, setError] = useState(null);

  async function load() {
    try {
      const [s, u, m] = await Promise.all([lambda("GET", "/2016-08-19/account-settings/"), monthUsage(null), monthToDate(null)]);
      setSettings(s);
      setUsage(u);
      setMonth(m);
      setError(null);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => { load(); }, []);

  const limit = settings?.AccountLimit;
  const account = settings?.AccountUsage;
  const bill = usage ? monthBill(usage) : null;
  const requests = usage ? usage.reduce((s, l) => s + l.requests, 0) : 0;
  const gbs = usage ? usage.reduce((s, l) => s + l.gbs, 0) : 0;
  const monthName = new Date().toLocaleString(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
  return (
    <section class="page account-page">
      <h1>Account</h1>
      <ErrorBanner error={error} onRetry={load} />
      {!settings && !error ? <Loading height="20rem" label="Loading the account…" /> : null}
      {settings ? (
        <div class="panels">
          <section class="panel" aria-labelledby="acct-limits">
            <h2 id="acct-limits">Concurrency and storage</h2>
            <dl class="stat-grid">
              <Stat label="Concurrency limit" value={limit.ConcurrentExecutions.toLocaleString()} note="concurrent executions for the account" />
              <Stat label="Unreserved concurrency" value={limit.UnreservedConcurrentExecutions.toLocaleString()} note="not reserved by any function" />
              <Stat label="Functions" value={account.FunctionCount.toLocaleString()} note=" " />
              <Stat label="Code storage" value={bytes(account.TotalCodeSize)} note={`of ${bytes(limit.TotalCodeSize)}`} />
            </dl>
          </section>
          <section class="panel" aria-labelledby="acct-month">
            <h2 id="acct-month">This month ({monthName}, UTC)</h2>
            {month && bill ? (
              <>
                <dl class="stat-grid">
                  <Stat label="Invocations" value={requests.toLocaleString()} note="billed requests, all functions" />
                  <Stat label="Compute" value={`${gbs.toLocaleString(undefined, { maximumFractionDigits: 3 })} GB-s`} note="billed duration × memory" />
                  <Stat label="Cost this month" value={format(month.total, "usd")} note="AWS-equivalent, free tier applied" />
                  <Stat label="Without the free tier" value={format(month.beforeFreeTier ?? bill.beforeFreeTier, "usd")} note="what the same usage would cost" />
                </dl>
                <p class="panel-description">
                  {month.source === "EstimatedCharges"
                    ? "The charge is loam's published EstimatedCharges metric (Loam/Billing, Currency=USD): what AWS Lambda in us-east-1 would bill for this usage. Running it on loam costs only the machine."
                    : "The charge is computed in the console from the Loam/Billing usage metrics and AWS Lambda's us-east-1 prices (the same table loam cost uses). Running it on loam costs only the machine."}
                </p>
                <h3>Free tier (per month)</h3>
                <div class="free-tier">
                  <FreeTierBar label="Requests" used={requests} free={FREE_TIER.Requests} unit="requests" />
                  <FreeTierBar label="Compute" used={gbs} free={FREE_TIER.GBSeconds} unit="GB-s" />
                </div>
                <h3>By function</h3>
                <table class="table">
                  <caption class="sr-only">This month's usage by function</caption>
                  <thead><tr><th scope="col">Function</th><th scope="col">Architecture</th><th scope="col" class="num">Requests</th><th scope="col" class="num">GB-s</th><th scope="col" class="num">Before free tier</th><th scope="col" class="num">Share of the bill</th></tr></thead>
                  <tbody>
                    {usage.length === 0 ? <tr><td colSpan={6} class="empty-cell">No usage this month.</td></tr> : usage.map((l, i) => (
                      <tr key={`${l.fn}-${l.arch}`}>
                        <td><Link href={`/functions/${encodeURIComponent(l.fn)}/monitor`}>{l.fn}</Link></td>
                        <td>{l.arch}</td>
                        <td class="num">{l.requests.toLocaleString()}</td>
                        <td class="num">{l.gbs.toLocaleString(undefined, { maximumFractionDigits: 3 })}</td>
                        <td class="num">{format(usageCost(l.arch, l.requests, l.gbs, l.eph), "usd")}</td>
                        <td class="num">{format(bill.lines[i].cost, "usd")}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            ) : <Loading height="12rem" label="Reading this month's usage…" />}
          </section>
        </div>
      ) : null}
    </section>
  );
}
