// What the in-cluster collector-edge may do: put records on the ingest stream, and nothing else. A customer
// managed policy (attach it to any principal) and a role carrying it, trusted by EKS Pod Identity (default:
// this account, its EKS clusters or the one named, and the collector's namespace and service account), by one
// Kubernetes service account through IRSA, or, as an explicit opt-in flagged by cdk-nag (lib/nag-rules.ts),
// by the whole account.
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { type CollectorTrust, oidcIssuerOf } from './config.ts';
import type { IngestStream } from './ingest-stream.ts';
import { ACCOUNT_TRUST_RULE } from './nag-rules.ts';

/** The only stream actions the producer uses: PutRecords, and shard discovery for partition planning. */
export const COLLECTOR_STREAM_ACTIONS = [
  'kinesis:PutRecords',
  'kinesis:ListShards',
  'kinesis:DescribeStreamSummary',
];

export interface CollectorAccessProps {
  ingest: IngestStream;
  trust: CollectorTrust;
  /** IRSA only. */
  oidcProviderArn: string | undefined;
  /** Pod Identity: the EKS cluster the collector runs in (any cluster of the account when undefined). */
  eksClusterName: string | undefined;
  /** 'account' trust only: why, recorded as the acknowledgement of the cdk-nag finding Flowline-IAM1. */
  accountTrustReason: string | undefined;
  namespace: string;
  serviceAccount: string;
}

export class CollectorAccess extends Construct {
  readonly policy: iam.ManagedPolicy;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: CollectorAccessProps) {
    super(scope, id);
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: 'Flowline collector-edge: put records on the Flowline ingest stream',
      statements: [
        new iam.PolicyStatement({
          sid: 'PutFlowRecords',
          actions: COLLECTOR_STREAM_ACTIONS,
          resources: [props.ingest.stream.streamArn],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptWithStreamKey',
          actions: ['kms:GenerateDataKey'],
          resources: [props.ingest.key.keyArn],
          // Only through Kinesis: the key is also the flow store's, which the collector has no business with.
          conditions: {
            StringEquals: { 'kms:ViaService': `kinesis.${Stack.of(this).region}.amazonaws.com` },
          },
        }),
      ],
    });
    this.role = new iam.Role(this, 'Role', {
      description: 'Flowline collector-edge (Kinesis producer)',
      assumedBy: trustPrincipal(this, props),
      managedPolicies: [this.policy],
    });
    if (props.trust === 'account' && props.accountTrustReason)
      Validations.of(this.role).acknowledge({ id: ACCOUNT_TRUST_RULE, reason: props.accountTrustReason });
  }
}

function trustPrincipal(scope: Construct, props: CollectorAccessProps): iam.IPrincipal {
  switch (props.trust) {
    case 'irsa': {
      const providerArn = props.oidcProviderArn;
      if (!providerArn) throw new Error('IRSA trust needs the OIDC provider ARN');
      const issuer = oidcIssuerOf(providerArn);
      return new iam.OpenIdConnectPrincipal(
        iam.OpenIdConnectProvider.fromOpenIdConnectProviderArn(scope, 'OidcProvider', providerArn),
        {
          StringEquals: {
            [`${issuer}:sub`]: `system:serviceaccount:${props.namespace}:${props.serviceAccount}`,
            [`${issuer}:aud`]: 'sts.amazonaws.com',
          },
        },
      );
    }
    case 'pod-identity': {
      // EKS Pod Identity assumes with sts:TagSession and tags the session with the cluster, namespace and
      // service account; the source conditions keep another account's or cluster's association out.
      const stack = Stack.of(scope);
      const cluster = props.eksClusterName;
      const conditions = {
        StringEquals: {
          'aws:SourceAccount': stack.account,
          'aws:RequestTag/kubernetes-namespace': props.namespace,
          'aws:RequestTag/kubernetes-service-account': props.serviceAccount,
          ...(cluster ? { 'aws:RequestTag/eks-cluster-name': cluster } : {}),
        },
        ArnLike: {
          'aws:SourceArn': stack.formatArn({
            service: 'eks',
            resource: 'cluster',
            resourceName: cluster ?? '*',
          }),
        },
      };
      return new iam.SessionTagsPrincipal(
        new iam.ServicePrincipal('pods.eks.amazonaws.com').withConditions(conditions),
      );
    }
    case 'account':
      return new iam.AccountRootPrincipal();
  }
}
