/** Alert condition language: grammar and semantics in ../README.md. Pure: no database, no GraphQL. */
export * from './ast.js';
export { ConditionSyntaxError, type ConditionPosition } from './errors.js';
export { parseCondition, type ParseOptions } from './parser.js';
export { printCondition, printSeries, printSource, printDuration, printNumber, printString } from './printer.js';
export { conditionFamily, conditionKind, validateCondition, type ConditionIssue } from './semantics.js';
export { compileLabelPattern, toAnchoredRegExpSource, PatternError, type LabelPattern } from './regex.js';
export { compare, compileMatchers } from './evaluate.js';
export { labelTarget, LABEL_FIELDS, type LabelTarget } from './labels.js';
