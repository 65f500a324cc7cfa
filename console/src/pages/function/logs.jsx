// The Logs tab: a live tail of the function's log group (FilterLogEvents with a
// start time that moves forward, as `aws logs tail --follow` does), a filter
// pattern passed to CloudWatch Logs, lines grouped per invocation, pause/resume.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { awsJson } from "../../api/client.js";
import { groupByInvocation } from "../../api/loggroups.js";
import { Button, ErrorBanner, Field, Notice } from "../../ui/index.js";

const POLL_MS = 2000;
const KEEP = 2000; // events kept on the page
const SINCE = [
  ["5", "Last 5 minutes"],
  ["15", "Last 15 minutes"],
  ["60", "Last hour"],
  ["180", "Last 3 hours"],
];

export function logGroupOf(config) {
  return config.LoggingConfig?.LogGroup ?? `/aws/lambda/${config.FunctionName}`;
}

function time(ms) {
  return new Date(ms).toISOString().slice(11, 23);
}

export default function LogsTab({ fn }) {
  const group = logGroupOf(fn.Configuration);
  const [events, setEvents] = useState([]);
  const [filter, setFilter] = useState("");
  const [applied, setApplied] = useState("");
  const [since, setSince] = useState("15");
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState(null);
  const [missing, setMissing] = useState(false);
  const cursor = useRef({ start: 0, seen: new Set() });

  // A new filter or time range starts the tail again.
  useEffect(() => {
    cursor.current = { start: Date.now() - Number(since) * 60_000, seen: new Set() };
    setEvents([]);
  }, [applied, since]);

  useEffect(() => {
    if (paused) return;
    let stopped = false;
    let timer;
    const poll = async () => {
      try {
        const found = [];
        let token;
        do {
          const answer = await awsJson("logs", "FilterLogEvents", {
            logGroupName: group,
            startTime: cursor.current.start,
            interleaved: true,
            ...(applied ? { filterPattern: applied } : {}),
            ...(token ? { nextToken: token } : {}),
          });
          found.push(...answer.events);
          token = answer.nextToken;
        } while (token && !stopped);
        if (stopped) return;
        const fresh = found.filter((e) => !cursor.current.seen.has(e.eventId));
        fresh.forEach((e) => cursor.current.seen.add(e.eventId));
        if (fresh.length) {
          // Later polls start at the newest timestamp seen (ids drop the repeats).
          cursor.current.start = Math.max(cursor.current.start, ...fresh.map((e) => e.timestamp));
          setEvents((old) => [...old, ...fresh].sort((a, b) => a.timestamp - b.timestamp || a.eventId.localeCompare(b.eventId)).slice(-KEEP));
        }
        setMissing(false);
        setError(null);
      } catch (err) {
        if (err.code === "ResourceNotFoundException") setMissing(true);
        else setError(err);
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [paused, applied, since, group]);

  // With a filter, START and REPORT lines rarely match: lines are then shown per stream.
  const outside = applied ? "Matching lines" : "Outside an invocation";
  const groups = useMemo(() => groupByInvocation(events).reverse(), [events]);
  const apply = (event) => {
    event.preventDefault();
    setApplied(filter.trim());
  };

  return (
    <div class="logs-tab">
      <form class="toolbar" onSubmit={apply} role="search">
        <Field label="Filter pattern" class="grow" value={filter} placeholder='e.g. ERROR, "Task timed out", { $.level = "ERROR" }' onInput={(e) => setFilter(e.currentTarget.value)} />
        <Field as="select" label="Since" value={since} onChange={(e) => setSince(e.currentTarget.value)}>
          {SINCE.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
        </Field>
        <Button type="submit">Apply filter</Button>
        <Button kind={paused ? "primary" : "secondary"} onClick={() => setPaused(!paused)}>{paused ? "Resume" : "Pause"}</Button>
      </form>
      <p class="muted">
        <span class={`live${paused ? " paused" : ""}`}>{paused ? "Paused" : "Live"}</span> · log group <code>{group}</code>
        {applied ? <> · filter <code>{applied}</code></> : null} · {events.length} events
      </p>
      <ErrorBanner error={error} />
      {missing ? <Notice>No logs yet: the log group appears with the function's first invocation.</Notice> : null}
      {!missing && groups.length === 0 ? <p class="muted">No log events in this range{applied ? " match the filter" : ""} yet; new ones appear here as they arrive.</p> : null}
      <div class="log-groups" aria-live="polite">
        {groups.map((g) => (
          <article class="log-invocation" key={g.id} aria-label={g.requestId ? `Invocation ${g.requestId}` : outside}>
            <header>
              <strong>{g.requestId ? <>Request <code>{g.requestId}</code></> : outside}</strong>
              <span class="muted">{time(g.events[0].timestamp)} UTC</span>
              <span class="muted">{g.events.length} lines</span>
              {g.requestId && !g.complete ? <span class="state state-pending">running</span> : null}
              <span class="muted grow" title="Log stream">{g.stream}</span>
            </header>
            <pre>
              {g.events.map((e) => (
                <div class="log-line" key={e.eventId}>
                  <time>{time(e.timestamp)}</time>
                  {e.message}
                </div>
              ))}
            </pre>
          </article>
        ))}
      </div>
    </div>
  );
}
