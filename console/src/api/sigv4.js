// AWS Signature Version 4, computed with WebCrypto, the way botocore signs.
//
// The account's secret never exists here as text: `importSecret` turns
// "AWS4" + secret into a non-extractable HMAC key once, and every request's
// date/region/service key is derived from that key.

const enc = new TextEncoder();
const HMAC = { name: "HMAC", hash: "SHA-256" };

export async function importSecret(secret) {
  return crypto.subtle.importKey("raw", enc.encode("AWS4" + secret), HMAC, false, ["sign"]);
}

async function hmac(key, text) {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(text)));
}

async function hmacKey(bytes) {
  return crypto.subtle.importKey("raw", bytes, HMAC, false, ["sign"]);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(body) {
  const data = typeof body === "string" ? enc.encode(body) : body ?? new Uint8Array();
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}

// RFC 3986: everything but unreserved characters is percent-encoded.
export function uriEncode(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

// The query string as sent and as signed: sorted by key, then value, each encoded.
export function canonicalQuery(query) {
  const pairs = [];
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      pairs.push([uriEncode(key), uriEncode(String(one))]);
    }
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

// Derived keys per root key (a new sign-in never reuses another key's).
let signingKeys = new WeakMap();

async function signingKey(root, date, region, service) {
  const id = `${date}/${region}/${service}`;
  if (!signingKeys.has(root)) signingKeys.set(root, new Map());
  const mine = signingKeys.get(root);
  let key = mine.get(id);
  if (!key) {
    let bytes = await hmac(root, date);
    for (const part of [region, service, "aws4_request"]) bytes = await hmac(await hmacKey(bytes), part);
    key = await hmacKey(bytes);
    mine.set(id, key);
  }
  return key;
}

export function forgetSigningKeys() {
  signingKeys = new WeakMap();
}

// Signs a request; returns the headers to send (the given ones plus x-amz-date and
// Authorization). `path` is the path as sent (already percent-encoded), `query` the
// canonical query string, `headers` lower-case names (host included).
export async function sign({ credentials, service, method, path, query = "", headers, body, now = new Date() }) {
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const date = amzDate.slice(0, 8);
  const all = { ...headers, "x-amz-date": amzDate };
  const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = names.map((n) => `${n}:${String(lower[n]).trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  // botocore signs the path encoded once more (every service but S3).
  const canonicalPath = path.split("/").map(uriEncode).join("/");
  const canonical = [method, canonicalPath, query, canonicalHeaders, signedHeaders, await sha256Hex(body)].join("\n");
  const scope = `${date}/${credentials.region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256Hex(canonical)].join("\n");
  const key = await signingKey(credentials.key, date, credentials.region, service);
  const signature = hex(await hmac(key, toSign));
  const out = { ...all };
  delete out.host; // the browser sets Host itself (to the value signed)
  out.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return out;
}
