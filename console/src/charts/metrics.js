// CloudWatch reads for the console's charts: GetMetricData and ListMetrics, plus the time
// ranges the Monitor tab offers and the period each one is read at.
import { awsJson } from "../api/client.js";

export const RANGES = [
  { id: "15m", label: "15 min", seconds: 900, period: 60 },
  { id: "1h", label: "1 h", seconds: 3600, period: 60 },
  { id: "3h", label: "3 h", seconds: 10800, period: 60 },
  { id: "12h", label: "12 h", seconds: 43200, period: 300 },
  { id: "1d", label: "1 day", seconds: 86400, period: 300 },
  { id: "1w", label: "1 week", seconds: 604800, period: 3600 },
];

const NICE_PERIODS = [60, 300, 900, 3600, 21600, 86400];

// A period giving at most ~300 points over the span (CloudWatch allows 1,440).
export function periodFor(seconds) {
  return NICE_PERIODS.find((p) => seconds / p <= 300) || 86400;
}

// The aligned window [start, end) for a span ending now: whole periods, so every slot is full.
export function windowFor(fromMs, toMs, period) {
  const start = Math.floor(fromMs / 1000 / period) * period;
  const end = Math.ceil(toMs / 1000 / period) * period;
  return { start, end: Math.max(end, start + period), period };
}

// GetMetricData for up to 500 queries; returns Id → {Timestamps (epoch s), Values}.
export async function metricData(queries, start, end) {
  const out = {};
  let token;
  do {
    const answer = await awsJson("monitoring", "GetMetricData", {
      MetricDataQueries: queries,
      StartTime: toEpoch(start),
      EndTime: toEpoch(end),
      ScanBy: "TimestampAscending",
      ...(token ? { NextToken: token } : {}),
    });
    for (const r of answer.MetricDataResults || []) {
      const seen = out[r.Id] || (out[r.Id] = { Timestamps: [], Values: [] });
      seen.Timestamps.push(...(r.Timestamps || []).map(toEpoch));
      seen.Values.push(...(r.Values || []));
    }
    token = answer.NextToken;
  } while (token);
  return out;
}

export async function listMetrics(namespace, metricName) {
  const found = [];
  let token;
  do {
    const answer = await awsJson("monitoring", "ListMetrics", {
      Namespace: namespace,
      ...(metricName ? { MetricName: metricName } : {}),
      ...(token ? { NextToken: token } : {}),
    });
    found.push(...(answer.Metrics || []));
    token = answer.NextToken;
  } while (token);
  return found;
}

// Seconds since the epoch from a Date, a number of seconds, or an ISO string.
function toEpoch(value) {
  if (value instanceof Date) return value.getTime() / 1000;
  if (typeof value === "number") return value;
  return Date.parse(value) / 1000;
}

// One series on the window's slots: a count's missing slot is 0, a measurement's is a gap.
export function onSlots(result, window, missing = null) {
  const byTime = new Map();
  (result?.Timestamps || []).forEach((t, i) => byTime.set(Math.round(t), result.Values[i]));
  const xs = [];
  const ys = [];
  for (let t = window.start; t < window.end; t += window.period) {
    xs.push(t);
    ys.push(byTime.has(t) ? byTime.get(t) : missing);
  }
  return { xs, ys };
}

export function lambdaQuery(id, metric, stat, functionName, period) {
  return {
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: "AWS/Lambda",
        MetricName: metric,
        Dimensions: functionName ? [{ Name: "FunctionName", Value: functionName }] : [],
      },
      Period: period,
      Stat: stat,
    },
  };
}
