// Cold starts per period. loam publishes no cold-start metric, so they are counted from the
// function's REPORT lines that carry an Init Duration (or, for an environment forked from a
// template, a Restore Duration), read with FilterLogEvents.
import { awsJson } from "../api/client.js";

const PATTERN = 'REPORT ?"Init Duration" ?"Restore Duration"';
const MAX_PAGES = 20;

export async function coldStarts(logGroup, window) {
  const counts = new Map();
  let token;
  let pages = 0;
  let truncated = false;
  do {
    let answer;
    try {
      answer = await awsJson("logs", "FilterLogEvents", {
        logGroupName: logGroup,
        startTime: window.start * 1000,
        endTime: window.end * 1000 - 1,
        filterPattern: PATTERN,
        ...(token ? { nextToken: token } : {}),
      });
    } catch (err) {
      if (err.code === "ResourceNotFoundException") return { counts, truncated }; // never invoked
      throw err;
    }
    for (const event of answer.events || []) {
      const slot = window.start + Math.floor((event.timestamp / 1000 - window.start) / window.period) * window.period;
      counts.set(slot, (counts.get(slot) || 0) + 1);
    }
    token = answer.nextToken;
    pages += 1;
    if (token && pages >= MAX_PAGES) truncated = true;
  } while (token && !truncated);
  return { counts, truncated };
}
