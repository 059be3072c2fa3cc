import { CliError, formatCount, type CliArguments, type CliCommand } from '../../core/cli.js';
import type { Services } from '../../core/module.js';
import { FAMILIES, type Family } from '../../core/records.js';

const USAGE = 'insights rebuild-rollups --from <date> --to <date> [--family activities|systemMetrics|applicationMetrics|userMetrics|performanceMetrics]';

/** A date (2024-01-15, read as UTC midnight) or an ISO 8601 date-time. */
function parseWhen(option: string, value: unknown): Date {
  if (typeof value !== 'string' || value.trim() === '') throw new CliError(`rebuild-rollups needs --${option}.\nUsage: ${USAGE}`, 2);
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new CliError(`--${option} must be a date (2024-01-15) or an ISO 8601 date-time, not "${value}"`, 2);
  return date;
}

function parse({ positionals, values }: CliArguments): { from: Date; to: Date; families: Family[] } {
  if (positionals.length > 0) throw new CliError(`rebuild-rollups takes no arguments besides its options.\nUsage: ${USAGE}`, 2);
  const from = parseWhen('from', values.from);
  const to = parseWhen('to', values.to);
  if (from.getTime() >= to.getTime()) throw new CliError('--from must be before --to', 2);
  const asked = typeof values.family === 'string' ? [values.family] : [];
  const unknown = asked.filter((family) => !(FAMILIES as readonly string[]).includes(family));
  if (unknown.length > 0) throw new CliError(`--family must be one of ${FAMILIES.join(', ')}`, 2);
  return { from, to, families: asked.length > 0 ? (asked as Family[]) : [...FAMILIES] };
}

/** `npm run insights -- rebuild-rollups`: recomputes the rollups of a range from raw rows. */
export const rebuildRollupsCommand: CliCommand<Services> = {
  name: 'rebuild-rollups',
  usage: USAGE,
  summary: 'Recomputes the rollups (minute, hour, day) of every minute that holds records in [from, to), from the raw rows.',
  options: { from: { type: 'string' }, to: { type: 'string' }, family: { type: 'string' } },
  validate: (args) => void parse(args),
  async run(services, args, output) {
    const { from, to, families } = parse(args);
    output.out(`Rebuilding rollups of ${families.join(', ')} from ${from.toISOString()} to ${to.toISOString()}…\n`);
    const stats = await services.rollups.rebuild(from, to, families, (progress) => {
      if (output.isTTY) output.out(`\r\x1b[2K${formatCount(progress.minutes)} minutes, ${formatCount(progress.records)} records folded in`);
    });
    if (output.isTTY) output.out('\r\x1b[2K');
    output.out(
      `Rebuilt ${formatCount(stats.minutes)} minutes (${formatCount(stats.records)} records, ${formatCount(stats.rows)} rollup rows) in ${(stats.ms / 1000).toFixed(1)} s.\n`,
    );
    return 0;
  },
};
