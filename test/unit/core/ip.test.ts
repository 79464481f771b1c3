import { describe, expect, it } from 'vitest';
import { canonicalIP, formatIPv6, isUnspecifiedAddress, parseIP } from '../../../core/ip.ts';

const v6 = (text: string) => formatIPv6(parseIP(text)!);

describe('IP text forms (Go net.IP.String, RFC 5952)', () => {
  it('compresses the longest zero run, lower case', () => {
    expect(v6('2001:0:3238:DFE1:63:0:0:FEFB')).toBe('2001:0:3238:dfe1:63::fefb');
    expect(v6('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // first run wins a tie
    expect(v6('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1'); // longest run wins
    expect(v6('::')).toBe('::');
    expect(v6('::1')).toBe('::1');
    expect(v6('fe80::')).toBe('fe80::');
  });

  it('never compresses a single zero group', () => {
    expect(v6('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
  });

  it('prints IPv4-mapped IPv6 as IPv4, as Go does', () => {
    expect(v6('::ffff:10.0.0.1')).toBe('10.0.0.1');
  });

  it('rejects what is not an address', () => {
    for (const bad of ['', '1.2.3', '256.1.1.1', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7']) {
      expect(parseIP(bad), bad).toBeUndefined();
    }
    expect(canonicalIP('not an ip')).toBe('not an ip');
  });

  it('knows the unspecified addresses Antrea uses for "unset"', () => {
    expect(isUnspecifiedAddress('0.0.0.0')).toBe(true);
    expect(isUnspecifiedAddress('::')).toBe(true);
    expect(isUnspecifiedAddress('')).toBe(true);
    expect(isUnspecifiedAddress('10.0.0.3')).toBe(false);
  });
});
