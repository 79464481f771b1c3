// Flowline's own cdk-nag rules (cdk-nag's NagPack), run next to AwsSolutions on every synth (bin/app.ts):
// Flowline-IAM1: a role that any principal of an account may assume (trust in the account root, no
// condition). The collector role only has it with collectorTrust=account, an explicit opt-in that must also
// give collectorAccountTrustReason, which acknowledges this finding (visible in the validation report).
import { type CfnResource, Stack } from 'aws-cdk-lib';
import { CfnRole } from 'aws-cdk-lib/aws-iam';
import { NagMessageLevel, NagPack, type NagPackProps, NagRuleCompliance } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export const ACCOUNT_TRUST_RULE = 'Flowline::Flowline-IAM1';

interface TrustStatement {
  Effect?: string;
  Principal?: { AWS?: unknown };
  Condition?: Record<string, unknown>;
}

/** Whether a resolved principal value names an account root ("arn:...:root", or a bare account id). */
function isAccountRoot(value: unknown): boolean {
  const text = JSON.stringify(value);
  return /:root"/.test(text) || /^"\d{12}"$/.test(text);
}

export function trustsAccountRoot(role: CfnRole): boolean {
  const document = Stack.of(role).resolve(role.assumeRolePolicyDocument) as { Statement?: TrustStatement[] };
  return (document.Statement ?? []).some((statement) => {
    if (statement.Effect !== 'Allow' || statement.Condition) return false;
    const aws = statement.Principal?.AWS;
    return (Array.isArray(aws) ? aws : [aws]).some((value) => value !== undefined && isAccountRoot(value));
  });
}

export class FlowlineChecks extends NagPack {
  readonly name = 'Flowline';

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'Flowline';
  }

  protected checkResource(node: CfnResource): void {
    this.applyRule({
      ruleSuffixOverride: 'IAM1',
      info: 'The IAM role trusts a whole account: any principal in it may assume the role.',
      explanation:
        'Trust one service account (IRSA, with sub and aud conditions) or EKS Pod Identity (with source ' +
        'account, cluster and service account conditions) instead. Account-wide trust is an explicit opt-in ' +
        '(collectorTrust=account with collectorAccountTrustReason).',
      level: NagMessageLevel.ERROR,
      node,
      rule: (resource: CfnResource) =>
        !(resource instanceof CfnRole)
          ? NagRuleCompliance.NOT_APPLICABLE
          : trustsAccountRoot(resource)
            ? NagRuleCompliance.NON_COMPLIANT
            : NagRuleCompliance.COMPLIANT,
    });
  }
}
