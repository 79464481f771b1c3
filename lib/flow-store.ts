// The flow store: the DynamoDB table of aggregated flows (one item per flow key), its TTL attribute, the
// sparse GSI the tickers query for flows that fell due, and its stream (NEW_IMAGE), which carries the rows
// each write closed to the exporter (docs/flow-state-and-scale-out.md, stream export model). Encrypted
// with the stack's data key (customer-managed, shared with the ingest stream), with PITR. Key and attribute
// names come from the table's code (functions/flow-store), passed in as `schema`.
import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { FlowLayoutKind, TableBillingMode } from './config.ts';

export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N' | 'B';
}

export interface FlowTableSchema {
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly ttlAttribute: string;
  readonly dueIndex: {
    readonly name: string;
    readonly partitionKey: KeyAttribute;
    readonly sortKey?: KeyAttribute;
    /** Attributes copied into the index; omitted = ALL. */
    nonKeyAttributes?: readonly string[];
  };
}

/** The flow schedule the correlator and the tickers must agree on (read by functions/flow-store/config.ts). */
export interface FlowSchedule {
  activeTimeoutSeconds: number;
  inactiveTimeoutSeconds: number;
  flowTtlSeconds: number;
  /** Partitions of the due index (DUE_SHARD_COUNT). */
  dueShardCount: number;
  /** The table's layout (FLOW_LAYOUT) and its buckets (FLOW_BUCKETS). */
  layout: FlowLayoutKind;
  flowBuckets: number;
  /** When a due key moves (INDEX_MARGIN_SECONDS): each flow's, or its bucket's. */
  indexMarginSeconds: number;
}

export function scheduleEnvironment(schedule: FlowSchedule): Record<string, string> {
  return {
    ACTIVE_TIMEOUT_SECONDS: String(schedule.activeTimeoutSeconds),
    INACTIVE_TIMEOUT_SECONDS: String(schedule.inactiveTimeoutSeconds),
    FLOW_TTL_SECONDS: String(schedule.flowTtlSeconds),
    DUE_SHARD_COUNT: String(schedule.dueShardCount),
    FLOW_LAYOUT: schedule.layout,
    INDEX_MARGIN_SECONDS: String(schedule.indexMarginSeconds),
    ...(schedule.layout === 'buckets' ? { FLOW_BUCKETS: String(schedule.flowBuckets) } : {}),
  };
}

export interface FlowStoreProps {
  schema: FlowTableSchema;
  billingMode: TableBillingMode;
  /** Provisioned mode only; used for the table and the index: the auto scaling minimum. */
  readCapacity: number;
  writeCapacity: number;
  /** Provisioned mode: auto scaling maximum (equal to the minimum: fixed capacity, no scaling). */
  maxReadCapacity: number;
  maxWriteCapacity: number;
  targetUtilisationPercent: number;
  removalPolicy: RemovalPolicy;
  deletionProtection: boolean;
  /** The stack's data key (FlowlineStack.dataKey), shared with the ingest stream. */
  key: kms.IKey;
}

const attributeType = (type: KeyAttribute['type']): dynamodb.AttributeType =>
  type === 'S'
    ? dynamodb.AttributeType.STRING
    : type === 'N'
      ? dynamodb.AttributeType.NUMBER
      : dynamodb.AttributeType.BINARY;

const attribute = (a: KeyAttribute): dynamodb.Attribute => ({ name: a.name, type: attributeType(a.type) });

export class FlowStore extends Construct {
  readonly table: dynamodb.Table;
  readonly key: kms.IKey;
  readonly schema: FlowTableSchema;

  constructor(scope: Construct, id: string, props: FlowStoreProps) {
    super(scope, id);
    this.schema = props.schema;
    this.key = props.key;
    const provisioned = props.billingMode === 'provisioned';
    const capacity = provisioned
      ? { readCapacity: props.readCapacity, writeCapacity: props.writeCapacity }
      : {};
    const { schema } = props;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: attribute(schema.partitionKey),
      sortKey: schema.sortKey ? attribute(schema.sortKey) : undefined,
      billingMode: provisioned ? dynamodb.BillingMode.PROVISIONED : dynamodb.BillingMode.PAY_PER_REQUEST,
      ...capacity,
      timeToLiveAttribute: schema.ttlAttribute,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
      // The new image only: the exporter reads the closed rows a write stored in the item (its `rows`).
      stream: dynamodb.StreamViewType.NEW_IMAGE,
    });
    const { dueIndex } = schema;
    this.table.addGlobalSecondaryIndex({
      indexName: dueIndex.name,
      partitionKey: attribute(dueIndex.partitionKey),
      sortKey: dueIndex.sortKey ? attribute(dueIndex.sortKey) : undefined,
      ...(dueIndex.nonKeyAttributes === undefined
        ? { projectionType: dynamodb.ProjectionType.ALL }
        : dueIndex.nonKeyAttributes.length === 0
          ? { projectionType: dynamodb.ProjectionType.KEYS_ONLY }
          : {
              projectionType: dynamodb.ProjectionType.INCLUDE,
              nonKeyAttributes: [...dueIndex.nonKeyAttributes],
            }),
      ...capacity,
    });
    if (provisioned) this.autoScale(props);
  }

  /**
   * Target-tracking auto scaling of table and due index, reads and writes, between the configured minimum
   * and maximum: the steady-load profile the cost model prices (cost/model.ts dynamodbMonthly).
   */
  private autoScale(props: FlowStoreProps): void {
    const target = { targetUtilizationPercent: props.targetUtilisationPercent };
    const reads = { minCapacity: props.readCapacity, maxCapacity: props.maxReadCapacity };
    const writes = { minCapacity: props.writeCapacity, maxCapacity: props.maxWriteCapacity };
    const index = this.schema.dueIndex.name;
    if (reads.maxCapacity > reads.minCapacity) {
      this.table.autoScaleReadCapacity(reads).scaleOnUtilization(target);
      this.table.autoScaleGlobalSecondaryIndexReadCapacity(index, reads).scaleOnUtilization(target);
    }
    if (writes.maxCapacity > writes.minCapacity) {
      this.table.autoScaleWriteCapacity(writes).scaleOnUtilization(target);
      this.table.autoScaleGlobalSecondaryIndexWriteCapacity(index, writes).scaleOnUtilization(target);
    }
  }

  /** ARN of the due-for-export index (what the tickers query). */
  get dueIndexArn(): string {
    return `${this.table.tableArn}/index/${this.schema.dueIndex.name}`;
  }

  /**
   * Exactly `actions` on the table's items, plus use of the table key through DynamoDB only. Explicit
   * actions instead of grantReadWriteData, whose kms:GenerateDataKey* / ReEncrypt* and Scan/Delete the
   * functions do not need. With `partitionKeyPatterns`, only on items whose partition key matches one of
   * them (dynamodb:LeadingKeys; ForAllValues, so every key of a batch request must match).
   */
  grantItemActions(grantee: iam.IGrantable, actions: string[], partitionKeyPatterns?: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions,
        resources: [this.table.tableArn],
        ...(partitionKeyPatterns
          ? { conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitionKeyPatterns } } }
          : {}),
      }),
    );
    this.grantKeyViaDynamoDb(grantee);
  }

  /** dynamodb:Query on the due-for-export index. */
  grantDueIndexQuery(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: [this.dueIndexArn] });
    this.grantKeyViaDynamoDb(grantee);
  }

  private grantKeyViaDynamoDb(grantee: iam.IGrantable): void {
    const viaDynamoDb = {
      StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` },
    };
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [this.key.keyArn],
        conditions: viaDynamoDb,
      }),
    );
  }
}
