// Builds the console into loam/console_dist: minified, content-hashed bundles with
// source maps, a gzip twin of each text file, and index.html naming the bundles.
import { build } from "esbuild";
import { readFile, rm, writeFile, readdir } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "loam", "console_dist");

await rm(out, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: join(here, "src", "main.jsx") },
  bundle: true,
  minify: true,
  sourcemap: "linked",
  splitting: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  loader: { ".json": "json" },
  outdir: out,
  entryNames: "assets/[name]-[hash]",
  chunkNames: "assets/chunk-[hash]",
  assetNames: "assets/[name]-[hash]",
  publicPath: "/console",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const entry = (ext) => {
  const found = outputs.find(([file, meta]) => meta.entryPoint && file.endsWith(ext))
    ?? outputs.find(([file]) => /assets\/main-[^/]+$/.test(file) && file.endsWith(ext));
  return found ? "/console/" + relative(out, found[0]).split("\\").join("/") : null;
};
const script = entry(".js");
const style = entry(".css");
let html = await readFile(join(here, "src", "index.html"), "utf8");
html = html
  .replace("<!--styles-->", style ? `<link rel="stylesheet" href="${style}">` : "")
  .replace("<!--scripts-->", `<script type="module" src="${script}"></script>`);
await writeFile(join(out, "index.html"), html);

// Pre-compressed twins: the server sends them to clients that accept gzip (not
// index.html, which the server fills with a fresh CSP nonce each time).
async function compress(dir) {
  for (const item of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, item.name);
    if (item.isDirectory()) await compress(path);
    else if (/\.(js|css|map|svg|json|txt)$/.test(item.name)) {
      await writeFile(path + ".gz", gzipSync(await readFile(path), { level: 9 }));
    }
  }
}
await compress(out);
console.log(`console built into ${relative(process.cwd(), out)}`);
