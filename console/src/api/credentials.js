// The signed-in key, kept in IndexedDB: the access key id, the region and the
// secret as a non-extractable CryptoKey (structured-cloned, never readable as text).
import { forgetSigningKeys, importSecret } from "./sigv4.js";

const DB = "loam-console";
const STORE = "credentials";
const ID = "current";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

let current = null;

export function currentCredentials() {
  return current;
}

export async function loadCredentials() {
  current = (await run("readonly", (store) => store.get(ID))) ?? null;
  return current;
}

// Builds credentials from a typed secret; nothing is stored until `saveCredentials`.
export async function makeCredentials(accessKeyId, secret, region) {
  return { accessKeyId: accessKeyId.trim(), region: region.trim(), key: await importSecret(secret.trim()) };
}

export async function saveCredentials(credentials) {
  await run("readwrite", (store) => store.put(credentials, ID));
  current = credentials;
}

export async function signOut() {
  current = null;
  forgetSigningKeys();
  await run("readwrite", (store) => store.delete(ID));
}
