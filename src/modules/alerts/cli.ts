import { table, type CliCommand } from '../../core/cli.js';
import type { Services } from '../../core/module.js';
import { formatValue } from './templates.js';

/** `insights alerts`: the open alerts, most severe first. */
export const alertsCommand: CliCommand<Services> = {
  name: 'alerts',
  usage: 'insights alerts [--json]',
  summary: 'Lists the active alerts (PENDING and FIRING), most severe first.',
  migrate: false,
  options: { json: { type: 'boolean' } },
  async run(services, { values }, output) {
    const alerts = await services.alerting.activeAlerts();
    const { silences, inhibited } = await services.alerting.mutes(alerts);
    const rows = alerts.map((alert) => {
      const muted = [
        ...(services.alerting.silencedBy(silences, alert).length > 0 ? ['silenced'] : []),
        ...(inhibited.has(alert.id) ? ['inhibited'] : []),
        ...(alert.acknowledgedAt ? [`acknowledged by ${alert.acknowledgedBy ?? '?'}`] : []),
      ];
      return { alert, muted };
    });
    if (values.json) {
      output.out(`${JSON.stringify(rows.map(({ alert, muted }) => ({ ...alert, muted })), null, 2)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      output.out('No active alerts.\n');
      return 0;
    }
    const labelText = (labels: Record<string, string>) =>
      Object.entries(labels)
        .filter(([key]) => key !== 'alertname' && key !== 'severity')
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
    output.out(
      `${table([
        ['Status', 'Severity', 'Rule', 'Labels', 'Value', 'Since', 'Notes'],
        ...rows.map(({ alert, muted }) => [
          alert.status,
          alert.severity,
          alert.ruleName,
          labelText(alert.labels) || '-',
          formatValue(alert.value),
          (alert.firedAt ?? alert.startsAt).toISOString(),
          muted.join('; '),
        ]),
      ])}\n${rows.length} active alert(s).\n`,
    );
    return 0;
  },
};
