// FLOWLINE_TLS_CERTIFICATES and its companions: off by default, the Flow Aggregator's defaults when on, every
// problem reported at once.
import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../../collector-edge/config.ts';
import { generatedCertificateSettings } from '../../../collector-edge/tls/generated-certificates.ts';

describe('generatedCertificateSettings', () => {
  test('off unless asked for', () => {
    expect(generatedCertificateSettings({})).toBeUndefined();
    expect(generatedCertificateSettings({ FLOWLINE_TLS_CERTIFICATES: 'files' })).toBeUndefined();
  });

  test("on: the Flow Aggregator's namespace and Service unless the Pod says otherwise", () => {
    expect(
      generatedCertificateSettings({ FLOWLINE_TLS_CERTIFICATES: 'generate', FLOWLINE_TLS_DIR: '/t' }),
    ).toEqual({
      namespace: 'flow-aggregator',
      serviceName: 'flow-aggregator',
      tlsDir: '/t',
    });
    expect(
      generatedCertificateSettings({
        FLOWLINE_TLS_CERTIFICATES: 'generate',
        FLOWLINE_TLS_DIR: '/t',
        POD_NAMESPACE: 'flows',
        FLOWLINE_TLS_SERVICE_NAME: 'collector',
        FLOWLINE_TLS_EXTRA_ADDRESS: ' 10.0.0.9 ',
      }),
    ).toEqual({ namespace: 'flows', serviceName: 'collector', tlsDir: '/t', extraAddress: '10.0.0.9' });
  });

  test('every problem at once', () => {
    const env = {
      FLOWLINE_TLS_CERTIFICATES: 'vault',
      POD_NAMESPACE: 'Not_A_Label',
      FLOWLINE_TLS_EXTRA_ADDRESS: 'a b',
    };
    let error: unknown;
    try {
      generatedCertificateSettings(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'FLOWLINE_TLS_CERTIFICATES: must be files or generate, got "vault"',
      'POD_NAMESPACE: "Not_A_Label" is not a DNS label',
      'FLOWLINE_TLS_DIR: generated certificates need a writable directory',
      'FLOWLINE_TLS_EXTRA_ADDRESS: "a b" is not a DNS name or IP address',
    ]);
  });
});
