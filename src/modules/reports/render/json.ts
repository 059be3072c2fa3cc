/**
 * The report as JSON with a stable key order: object keys sorted (code-point order) at every depth, arrays in
 * their order, two-space indent, a final newline. Two equal reports give byte-identical files whatever the
 * order in which their objects were built. Absent optional fields (`alerts`) are left out; non-finite
 * numbers become null.
 */
import type { ReportData } from './types.js';

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function renderJson(data: ReportData): string {
  return `${JSON.stringify(sortKeys(data), null, 2)}\n`;
}
