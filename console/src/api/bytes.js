// Bytes ↔ base64 and zip packages (fflate), for deployment packages built in the browser.
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";

export function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

export function decodeBase64Text(text) {
  return new TextDecoder().decode(fromBase64(text));
}

// Files the runtime executes must keep their execute bit in the package.
const EXECUTABLE = /(^|\/)bootstrap$|\.sh$/;

// files: { path: string | Uint8Array } → zip bytes (Unix modes, fixed time: same files, same zip).
export function zipFiles(files) {
  const entries = {};
  for (const [path, content] of Object.entries(files)) {
    const mode = EXECUTABLE.test(path) ? 0o755 : 0o644;
    entries[path] = [typeof content === "string" ? strToU8(content) : content, { os: 3, attrs: (0o100000 | mode) << 16, mtime: new Date("2020-01-01T00:00:00Z"), level: 6 }];
  }
  return zipSync(entries);
}

// zip bytes → { path: Uint8Array } (directories left out).
export function unzipFiles(bytes) {
  const files = unzipSync(bytes);
  return Object.fromEntries(Object.entries(files).filter(([path]) => !path.endsWith("/")));
}

// Text a person can edit: valid UTF-8 without NUL bytes.
export function asText(bytes) {
  if (bytes.includes(0)) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

export { strFromU8, strToU8 };
