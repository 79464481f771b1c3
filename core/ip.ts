// Canonical text forms of IP addresses, as Go's net.IP.String() prints them (Antrea's flow keys and
// ClickHouse columns use that form): dotted quad for IPv4, RFC 5952 for IPv6, IPv4-mapped IPv6 as IPv4.

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

// Scratch for formatIPv6's groups: formatting runs synchronously, so one array serves every call.
const groups = new Uint16Array(8);

export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  for (let i = 0; i < 8; i++) groups[i] = (bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!;
  if (
    groups[0] === 0 &&
    groups[1] === 0 &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0 &&
    groups[5] === 0xffff
  ) {
    return formatIPv4(bytes, offset + 12);
  }
  // RFC 5952 4.2: compress the longest run (length >= 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  // Built by concatenation: no intermediate arrays (the collector formats every IPv6 address it sees).
  let text = '';
  if (bestStart < 0) {
    for (let i = 0; i < 8; i++) text += i === 0 ? groups[i]!.toString(16) : `:${groups[i]!.toString(16)}`;
    return text;
  }
  for (let i = 0; i < bestStart; i++)
    text += i === 0 ? groups[i]!.toString(16) : `:${groups[i]!.toString(16)}`;
  text += '::';
  for (let i = bestStart + bestLength; i < 8; i++)
    text += i === bestStart + bestLength ? groups[i]!.toString(16) : `:${groups[i]!.toString(16)}`;
  return text;
}

/** True for 0.0.0.0 and :: (Antrea's "unset" address), and for the empty string. */
export function isUnspecifiedAddress(text: string): boolean {
  return text === '' || text === '0.0.0.0' || text === '::';
}

/** Antrea's rule for Service/SNAT addresses: the all-zeros address means unset, written as "". */
export function addressOrEmpty(text: string): string {
  return isUnspecifiedAddress(text) ? '' : text;
}

/** Parses an IPv4 or IPv6 text address into bytes (4 or 16); undefined when it is not an address. */
export function parseIP(text: string): Uint8Array | undefined {
  if (text.includes(':')) return parseIPv6(text);
  return parseIPv4(text);
}

function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    out[i] = value;
  }
  return out;
}

function parseIPv6(text: string): Uint8Array | undefined {
  let body = text;
  const tailBytes: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(body.slice(lastColon + 1));
    if (!v4) return undefined;
    tailBytes.push(...v4);
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      groups.push(Number.parseInt(g, 16));
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  if (tailBytes.length === 4) out.set(tailBytes, 12);
  return out;
}

/** Canonical text of any textual address (e.g. "2001:0:3238:DFE1:63::FEFB" -> "2001:0:3238:dfe1:63::fefb"). */
export function canonicalIP(text: string): string {
  const bytes = parseIP(text);
  if (!bytes) return text;
  return bytes.length === 4 ? formatIPv4(bytes) : formatIPv6(bytes);
}
