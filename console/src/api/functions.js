// Lambda calls the console's pages share.
import { lambda } from "./client.js";

export const fnPath = (name) => `/2015-03-31/functions/${encodeURIComponent(name)}`;

export function getConfiguration(name) {
  return lambda("GET", `${fnPath(name)}/configuration`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls GetFunctionConfiguration until the function is Active (or its last update
// finished), as the function_active_v2 / function_updated_v2 waiters do; reports
// each configuration seen; throws on Failed.
export async function waitUntil(name, what, onProgress, { timeoutMs = 120_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const config = await getConfiguration(name);
    onProgress?.(config);
    if (what === "active") {
      if (config.State === "Active") return config;
      if (config.State === "Failed") throw stateError(config.StateReasonCode, config.StateReason);
    } else {
      if (config.LastUpdateStatus === "Successful") return config;
      if (config.LastUpdateStatus === "Failed") throw stateError(config.LastUpdateStatusReasonCode, config.LastUpdateStatusReason);
    }
    if (Date.now() > deadline) throw stateError("WaiterTimeout", `The function did not become ${what === "active" ? "Active" : "updated"} in time.`);
    await sleep(500);
  }
}

function stateError(code, message) {
  const error = new Error(message ?? code);
  error.code = code ?? "Failed";
  error.detail = message ?? "";
  return error;
}
