// Factories for the AWS SDK v3 clients Flowline uses. Endpoints are never passed here: the SDK itself
// reads AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL (local engines, LocalStack) and otherwise uses
// the real AWS endpoint, so the same code runs everywhere. Callers own the instances (create once, at
// module scope in a Lambda handler).
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface AwsClientOptions {
  /** Defaults to the SDK's own resolution (AWS_REGION, profile). */
  region?: string;
  /** Attempts per call including the first (SDK standard retry mode, exponential backoff with jitter). */
  maxAttempts?: number;
  /** Socket connect timeout, ms. */
  connectionTimeoutMs?: number;
  /** Time without response data before a request fails and is retried, ms. */
  requestTimeoutMs?: number;
}

const DEFAULTS = { maxAttempts: 5, connectionTimeoutMs: 3_000, requestTimeoutMs: 15_000 } as const;

function commonConfig(options: AwsClientOptions) {
  const settings = { ...DEFAULTS, ...options };
  return {
    ...(settings.region ? { region: settings.region } : {}),
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard',
    // HTTP/1.1 with keep-alive. For Kinesis this is required, not a preference: the SDK defaults it to
    // HTTP/2, which kinesis-mock (and so LocalStack) serves unreliably (ERR_HTTP2_ERROR under load).
    // HTTP/1.1 covers every Kinesis API Flowline calls (all but SubscribeToShard).
    requestHandler: new NodeHttpHandler({
      connectionTimeout: settings.connectionTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      httpAgent: { keepAlive: true, maxSockets: 50 },
      httpsAgent: { keepAlive: true, maxSockets: 50 },
    }),
  };
}

export function createKinesisClient(options: AwsClientOptions = {}): KinesisClient {
  return new KinesisClient(commonConfig(options));
}

export function createDynamoDbClient(options: AwsClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient(commonConfig(options));
}

/** DynamoDB Streams (endpoint variable AWS_ENDPOINT_URL_DYNAMODB_STREAMS), read by local mode's event source mappings. */
export function createDynamoDbStreamsClient(options: AwsClientOptions = {}): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient(commonConfig(options));
}

export function createSqsClient(options: AwsClientOptions = {}): SQSClient {
  return new SQSClient(commonConfig(options));
}

/** CloudWatch Logs (endpoint variable AWS_ENDPOINT_URL_CLOUDWATCH_LOGS), for the flow log sink. */
export function createCloudWatchLogsClient(options: AwsClientOptions = {}): CloudWatchLogsClient {
  return new CloudWatchLogsClient(commonConfig(options));
}

export function createSecretsManagerClient(options: AwsClientOptions = {}): SecretsManagerClient {
  return new SecretsManagerClient(commonConfig(options));
}

/**
 * Path-style addressing when AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL points at a local S3 implementation
 * (s3rver, LocalStack): they serve http://host:port/bucket/key, not bucket.host virtual hosts.
 */
export function createS3Client(options: AwsClientOptions = {}): S3Client {
  const local = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  return new S3Client({ ...commonConfig(options), forcePathStyle: local });
}
