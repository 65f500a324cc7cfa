// The figures of an invocation's REPORT line (text or JSON log format).

const TEXT_FIELDS = {
  "Duration": "duration",
  "Billed Duration": "billedDuration",
  "Memory Size": "memorySize",
  "Max Memory Used": "maxMemoryUsed",
  "Init Duration": "initDuration",
  "Restore Duration": "restoreDuration",
};

const JSON_FIELDS = {
  durationMs: "duration",
  billedDurationMs: "billedDuration",
  memorySizeMB: "memorySize",
  maxMemoryUsedMB: "maxMemoryUsed",
  initDurationMs: "initDuration",
  restoreDurationMs: "restoreDuration",
};

export function parseReport(log) {
  for (const line of (log ?? "").split("\n").reverse()) {
    if (line.startsWith("REPORT ")) {
      const report = {};
      for (const part of line.slice(7).split("\t")) {
        const match = part.match(/^\s*([A-Za-z ]+):\s*([\d.]+)/);
        if (match && TEXT_FIELDS[match[1].trim()]) report[TEXT_FIELDS[match[1].trim()]] = Number(match[2]);
      }
      const id = line.match(/RequestId: (\S+)/);
      if (id) report.requestId = id[1];
      return report;
    }
    if (line.includes('"platform.report"')) {
      try {
        const record = JSON.parse(line);
        const metrics = record.record?.metrics ?? {};
        const report = { requestId: record.record?.requestId };
        for (const [key, name] of Object.entries(JSON_FIELDS)) if (key in metrics) report[name] = metrics[key];
        return report;
      } catch {
        /* not a JSON record after all */
      }
    }
  }
  return null;
}
