// The Code tab: the deployed package unzipped in the browser, a file tree, a
// CodeMirror editor; Deploy zips the files back and calls UpdateFunctionCode.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { asText, toBase64, unzipFiles, zipFiles } from "../../api/bytes.js";
import { downloadCode, lambda } from "../../api/client.js";
import { fnPath, waitUntil } from "../../api/functions.js";
import { effectiveTheme } from "../../theme.js";
import { Button, ErrorBanner, Field, Loading, Modal, Spinner, toast } from "../../ui/index.js";

// { path: { bytes, text (null when binary), saved (text as deployed) } }
function filesFromZip(zip) {
  const files = {};
  for (const [path, bytes] of Object.entries(unzipFiles(zip))) {
    const text = asText(bytes);
    files[path] = { bytes, text, saved: text };
  }
  return files;
}

function firstFile(files, handler) {
  const paths = Object.keys(files).sort();
  const module = (handler ?? "").split(".").slice(0, -1).join("/");
  return paths.find((p) => module && p.replace(/\.[^.]+$/, "") === module) ?? paths.find((p) => files[p].text !== null) ?? paths[0] ?? null;
}

const PATH_RULE = /^(?!\/)(?!.*\/\/)(?!.*(^|\/)\.\.?(\/|$))[^\0\\]+(?<!\/)$/;

function FileTree({ files, current, onOpen, deployedPaths }) {
  const paths = Object.keys(files).sort((a, b) => a.localeCompare(b));
  let lastDir = null;
  const items = [];
  for (const path of paths) {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (dir !== lastDir && dir) items.push(<li key={`d:${dir}`} class="folder" aria-hidden="true">{dir}/</li>);
    lastDir = dir;
    const file = files[path];
    const dirty = !deployedPaths.has(path) || file.text !== file.saved;
    items.push(
      <li key={path}>
        <button type="button" aria-current={path === current ? "true" : "false"} class={dirty ? "dirty" : ""} style={{ paddingLeft: `${0.75 + (dir ? dir.split("/").length : 0) * 0.75}rem` }} title={path} onClick={() => onOpen(path)}>
          {path.slice(dir ? dir.length + 1 : 0)}
          {dirty ? <span class="sr-only"> (unsaved)</span> : null}
        </button>
      </li>,
    );
  }
  return (
    <nav class="file-tree" aria-label="Files of the package">
      <ul>{items}</ul>
    </nav>
  );
}

function PathDialog({ title, initial, files, action, onDone, onClose }) {
  const [value, setValue] = useState(initial);
  const trimmed = value.trim();
  const problem = !trimmed ? null : !PATH_RULE.test(trimmed) ? "Use a relative path like src/app.py (no .., no leading /)." : trimmed !== initial && files[trimmed] ? "A file with that path exists." : null;
  const submit = (event) => {
    event.preventDefault();
    if (trimmed && !problem) onDone(trimmed);
  };
  return (
    <Modal title={title} onClose={onClose}>
      <form onSubmit={submit}>
        <Field label="File path" value={value} autofocus onInput={(e) => setValue(e.currentTarget.value)} error={problem} hint="Folders come from the path: lib/util.py" />
        <div class="modal-footer">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="primary" type="submit" disabled={!trimmed || !!problem}>{action}</Button>
        </div>
      </form>
    </Modal>
  );
}

export default function CodeTab({ fn, refresh }) {
  const config = fn.Configuration;
  const name = config.FunctionName;
  const [files, setFiles] = useState(null);
  const [deployedPaths, setDeployedPaths] = useState(new Set());
  const [current, setCurrent] = useState(null);
  const [error, setError] = useState(null);
  const [deploying, setDeploying] = useState(null);
  const [dialog, setDialog] = useState(null);
  const host = useRef(null);
  const editor = useRef(null);
  const filesRef = useRef(files);
  filesRef.current = files;

  const load = async (zip) => {
    try {
      const bytes = zip ?? (await downloadCode(fn.Code.Location));
      const loaded = filesFromZip(bytes);
      setFiles(loaded);
      setDeployedPaths(new Set(Object.keys(loaded)));
      setCurrent((c) => (c && loaded[c] ? c : firstFile(loaded, config.Handler)));
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    if (config.PackageType !== "Image") load();
  }, []);

  // The editor is loaded on first use (it is most of the console's code).
  const [editorReady, setEditorReady] = useState(false);
  useEffect(() => {
    if (!files || editor.current || !host.current) return;
    let cancelled = false;
    import("../../editor/codemirror.js")
      .then(({ createEditor }) => {
        if (cancelled) return;
        editor.current = createEditor(host.current, {
          dark: effectiveTheme() === "dark",
          onChange: (path, text) => setFiles((all) => (all[path] ? { ...all, [path]: { ...all[path], text } } : all)),
        });
        setEditorReady(true);
      })
      .catch(setError);
    return () => {
      cancelled = true;
    };
  }, [files !== null]);
  useEffect(() => () => editor.current?.destroy(), []);
  useEffect(() => {
    const file = filesRef.current?.[current];
    if (editorReady && file && file.text !== null) editor.current.open(current, file.text);
  }, [current, editorReady, files !== null && filesRef.current?.[current]?.saved]);
  useEffect(() => {
    const observer = new MutationObserver(() => editor.current?.setDark(effectiveTheme() === "dark"));
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    return () => observer.disconnect();
  }, []);

  const dirty = useMemo(() => {
    if (!files) return false;
    const paths = Object.keys(files);
    return paths.length !== deployedPaths.size || paths.some((p) => !deployedPaths.has(p) || files[p].text !== files[p].saved);
  }, [files, deployedPaths]);
  useEffect(() => {
    if (!dirty) return;
    const warn = (event) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const deploy = async (zipBytes, label) => {
    if (deploying) return;
    setError(null);
    try {
      let zip = zipBytes;
      if (!zip) {
        const all = filesRef.current;
        const contents = Object.fromEntries(Object.entries(all).map(([p, f]) => [p, f.text === null ? f.bytes : f.text]));
        zip = zipFiles(contents);
      }
      setDeploying(`Uploading ${label ?? "the package"} (${(zip.length / 1024).toFixed(1)} KB)…`);
      await lambda("PUT", `${fnPath(name)}/code`, { body: { ZipFile: toBase64(zip) } });
      await waitUntil(name, "updated", (c) => setDeploying(`Updating the function… (LastUpdateStatus: ${c.LastUpdateStatus})`));
      if (zipBytes) await load(zipBytes);
      else {
        setFiles((all) => Object.fromEntries(Object.entries(all).map(([p, f]) => [p, { ...f, saved: f.text }])));
        setDeployedPaths(new Set(Object.keys(filesRef.current)));
      }
      await refresh();
      toast("Deployed: the function runs the new code");
    } catch (err) {
      setError(err);
    } finally {
      setDeploying(null);
    }
  };

  // Ctrl-S / Cmd-S deploys while this tab is open.
  const deployRef = useRef(deploy);
  deployRef.current = deploy;
  useEffect(() => {
    const onKey = (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        deployRef.current();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  if (config.PackageType === "Image") {
    return <p class="muted">This function is a container image; its code cannot be edited here.</p>;
  }
  const file = files?.[current];
  const createFile = (path) => {
    setFiles((all) => ({ ...all, [path]: { bytes: new Uint8Array(), text: "", saved: null } }));
    setCurrent(path);
    setDialog(null);
  };
  const renameFile = (path) => {
    const old = current;
    setFiles((all) => {
      const next = { ...all, [path]: all[old] };
      delete next[old];
      return next;
    });
    editor.current?.forget(old);
    setCurrent(path);
    setDialog(null);
  };
  const deleteFile = () => {
    const old = current;
    const next = { ...files };
    delete next[old];
    editor.current?.forget(old);
    setFiles(next);
    setCurrent(firstFile(next, config.Handler));
    setDialog(null);
  };
  const uploadZip = async (event) => {
    const chosen = event.currentTarget.files[0];
    event.currentTarget.value = "";
    if (chosen) await deploy(new Uint8Array(await chosen.arrayBuffer()), chosen.name);
  };

  return (
    <div class="code-tab">
      <div class="toolbar">
        <Button kind="primary" onClick={() => deploy()} busy={!!deploying} disabled={!files || !dirty} title="Deploy (Ctrl+S)" aria-keyshortcuts="Control+S Meta+S">Deploy</Button>
        <span class="progress" aria-live="polite">
          {deploying ? <><Spinner small /> {deploying}</> : dirty ? <span class="unsaved">● Unsaved changes</span> : files ? <span class="muted">Deployed · {config.CodeSha256?.slice(0, 12)}…</span> : null}
        </span>
        <span class="grow" />
        <Button onClick={() => setDialog("new")} disabled={!files || !!deploying}>New file</Button>
        <Button onClick={() => setDialog("rename")} disabled={!file || !!deploying}>Rename</Button>
        <Button kind="danger" onClick={() => setDialog("delete")} disabled={!file || !!deploying}>Delete</Button>
        <input id="zip-upload" class="sr-only file-button" type="file" accept=".zip,application/zip" onChange={uploadZip} disabled={!!deploying} />
        <label class="btn" for="zip-upload">Upload .zip</label>
      </div>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {files === null ? (
        error ? null : <Loading label="Downloading the package…" height="calc(100vh - 300px)" />
      ) : (
        <div class="code-layout">
          <FileTree files={files} current={current} onOpen={setCurrent} deployedPaths={deployedPaths} />
          <div class="editor-pane">
            <div class="editor-head">
              <span>{current ?? "No file"}</span>
              {file && (file.text !== file.saved || !deployedPaths.has(current)) ? <span class="unsaved" title="Unsaved">●</span> : null}
            </div>
            {file && file.text === null ? <p class="muted" style={{ padding: "1rem" }}>{current} is a binary file ({file.bytes.length} bytes); it is deployed as it is.</p> : null}
            {!file ? <p class="muted" style={{ padding: "1rem" }}>The package is empty: create a file.</p> : null}
            <div class="editor-host" ref={host} hidden={!file || file.text === null} />
          </div>
        </div>
      )}
      {dialog === "new" ? <PathDialog title="New file" initial="" action="Create" files={files} onDone={createFile} onClose={() => setDialog(null)} /> : null}
      {dialog === "rename" ? <PathDialog title={`Rename ${current}`} initial={current} action="Rename" files={files} onDone={renameFile} onClose={() => setDialog(null)} /> : null}
      {dialog === "delete" ? (
        <Modal title={`Delete ${current}?`} onClose={() => setDialog(null)} footer={<><Button onClick={() => setDialog(null)}>Cancel</Button><Button kind="danger" onClick={deleteFile}>Delete</Button></>}>
          <p>The file leaves the package at the next Deploy.</p>
        </Modal>
      ) : null}
    </div>
  );
}
