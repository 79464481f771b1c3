// Pod labels as Antrea serialises them into the sourcePodLabels / destinationPodLabels columns
// (flowrecord/record.go, exporter/ipfix.go): Go's json.Marshal of the label map, i.e. keys sorted, compact.
// A Pod without labels is "{}"; "no Pod / unknown" is "" (the caller's business). Pure, shared by the
// collector (which fills labels from its Pod informer) and the exporter (which normalises what arrives).

/** Go json.Marshal of a map[string]string: keys in byte order, no spaces. */
export function labelsJson(labels: Readonly<Record<string, string>> | undefined | null): string {
  if (!labels) return '{}';
  const keys = Object.keys(labels);
  if (keys.length === 0) return '{}';
  keys.sort(byCodeUnit);
  const sorted: Record<string, string> = {};
  for (const key of keys) sorted[key] = labels[key]!;
  return goEscape(JSON.stringify(sorted));
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Go's encoder escapes <, >, & and U+2028/U+2029 where JSON.stringify does not. */
function goEscape(json: string): string {
  return /[<>&\u2028\u2029]/.test(json)
    ? json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : json;
}
