import { InputValidationError, type InputIssue } from '../../core/input.js';
import { FAMILIES, type Family, type RowsByFamily } from '../../core/records.js';
import { REGISTRY, timestampProblem, type FieldSpec } from './registry.js';

// Records are checked by the registry's hand-written rules rather than zod: a batch of 1,000 records is checked
// on every ingest request, and this runs several times faster, allocating next to nothing for valid input.

export interface ListToValidate<F extends Family> {
  family: F;
  items: readonly unknown[];
  /** How the list is named in the caller's request, e.g. `input` or `input.systemMetrics`. */
  path: string;
  /** False for single-record mutations, whose issues carry no index. */
  indexed: boolean;
}

export const emptyRows = (): RowsByFamily => Object.fromEntries(FAMILIES.map((family) => [family, []])) as unknown as RowsByFamily;

interface CompiledField {
  spec: FieldSpec;
  check: ((value: unknown) => string | null) | null;
}

/** The input fields of each family, with the timestamp's check bound to this request's receipt time. */
function compile(receivedAt: Date): Record<Family, { inputs: CompiledField[]; derived: FieldSpec[] }> {
  const compiled = {} as Record<Family, { inputs: CompiledField[]; derived: FieldSpec[] }>;
  for (const family of FAMILIES) {
    const fields = REGISTRY[family].fields;
    compiled[family] = {
      inputs: fields
        .filter((spec) => !spec.derive)
        .map((spec) => ({
          spec,
          check: spec.pgType === 'timestamptz' ? (value: unknown) => timestampProblem(value, receivedAt) : (spec.check ?? null),
        })),
      derived: fields.filter((spec) => spec.derive),
    };
  }
  return compiled;
}

/**
 * Validates every item of every list and reports every problem, so a caller fixes a bad batch in one round.
 * Throws InputValidationError; nothing is written for a request that has any problem.
 */
export function validateLists(lists: ListToValidate<Family>[], options: { receivedAt: Date; maxItems: number }): RowsByFamily {
  const rows = emptyRows();
  const issues: InputIssue[] = [];
  const total = lists.reduce((sum, list) => sum + list.items.length, 0);
  if (total > options.maxItems) {
    const path = lists.length === 1 ? (lists[0]?.path ?? 'input') : 'input';
    throw new InputValidationError([
      { path, index: null, field: path, message: `holds ${total} records; at most ${options.maxItems} are accepted per request (INSIGHTS_BATCH_SIZE)` },
    ]);
  }
  const families = compile(options.receivedAt);
  for (const list of lists) {
    const { inputs, derived } = families[list.family];
    const out = rows[list.family] as unknown[];
    list.items.forEach((item, index) => {
      const report = (field: string, message: string) =>
        issues.push({
          path: list.indexed ? `${list.path}[${index}].${field}` : `${list.path}.${field}`,
          index: list.indexed ? index : null,
          field,
          message,
        });
      if (typeof item !== 'object' || item === null) {
        report('(record)', 'must be an object');
        return;
      }
      const record = item as Record<string, unknown>;
      const row: Record<string, unknown> = {};
      let valid = true;
      for (const { spec, check } of inputs) {
        const value = record[spec.name];
        if (value === undefined || value === null) {
          if (spec.required) {
            report(spec.name, 'is required');
            valid = false;
          } else row[spec.name] = spec.absent ? spec.absent(options.receivedAt) : null;
          continue;
        }
        const problem = check ? check(value) : null;
        if (problem) {
          report(spec.name, problem);
          valid = false;
        } else row[spec.name] = spec.normalize ? spec.normalize(value as never) : value;
      }
      if (!valid) return;
      for (const spec of derived) row[spec.name] = spec.derive?.(row);
      out.push(row);
    });
  }
  if (issues.length > 0) throw new InputValidationError(issues);
  return rows;
}
