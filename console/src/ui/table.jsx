// A table whose column headers sort it (click or Enter; again to reverse).
import { useMemo, useState } from "preact/hooks";

function compare(a, b) {
  if (a === b) return 0;
  if (a === undefined || a === null) return 1;
  if (b === undefined || b === null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
}

// columns: [{ id, label, value: row => sortable value, render?: row => node, align? }]
export function Table({ columns, rows, rowKey, initialSort, caption, empty }) {
  const [sort, setSort] = useState(initialSort ?? { id: columns[0].id, dir: 1 });
  const sorted = useMemo(() => {
    const column = columns.find((c) => c.id === sort.id);
    if (!column) return rows;
    return [...rows].sort((x, y) => sort.dir * compare(column.value(x), column.value(y)));
  }, [rows, sort, columns]);
  const toggle = (id) => setSort((s) => (s.id === id ? { id, dir: -s.dir } : { id, dir: 1 }));
  return (
    <table class="table">
      {caption ? <caption class="sr-only">{caption}</caption> : null}
      <thead>
        <tr>
          {columns.map((column) => {
            const active = column.id === sort.id;
            const state = active ? (sort.dir > 0 ? "ascending" : "descending") : "none";
            return (
              <th key={column.id} scope="col" aria-sort={column.value ? state : undefined} class={column.align === "right" ? "num" : undefined}>
                {column.value ? (
                  <button type="button" class="sort" onClick={() => toggle(column.id)}>
                    {column.label}
                    <span class="sort-mark" aria-hidden="true">{active ? (sort.dir > 0 ? "▲" : "▼") : "↕"}</span>
                  </button>
                ) : (
                  column.label
                )}
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>
        {sorted.length === 0 && empty ? (
          <tr>
            <td colSpan={columns.length} class="empty-cell">{empty}</td>
          </tr>
        ) : (
          sorted.map((row) => (
            <tr key={rowKey(row)}>
              {columns.map((column) => (
                <td key={column.id} class={column.align === "right" ? "num" : undefined}>
                  {column.render ? column.render(row) : column.value(row)}
                </td>
              ))}
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}
