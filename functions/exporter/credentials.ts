// The exporter's secrets (ClickHouse credentials, the IPFIX export's TLS material): from AWS Secrets Manager
// through Powertools Parameters, which caches a value per container for maxAge (one GetSecretValue per
// cold start and then every maxAge, not per round).
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { ClickHouseTarget } from './clickhouse-target.ts';

export interface ClickHouseCredentials {
  username: string;
  password: string;
}

/** A secret is either JSON {"password": "...", "username"?: "..."} or the bare password. */
export function parseClickHouseSecret(secret: string, defaultUser: string): ClickHouseCredentials {
  const text = secret.trim();
  if (text.startsWith('{')) {
    let parsed: { username?: unknown; password?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new Error('ClickHouse secret looks like JSON but does not parse');
    }
    if (typeof parsed.password !== 'string')
      throw new Error('ClickHouse secret JSON has no "password" string');
    return {
      username: typeof parsed.username === 'string' && parsed.username !== '' ? parsed.username : defaultUser,
      password: parsed.password,
    };
  }
  return { username: defaultUser, password: secret };
}

/** A secret's string value, through Powertools' per-container cache (one GetSecretValue per maxAge). */
export async function secretStringOf(secretId: string, maxAgeSeconds: number): Promise<string> {
  const secret = await getSecret<string>(secretId, { maxAge: maxAgeSeconds });
  if (typeof secret !== 'string') throw new Error(`Secrets Manager secret ${secretId} has no string value`);
  return secret;
}

export async function clickHouseCredentials(config: ClickHouseTarget): Promise<ClickHouseCredentials> {
  const { secretId, username, password } = config.clickhouse;
  if (!secretId) return { username, password: password ?? '' };
  return parseClickHouseSecret(await secretStringOf(secretId, config.secretMaxAgeSeconds), username);
}
