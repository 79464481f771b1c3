// tshark's IPFIX decode as records (Debian's tshark, installed by scripts/ensure-ipfix-tools.sh): the
// independent decoder the IPFIX cross-checks compare against.
import { execFileSync, spawnSync } from 'node:child_process';

export type Json = string | Json[] | { [key: string]: Json };

/**
 * Installs tshark if needed (scripts/ensure-ipfix-tools.sh). Returns why it is missing when the script says it
 * cannot be installed here (exit 3; the caller skips its tshark half and this warns, naming `check`);
 * undefined when present; throws on any other failure.
 */
export function ensureIpfixTools(check: string): string | undefined {
  const ensure = spawnSync('bash', ['scripts/ensure-ipfix-tools.sh'], { encoding: 'utf8', timeout: 600_000 });
  if (ensure.status === 3) {
    const missing = ensure.stderr.trim();
    console.warn(`SKIPPING ${check}: ${missing}`);
    return missing;
  }
  if (ensure.status !== 0) throw new Error(`scripts/ensure-ipfix-tools.sh failed: ${ensure.stderr}`);
  return undefined;
}

/**
 * tshark's decode: every data record ("Flow N" objects in cflow sets), in capture order. `preferences`
 * are `-o name:value` settings (e.g. cflow.max_template_fields, 60 by default, for longer templates).
 */
export function tsharkRecords(
  capture: string,
  decodeAs: string,
  preferences: string[] = [],
): Array<Record<string, Json>> {
  const options = preferences.flatMap((p) => ['-o', p]);
  const out = execFileSync(
    'tshark',
    ['-r', capture, '-d', decodeAs, ...options, '-T', 'json', '--no-duplicate-keys'],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const packets = JSON.parse(out) as Array<{ _source: { layers: Record<string, Json> } }>;
  const records: Array<Record<string, Json>> = [];
  const visit = (node: Json) => {
    if (typeof node !== 'object' || Array.isArray(node)) {
      if (Array.isArray(node)) node.forEach(visit);
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      if (/^Flow \d+$/.test(key)) {
        for (const flow of Array.isArray(value) ? value : [value])
          records.push(flatten(flow as Record<string, Json>));
      } else if (typeof value === 'object') visit(value);
    }
  };
  for (const p of packets) for (const layer of asArray(p._source.layers.cflow)) visit(layer);
  return records;
}

export function asArray(value: Json | undefined): Json[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Flattens "_tree" sub-objects into the record; values stay arrays where tshark merged duplicates. */
function flatten(node: Record<string, Json>, into: Record<string, Json> = {}): Record<string, Json> {
  for (const [key, value] of Object.entries(node)) {
    if (typeof value === 'object' && !Array.isArray(value)) flatten(value, into);
    else if (key in into) into[key] = [...asArray(into[key]), ...asArray(value)];
    else into[key] = value;
  }
  return into;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Nov 14, 2023 22:13:20.005000999 UTC" -> nanoseconds since the epoch. */
export function tsharkTimeNanos(text: string): bigint {
  const m = /^(\w{3}) +(\d+), (\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? UTC$/.exec(text);
  if (!m) throw new Error(`unexpected tshark time ${text}`);
  const seconds =
    Date.UTC(Number(m[3]), MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6])) /
    1000;
  return BigInt(seconds) * 1_000_000_000n + BigInt((m[7] ?? '0').padEnd(9, '0').slice(0, 9));
}
