// Log lines grouped per invocation: START … REPORT in one log stream (one
// environment runs one invocation at a time), or the requestId of JSON records.

const START = /^START RequestId: (\S+)/;
const END = /^(?:END|REPORT) RequestId: (\S+)/;

function jsonRecord(message) {
  if (!message.startsWith("{")) return null;
  try {
    return JSON.parse(message);
  } catch {
    return null;
  }
}

// events: FilterLogEvents events, oldest first → [{ id, requestId, stream, events, complete }]
export function groupByInvocation(events) {
  const groups = [];
  const open = new Map(); // stream → the group of the invocation running there
  const byRequest = new Map();
  const groupFor = (requestId, stream, at) => {
    const key = requestId ?? `outside:${stream}:${at}`;
    let group = byRequest.get(key);
    if (!group) {
      group = { id: key, requestId, stream, events: [], complete: false };
      byRequest.set(key, group);
      groups.push(group);
    }
    return group;
  };
  for (const event of events) {
    const message = event.message.replace(/\n$/, "");
    const record = jsonRecord(message);
    const started = message.match(START) ?? (record?.type === "platform.start" ? [null, record.record?.requestId] : null);
    const ended = message.match(END) ?? (record?.type === "platform.report" ? [null, record.record?.requestId] : null);
    let group;
    if (started) {
      group = groupFor(started[1], event.logStreamName, event.timestamp);
      open.set(event.logStreamName, group);
    } else if (ended) {
      group = groupFor(ended[1], event.logStreamName, event.timestamp);
      if (message.startsWith("REPORT") || record?.type === "platform.report") {
        group.complete = true;
        open.delete(event.logStreamName);
      }
    } else if (record?.requestId) {
      group = groupFor(record.requestId, event.logStreamName, event.timestamp);
    } else {
      group = open.get(event.logStreamName);
      if (!group) {
        const last = groups[groups.length - 1];
        group = last && last.requestId === null && last.stream === event.logStreamName ? last : groupFor(null, event.logStreamName, event.timestamp);
      }
    }
    group.events.push({ ...event, message });
  }
  return groups;
}
