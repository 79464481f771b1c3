// The ingest stream: the Kinesis Data Stream the collector-edge writes packed FlowRecords to, encrypted with
// the stack's customer-managed data key, which the flow store shares (FlowlineStack.dataKey).
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { StreamMode } from './config.ts';

export interface IngestStreamProps {
  mode: StreamMode;
  /** Provisioned mode only. */
  shardCount: number;
  retentionHours: number;
  removalPolicy: RemovalPolicy;
  /** The stack's data key (FlowlineStack.dataKey). */
  key: kms.IKey;
}

export class IngestStream extends Construct {
  readonly stream: kinesis.Stream;
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: IngestStreamProps) {
    super(scope, id);
    this.key = props.key;
    const provisioned = props.mode === 'provisioned';
    this.stream = new kinesis.Stream(this, 'Stream', {
      streamMode: provisioned ? kinesis.StreamMode.PROVISIONED : kinesis.StreamMode.ON_DEMAND,
      shardCount: provisioned ? props.shardCount : undefined,
      retentionPeriod: Duration.hours(props.retentionHours),
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: this.key,
      removalPolicy: props.removalPolicy,
    });
  }
}
