// CodeMirror 6 with the languages the console edits (loaded only by the Code tab).
import { javascript } from "@codemirror/lang-javascript";
import { python } from "@codemirror/lang-python";
import { Compartment, EditorState } from "@codemirror/state";
import { oneDark } from "@codemirror/theme-one-dark";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { EditorView, basicSetup } from "codemirror";

export function languageFor(path) {
  if (/\.py$/.test(path)) return python();
  if (/\.(mjs|cjs|js|jsx)$/.test(path)) return javascript({ jsx: path.endsWith(".jsx") });
  if (/\.(ts|mts|cts|tsx)$/.test(path)) return javascript({ typescript: true, jsx: path.endsWith(".tsx") });
  if (/\.json$/.test(path)) return javascript();
  return [];
}

export function languageName(path) {
  if (/\.py$/.test(path)) return "Python";
  if (/\.(mjs|cjs|js|jsx)$/.test(path)) return "JavaScript";
  if (/\.(ts|mts|cts|tsx)$/.test(path)) return "TypeScript";
  if (/\.json$/.test(path)) return "JSON";
  return "Plain text";
}

const theme = new Compartment();

// The page's Content-Security-Policy allows <style> elements carrying this nonce only.
const nonce = document.querySelector('meta[name="loam-csp-nonce"]')?.content ?? "";

function themeFor(dark) {
  return dark ? oneDark : [];
}

// One editor view; each file keeps its own EditorState (and so its own undo history).
export function createEditor(parent, { dark, onChange }) {
  const states = new Map();
  const extensionsFor = (path) => [
    basicSetup,
    keymap.of([indentWithTab]),
    languageFor(path),
    theme.of(themeFor(dark)),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) onChange(path, update.state.doc.toString());
    }),
    EditorView.cspNonce.of(nonce),
    EditorView.contentAttributes.of({ "aria-label": `Contents of ${path}` }),
  ];
  // Even the empty first state carries the nonce: the view mounts its styles at once.
  const view = new EditorView({ parent, state: EditorState.create({ extensions: [EditorView.cspNonce.of(nonce)] }) });
  let current = null;
  return {
    open(path, text) {
      if (current) states.set(current, view.state);
      let state = states.get(path);
      if (!state || state.doc.toString() !== text) {
        state = EditorState.create({ doc: text, extensions: extensionsFor(path) });
      }
      current = path;
      view.setState(state);
      view.dispatch({ effects: theme.reconfigure(themeFor(dark)) });
    },
    forget(path) {
      states.delete(path);
      if (path === current) current = null;
    },
    setDark(value) {
      dark = value;
      view.dispatch({ effects: theme.reconfigure(themeFor(dark)) });
    },
    focus() {
      view.focus();
    },
    destroy() {
      view.destroy();
    },
  };
}
