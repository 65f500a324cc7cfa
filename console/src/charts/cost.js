// What usage costs on AWS Lambda, for the Monitor tab's cost chart and the account page.
//
// The server publishes `EstimatedCharges` (namespace Loam/Billing, Currency=USD, optionally
// FunctionName) when it computes the month-to-date charge itself; that is used when present.
// Otherwise the charge is worked out here from the usage metrics (Requests, BilledGBSeconds,
// EphemeralGBSeconds per FunctionName + Architecture) and the price table the server bills by,
// bundled at build time, following the server's own estimate: free tier on the account's month,
// x86_64 taking the free GB-seconds first, duration through the architecture's tiers.
import prices from "../../../loam/billing/prices.json";
import { metricData, listMetrics } from "./metrics.js";

export const BILLING = "Loam/Billing";
export const CURRENCY = prices.Currency;
export const FREE_TIER = prices.FreeTier;

const USAGE = ["Requests", "BilledGBSeconds", "EphemeralGBSeconds"];

export function monthStart(now = new Date()) {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

// The charge for GB-seconds numbered [start, end) of the month through an architecture's tiers.
function tiered(tiers, start, end) {
  let cost = 0;
  let lower = 0;
  for (const tier of tiers) {
    const upper = tier.UpToGBSeconds == null ? end : tier.UpToGBSeconds;
    const low = Math.max(start, lower);
    const high = Math.min(end, upper);
    if (high > low) cost += (high - low) * Number(tier.PerGBSecond);
    if (tier.UpToGBSeconds == null) break;
    lower = tier.UpToGBSeconds;
  }
  return cost;
}

// The undiscounted price of some usage (first duration tier): what one period of a chart costs.
export function usageCost(architecture, requests, gbSeconds, ephemeralGbSeconds) {
  const tiers = prices.Duration[architecture] || prices.Duration.x86_64;
  return (requests * Number(prices.Requests.PerMillion)) / 1e6
    + tiered(tiers, 0, gbSeconds)
    + ephemeralGbSeconds * Number(prices.EphemeralStorage.PerGBSecond);
}

// The month's bill for usage lines [{fn, arch, requests, gbs, eph}], free tier applied to the
// account's total; returns { total, beforeFreeTier, lines: [{fn, arch, cost}] }.
export function monthBill(lines) {
  const requests = lines.reduce((s, l) => s + l.requests, 0);
  const requestCharge = (Math.max(0, requests - FREE_TIER.Requests)
    * Number(prices.Requests.PerMillion)) / 1e6;
  const byArch = {};
  for (const l of lines) byArch[l.arch] = (byArch[l.arch] || 0) + l.gbs;
  const order = (a) => ({ x86_64: 0, arm64: 1 })[a] ?? 2;
  let freeLeft = FREE_TIER.GBSeconds;
  const archCharge = {};
  for (const arch of Object.keys(byArch).sort((a, b) => order(a) - order(b) || a.localeCompare(b))) {
    const free = Math.min(byArch[arch], freeLeft);
    freeLeft -= free;
    archCharge[arch] = tiered(prices.Duration[arch] || prices.Duration.x86_64, free, byArch[arch]);
  }
  const share = (charge, part, whole) => (whole ? (charge * part) / whole : 0);
  const out = lines.map((l) => ({
    fn: l.fn,
    arch: l.arch,
    cost: share(requestCharge, l.requests, requests)
      + share(archCharge[l.arch], l.gbs, byArch[l.arch])
      + l.eph * Number(prices.EphemeralStorage.PerGBSecond),
  }));
  const beforeFreeTier = lines.reduce((s, l) => s + usageCost(l.arch, l.requests, l.gbs, l.eph), 0);
  return { total: out.reduce((s, l) => s + l.cost, 0), beforeFreeTier, lines: out };
}

// One period covering [start, end): a multiple of 60 s, as CloudWatch requires.
function wholeSpan(start, end) {
  return Math.max(60, Math.ceil((end - start) / 60000) * 60);
}

function sum(result) {
  return (result?.Values || []).reduce((s, v) => s + v, 0);
}

// Month-to-date usage per (function, architecture), from the Loam/Billing usage metrics.
// `functionName` limits it to one function. Returns [{fn, arch, requests, gbs, eph}].
export async function monthUsage(functionName, now = new Date()) {
  const metrics = await listMetrics(BILLING, "Requests");
  const series = metrics
    .map((m) => Object.fromEntries(m.Dimensions.map((d) => [d.Name, d.Value])))
    .filter((d) => d.FunctionName && d.Architecture)
    .filter((d) => !functionName || d.FunctionName === functionName);
  if (!series.length) return [];
  const start = monthStart(now);
  const period = wholeSpan(start, now);
  const queries = [];
  series.forEach((d, i) => USAGE.forEach((metric, j) => queries.push({
    Id: `u${i}_${j}`,
    MetricStat: {
      Metric: {
        Namespace: BILLING,
        MetricName: metric,
        Dimensions: [{ Name: "FunctionName", Value: d.FunctionName },
          { Name: "Architecture", Value: d.Architecture }],
      },
      Period: period,
      Stat: "Sum",
    },
  })));
  const results = await metricData(queries, start, now);
  return series.map((d, i) => ({
    fn: d.FunctionName,
    arch: d.Architecture,
    requests: sum(results[`u${i}_0`]),
    gbs: sum(results[`u${i}_1`]),
    eph: sum(results[`u${i}_2`]),
  }));
}

// Month-to-date charge (account-wide, or one function's share of the account's bill):
// { source: "EstimatedCharges" | "computed", total, beforeFreeTier?, requests?, gbs? }.
export async function monthToDate(functionName, now = new Date()) {
  const published = await listMetrics(BILLING, "EstimatedCharges");
  const wanted = functionName
    ? (m) => m.Dimensions.some((d) => d.Name === "FunctionName" && d.Value === functionName)
    : (m) => !m.Dimensions.some((d) => d.Name === "FunctionName");
  const usage = await monthUsage(null, now);
  const mine = usage.filter((l) => !functionName || l.fn === functionName);
  const requests = mine.reduce((s, l) => s + l.requests, 0);
  const gbs = mine.reduce((s, l) => s + l.gbs, 0);
  const metric = published.find(wanted);
  if (metric) {
    const start = monthStart(now);
    const results = await metricData([{
      Id: "charges",
      MetricStat: {
        Metric: { Namespace: BILLING, MetricName: "EstimatedCharges", Dimensions: metric.Dimensions },
        Period: wholeSpan(start, now),
        Stat: "Maximum",
      },
    }], start, now);
    const values = results.charges?.Values || [];
    return { source: "EstimatedCharges", total: values.length ? Math.max(...values) : 0, requests, gbs };
  }
  const bill = monthBill(usage);
  const total = functionName
    ? bill.lines.filter((l) => l.fn === functionName).reduce((s, l) => s + l.cost, 0)
    : bill.total;
  const beforeFreeTier = mine.reduce((s, l) => s + usageCost(l.arch, l.requests, l.gbs, l.eph), 0);
  return { source: "computed", total, beforeFreeTier, requests, gbs };
}

// Dollars with two decimals, or two significant digits below a cent ($0.00000061).
export function money(value) {
  if (value === 0) return "$0";
  if (Math.abs(value) >= 0.01) return `$${value.toFixed(2)}`;
  return `$${value.toFixed(Math.min(12, 1 - Math.floor(Math.log10(Math.abs(value)))))}`;
}

// The cost chart's series for one function over a window: EstimatedCharges (month to date)
// when the server publishes it for the function, else each period's usage priced from the
// table (before the free tier). Billing is hourly, so the period is at least an hour.
export async function costSeries(functionName, architecture, window) {
  const period = Math.max(3600, window.period);
  const start = Math.floor(window.start / period) * period;
  const end = Math.ceil(window.end / period) * period;
  const slots = { start, end, period };
  const published = (await listMetrics(BILLING, "EstimatedCharges"))
    .find((m) => m.Dimensions.some((d) => d.Name === "FunctionName" && d.Value === functionName));
  if (published) {
    const r = await metricData([{ Id: "c", MetricStat: { Metric: { Namespace: BILLING, MetricName: "EstimatedCharges", Dimensions: published.Dimensions }, Period: period, Stat: "Maximum" } }], start, end);
    return { source: "EstimatedCharges", slots, byTime: zip(r.c) };
  }
  const dims = [{ Name: "FunctionName", Value: functionName }, { Name: "Architecture", Value: architecture }];
  const r = await metricData(USAGE.map((metric, i) => ({
    Id: `m${i}`, MetricStat: { Metric: { Namespace: BILLING, MetricName: metric, Dimensions: dims }, Period: period, Stat: "Sum" },
  })), start, end);
  const [req, gbs, eph] = [zip(r.m0), zip(r.m1), zip(r.m2)];
  const byTime = new Map();
  for (const t of new Set([...req.keys(), ...gbs.keys(), ...eph.keys()])) {
    byTime.set(t, usageCost(architecture, req.get(t) || 0, gbs.get(t) || 0, eph.get(t) || 0));
  }
  return { source: "computed", slots, byTime };
}

function zip(result) {
  const m = new Map();
  (result?.Timestamps || []).forEach((t, i) => m.set(Math.round(t), result.Values[i]));
  return m;
}
