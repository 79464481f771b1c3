// `flowline grafana-import`: loads the dashboards into a running Grafana (cli/grafana-import.ts).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';

interface GrafanaImportFlags {
  url?: string;
  user: string;
  passwordFile?: string;
  folder: string;
  folderUid: string;
  datasourceUid?: string;
  dir?: string;
}

export function register(program: Command): void {
  program
    .command('grafana-import')
    .description(
      'load the Flowline dashboards into a running Grafana through its HTTP API (idempotent: updates in place)',
    )
    .option(
      '--url <url>',
      'Grafana base URL, e.g. http://grafana.flow-visibility.svc:3000 (env GRAFANA_URL)',
      process.env.GRAFANA_URL,
    )
    .option(
      '--user <user>',
      'Grafana login (env GRAFANA_USER); or env GRAFANA_TOKEN for a service-account token',
      process.env.GRAFANA_USER ?? 'admin',
    )
    .option('--password-file <file>', 'file holding the password (default: env GRAFANA_PASSWORD)')
    .option('--folder <title>', 'folder the dashboards go to', 'Flowline')
    .option('--folder-uid <uid>', 'uid of that folder', 'flowline')
    .option('--datasource-uid <uid>', 'ClickHouse data source to preselect in the dashboards')
    .option('--dir <dir>', 'dashboards directory (default: the bundled deploy/grafana/dashboards)')
    .action(async (flags: GrafanaImportFlags) => {
      const { importDashboards } = await import('../grafana-import.ts');
      try {
        if (!flags.url) throw new Error('--url (or GRAFANA_URL) is required');
        const token = process.env.GRAFANA_TOKEN;
        const password = flags.passwordFile
          ? readFileSync(flags.passwordFile, 'utf8').trim()
          : process.env.GRAFANA_PASSWORD;
        if (!token && password === undefined)
          throw new Error('a password (--password-file or GRAFANA_PASSWORD) or GRAFANA_TOKEN is required');
        const imported = await importDashboards({
          url: flags.url,
          auth: token ? { token } : { user: flags.user, password: password ?? '' },
          folderTitle: flags.folder,
          folderUid: flags.folderUid,
          ...(flags.dir ? { dir: flags.dir } : {}),
          ...(flags.datasourceUid ? { datasourceUid: flags.datasourceUid } : {}),
        });
        for (const d of imported) console.log(`imported ${d.file} as ${d.uid} (version ${d.version})`);
      } catch (error) {
        process.exitCode = 1;
        console.error(`grafana-import failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
}
