/** Small pure helpers for the evaluator: comparisons and label matchers, exactly as documented in ../README.md. */
import type { Comparator, LabelMatcher } from './ast.js';
import { compileLabelPattern } from './regex.js';

/** value <comparator> threshold; NaN (no data) is never true, not even for !=. */
export function compare(value: number, comparator: Comparator, threshold: number): boolean {
  if (Number.isNaN(value)) return false;
  switch (comparator) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

/**
 * One predicate for a list of matchers (all must hold). `label(name)` gives a record's value for a label
 * (a family column or a tag; numbers and booleans as their JSON text), undefined when absent; an absent label
 * reads as "" (so `k=""` means "absent or empty" and `k!=""` "present", as in PromQL).
 */
export function compileMatchers(matchers: readonly LabelMatcher[]): (label: (name: string) => string | undefined) => boolean {
  const tests = matchers.map((m) => {
    switch (m.op) {
      case '=':
        return (v: string) => v === m.value;
      case '!=':
        return (v: string) => v !== m.value;
      case '=~': {
        const p = compileLabelPattern(m.value);
        return (v: string) => p.test(v);
      }
      case '!~': {
        const p = compileLabelPattern(m.value);
        return (v: string) => !p.test(v);
      }
    }
  });
  return (label) => matchers.every((m, i) => tests[i]!(label(m.label) ?? ''));
}
