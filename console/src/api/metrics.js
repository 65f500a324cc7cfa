// Invocations and errors per function over the last hour (CloudWatch AWS/Lambda,
// 5-minute sums), for the functions list's sparklines.
import { awsJson } from "./client.js";

const PERIOD = 300;
const BUCKETS = 12;
const MAX_QUERIES = 500; // GetMetricData's limit per call

// { [functionName]: { invocations: number[12], errors: number[12] } }, oldest first.
export async function lastHourActivity(names, now = Date.now()) {
  const end = Math.ceil(now / 1000 / PERIOD) * PERIOD;
  const start = end - PERIOD * BUCKETS;
  const queries = [];
  names.forEach((name, i) => {
    for (const [metric, key] of [["Invocations", "i"], ["Errors", "e"]]) {
      queries.push({
        Id: `${key}${i}`,
        MetricStat: {
          Metric: { Namespace: "AWS/Lambda", MetricName: metric, Dimensions: [{ Name: "FunctionName", Value: name }] },
          Period: PERIOD,
          Stat: "Sum",
        },
        ReturnData: true,
      });
    }
  });
  const results = [];
  for (let i = 0; i < queries.length; i += MAX_QUERIES) {
    let token;
    do {
      const answer = await awsJson("monitoring", "GetMetricData", {
        MetricDataQueries: queries.slice(i, i + MAX_QUERIES),
        StartTime: start,
        EndTime: end,
        ScanBy: "TimestampAscending",
        ...(token ? { NextToken: token } : {}),
      });
      results.push(...(answer.MetricDataResults ?? []));
      token = answer.NextToken;
    } while (token);
  }
  const activity = Object.fromEntries(names.map((n) => [n, { invocations: new Array(BUCKETS).fill(0), errors: new Array(BUCKETS).fill(0) }]));
  for (const result of results) {
    const name = names[Number(result.Id.slice(1))];
    const series = activity[name][result.Id[0] === "i" ? "invocations" : "errors"];
    (result.Timestamps ?? []).forEach((stamp, k) => {
      const at = typeof stamp === "number" ? stamp : Date.parse(stamp) / 1000;
      const bucket = Math.floor((at - start) / PERIOD);
      if (bucket >= 0 && bucket < BUCKETS) series[bucket] += result.Values[k];
    });
  }
  return activity;
}
