import { expect, test } from 'vitest';
import { udpSocketStats } from '../../../collector-edge/udp-drops.ts';

// Lines of a real /proc/net/udp (Linux 6.x): a listener on 127.0.0.1:4739 (0x1283) that dropped 17
// datagrams, a connected socket, and a wildcard listener on 0.0.0.0:4739 with 3 drops.
const LISTING = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1416: 0100007F:1283 00000000:0000 07 00000000:00035A00 00:00000000 00000000     0        0 26163 2 00000000adccfd30 17
 2176: 0100007F:9EEA 0100007F:CFE5 01 00000000:00000000 00:00000000 00000000     0        0 111624 2 000000004d0f2987 0
 2300: 00000000:1283 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 111700 2 000000004d0f2988 3
`;

test('kernel drops and receive queue of the sockets bound to a port, from /proc/net/udp', () => {
  expect(udpSocketStats(LISTING, 4739)).toEqual({ drops: 20, receiveQueueBytes: 0x35a00 });
  expect(udpSocketStats(LISTING, 0x9eea)).toEqual({ drops: 0, receiveQueueBytes: 0 });
  expect(udpSocketStats(LISTING, 9999)).toBeUndefined();
  expect(udpSocketStats('no header here\n', 4739)).toBeUndefined();
});

test('a socket whose remote port is the listener port is not the listener', () => {
  const connected = `${LISTING} 2400: 0100007F:D431 0100007F:1283 01 00000000:00000000 00:00000000 00000000     0        0 111800 2 000000004d0f2989 9\n`;
  expect(udpSocketStats(connected, 4739)).toEqual({ drops: 20, receiveQueueBytes: 0x35a00 });
});
