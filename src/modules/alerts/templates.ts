/**
 * Annotation and SMS body templates, in the spirit of Prometheus' `{{ $value }}` and `{{ $labels.host }}`: text
 * with `{{ $name }}` placeholders, nothing else (no logic, no functions), checked when a rule or channel is
 * saved, so a typo is refused with its position instead of showing up in a notification.
 */

export interface TemplatePart {
  text?: string;
  variable?: string;
  /** For `$labels.x`: the label. */
  label?: string;
}

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(`at column ${column}: ${message}`);
  }
}

const PLACEHOLDER = /\{\{\s*(.*?)\s*\}\}/g;
const LABEL_REF = /^\$labels\.([A-Za-z_][A-Za-z0-9_.:/-]*)$/;

/** Parses a template; `variables` are the names allowed besides `$labels.<name>` (when `labels` is true). */
export function parseTemplate(template: string, variables: readonly string[], options: { labels: boolean }): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const index = match.index;
    if (index > last) parts.push({ text: template.slice(last, index) });
    const expression = match[1] ?? '';
    const label = LABEL_REF.exec(expression);
    if (label && options.labels) parts.push({ variable: '$labels', label: label[1] });
    else if (variables.includes(expression)) parts.push({ variable: expression });
    else {
      const known = [...variables, ...(options.labels ? ['$labels.<name>'] : [])].join(', ');
      throw new TemplateError(`unknown placeholder {{ ${expression} }}; use one of ${known}`, index + 1);
    }
    last = index + match[0].length;
  }
  const rest = template.slice(last);
  const stray = rest.indexOf('{{');
  if (stray >= 0) throw new TemplateError('"{{" without a closing "}}"', last + stray + 1);
  if (rest) parts.push({ text: rest });
  return parts;
}

/** Fills a template; `escape` is applied to each inserted value (JSON, form encoding…), not to the text. */
export function renderTemplate(
  template: string,
  values: Record<string, string>,
  labels: Record<string, string>,
  escape: (value: string) => string = (value) => value,
): string {
  return template.replace(PLACEHOLDER, (whole, expression: string) => {
    const label = LABEL_REF.exec(expression);
    if (label) return escape(labels[label[1]!] ?? '');
    return Object.hasOwn(values, expression) ? escape(values[expression]!) : whole;
  });
}

/** How values appear in messages: whole numbers as they are, others with 2 decimals (4 below 1), no trailing zeros. */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'no data';
  if (Number.isInteger(value)) return String(value);
  const text = value.toFixed(Math.abs(value) < 1 ? 4 : 2);
  return text.replace(/\.?0+$/, '');
}

/** Placeholders of annotation templates. */
export const ANNOTATION_VARIABLES = ['$value', '$threshold', '$score', '$expected', '$alertname', '$severity'] as const;
/** Placeholders of SMS body templates. */
export const SMS_VARIABLES = ['$to', '$message', '$status', '$severity', '$alertname'] as const;
