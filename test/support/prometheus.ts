import parsePrometheusTextFormat from 'parse-prometheus-text-format';

// GET /metrics read as Prometheus would: the text format parsed by parse-prometheus-text-format (prom2json's
// output shape), so a malformed exposition fails the test rather than a regular expression over it.

export interface PrometheusSample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
export interface PrometheusFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: PrometheusSample[];
}

export async function scrape(baseUrl: string, authorization: string | null): Promise<{ status: number; contentType: string | null; families: Map<string, PrometheusFamily>; text: string }> {
  const response = await fetch(`${baseUrl}/metrics`, { headers: authorization ? { authorization } : {} });
  const text = await response.text();
  const families = new Map<string, PrometheusFamily>();
  if (response.status === 200) {
    for (const family of parsePrometheusTextFormat(text) as PrometheusFamily[]) families.set(family.name, family);
  }
  return { status: response.status, contentType: response.headers.get('content-type'), families, text };
}

const matches = (sample: PrometheusSample, labels: Record<string, string>) =>
  Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value);

/** The value of the samples of counter or gauge `name` with these labels (0 when absent). */
export function sampleValue(families: Map<string, PrometheusFamily>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) return 0;
  if (family.type === 'HISTOGRAM' || family.type === 'SUMMARY') throw new Error(`${name} is a ${family.type}: use observationCount`);
  return family.metrics.filter((sample) => matches(sample, labels)).reduce((sum, sample) => sum + Number(sample.value ?? 0), 0);
}

/**
 * Observations of histogram `name` with these labels: its `_count` samples. parse-prometheus-text-format folds
 * every label set of a histogram into one (it only keeps the unlabelled _count), so once it has accepted the
 * text, the `_count` lines are read from the text itself, with the exposition format's label syntax.
 */
export function observationCount(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}_count(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (!match) continue;
    const found = Object.fromEntries([...(match[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) total += Number(match[2]);
  }
  return total;
}
