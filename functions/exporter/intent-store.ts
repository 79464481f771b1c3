// The exporter's intents in the flow table (IntentStore of export-batch.ts): one small item per range of
// stream records with rows, pk "exporter#intent#<eventID of its first record>", kept two days (the stream keeps records
// for one) by the table's TTL. A strongly consistent read, because the intent a failed invocation just
// wrote must be found by its retry. Items that are not flows: the correlator and ticker never read them,
// and the exporter's stream filter leaves them out (no `rows` attribute).
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ATTR, INTENT_PK_PREFIX } from '../flow-store/schema.ts';
import type { ExportIntent, IntentStore } from './export-batch.ts';

const INTENT_TTL_SECONDS = 2 * 86_400;

export class DynamoIntentStore implements IntentStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly clock: () => number = Date.now,
  ) {}

  async get(firstEventId: string): Promise<ExportIntent | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { [ATTR.pk]: { S: INTENT_PK_PREFIX + firstEventId } },
        ConsistentRead: true,
      }),
    );
    const item = out.Item;
    if (!item) return undefined;
    return { count: Number(item.count?.N), lastEventId: item.last?.S ?? '', token: item.token?.S ?? '' };
  }

  async put(firstEventId: string, intent: ExportIntent): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          [ATTR.pk]: { S: INTENT_PK_PREFIX + firstEventId },
          count: { N: String(intent.count) },
          last: { S: intent.lastEventId },
          token: { S: intent.token },
          [ATTR.expiresAt]: { N: String(Math.ceil(this.clock() / 1000) + INTENT_TTL_SECONDS) },
        },
      }),
    );
  }
}
