// A WAI-ARIA tab list: arrow keys, Home and End move between tabs.
import { useRef } from "preact/hooks";

export function Tabs({ tabs, current, onSelect, label, idPrefix = "tab" }) {
  const list = useRef(null);
  const onKeyDown = (event) => {
    const index = tabs.findIndex((tab) => tab.id === current);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    onSelect(next.id);
    requestAnimationFrame(() => list.current?.querySelector(`#${idPrefix}-${next.id}`)?.focus());
  };
  return (
    <div class="tabs" role="tablist" aria-label={label} ref={list} onKeyDown={onKeyDown}>
      {tabs.map((tab) => (
        <a
          key={tab.id}
          id={`${idPrefix}-${tab.id}`}
          role="tab"
          href={tab.href}
          aria-selected={tab.id === current ? "true" : "false"}
          aria-controls={`${idPrefix}-panel`}
          tabIndex={tab.id === current ? 0 : -1}
          class={`tab${tab.id === current ? " is-current" : ""}`}
          onClick={(event) => {
            if (event.button !== 0 || event.metaKey || event.ctrlKey) return;
            event.preventDefault();
            onSelect(tab.id);
          }}
        >
          {tab.label}
        </a>
      ))}
    </div>
  );
}

export function TabPanel({ idPrefix = "tab", current, children }) {
  return (
    <div id={`${idPrefix}-panel`} role="tabpanel" aria-labelledby={`${idPrefix}-${current}`} class="tab-panel">
      {children}
    </div>
  );
}
