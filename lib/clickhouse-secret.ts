// The ClickHouse credentials the exporter uses: a Secrets Manager secret holding JSON
// {"username": "...", "password": "..."}. Either created here (the password is generated; set it on the
// ClickHouse user, or put the real one into the secret) or an existing secret imported by ARN.
import type { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface ClickHouseSecretProps {
  username: string;
  /** Import this secret instead of creating one. */
  existingSecretArn: string | undefined;
  removalPolicy: RemovalPolicy;
}

export class ClickHouseSecret extends Construct {
  readonly secret: secretsmanager.ISecret;
  /** True when the secret is created (and owned) by this stack. */
  readonly created: boolean;

  constructor(scope: Construct, id: string, props: ClickHouseSecretProps) {
    super(scope, id);
    if (props.existingSecretArn) {
      this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', props.existingSecretArn);
      this.created = false;
      return;
    }
    const secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'Flowline: ClickHouse credentials for the exporter, JSON {"username","password"}',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: props.username }),
        generateStringKey: 'password',
        passwordLength: 40,
        excludePunctuation: true,
      },
    });
    secret.applyRemovalPolicy(props.removalPolicy);
    this.secret = secret;
    this.created = true;
  }
}
