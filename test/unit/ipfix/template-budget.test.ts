// The template store's process-wide budget (template-store.ts): count and byte limits with least recently
// used eviction (unused templates first), compiled decoders released with their templates, and the compile
// budget that holds data sets instead of compiling without bound, then decodes them in a later window.
import { describe, expect, it } from 'vitest';
import {
  createIpfixDecoder,
  type EncoderTemplate,
  encodeMessage,
  field,
  type TemplateInfo,
  type TransportSession,
} from '../../../collector-edge/ipfix/index.ts';
import { floodTemplate, templateFloodMessage } from '../../support/hostile-ipfix.ts';

const udpSession = (port: number): TransportSession => ({
  id: `udp|127.0.0.1:${port}|127.0.0.1:4739`,
  exporterAddress: '127.0.0.1',
  transport: 'udp',
});
const agent: TransportSession = { id: 'tcp|10.0.0.5:40000|x', exporterAddress: '10.0.0.5', transport: 'tcp' };
const header = { exportTime: 1_700_000_000, sequenceNumber: 0, observationDomainId: 1 };
const t256: EncoderTemplate = {
  templateId: 256,
  fields: [field('sourceIPv4Address'), field('destinationIPv4Address'), field('protocolIdentifier')],
};
const record = { sourceIPv4Address: '10.0.0.1', destinationIPv4Address: '10.0.0.2', protocolIdentifier: 6 };
const templateMsg = (t: EncoderTemplate) => encodeMessage(header, [{ kind: 'templates', templates: [t] }]);
const dataMsg = (t: EncoderTemplate, records = [record]) =>
  encodeMessage(header, [{ kind: 'data', template: t, records }]);

/** 1,000 unused templates of `fields` fields from 100 UDP ports. */
function flood(decoder: ReturnType<typeof createIpfixDecoder>, fields: number, count = 1000): void {
  for (let i = 0; i < count; i += 10) {
    const templates = Array.from({ length: 10 }, (_, j) => floodTemplate(256 + j, fields, i + j));
    decoder.decodeMessage(templateFloodMessage(templates), udpSession(20000 + i / 10));
  }
}

describe('template budget', () => {
  it('bounds the count across sessions, evicting unused templates before a template in use', () => {
    const evicted: Array<[TemplateInfo, string]> = [];
    const decoder = createIpfixDecoder({
      templateBudget: { maxTemplates: 50 },
      onTemplateEvicted: (info, why) => evicted.push([info, why]),
    });
    decoder.decodeMessage(templateMsg(t256), agent);
    expect(decoder.decodeMessage(dataMsg(t256), agent).recordCount).toBe(1);
    flood(decoder, 20);
    const stats = decoder.stats();
    expect(stats.templatesStored).toBeLessThanOrEqual(50);
    expect(stats.templatesDefined).toBe(1001);
    expect(stats.templatesEvicted).toBe(1001 - stats.templatesStored);
    expect(evicted).toHaveLength(stats.templatesEvicted);
    expect(evicted.every(([info, why]) => why === 'count' && info.sessionId !== agent.id)).toBe(true);
    // The agent's template, in use, outlived the flood.
    expect(decoder.decodeMessage(dataMsg(t256), agent).recordCount).toBe(1);
    expect(decoder.templates().filter((t) => t.sessionId === agent.id)).toHaveLength(1);
  });

  it('bounds the estimated bytes across sessions', () => {
    const maxBytes = 256 * 1024;
    const decoder = createIpfixDecoder({ templateBudget: { maxBytes } });
    flood(decoder, 500);
    const usage = decoder.templateUsage();
    expect(usage.bytes).toBeLessThanOrEqual(maxBytes);
    expect(usage.templates).toBeGreaterThan(10);
    expect(decoder.stats().templatesEvicted).toBe(1000 - usage.templates);
  });

  it('releases a compiled decoder with the last template that uses it', () => {
    const decoder = createIpfixDecoder({ templateBudget: { maxTemplates: 5 } });
    for (let i = 0; i < 20; i++) {
      const template = floodTemplate(300, 4, i);
      const session = udpSession(30000 + i);
      decoder.decodeMessage(templateFloodMessage([template]), session);
      const records = [{ f0: 'aa'.repeat(1 + (i % 200)), f1: '01', f2: '0102', f3: '010203' }];
      expect(
        decoder.decodeMessage(encodeMessage(header, [{ kind: 'data', template, records }]), session)
          .recordCount,
      ).toBe(1);
      expect(decoder.stats().compiledDecoders).toBeLessThanOrEqual(5);
    }
    for (let i = 0; i < 20; i++) decoder.closeSession(udpSession(30000 + i).id);
    expect(decoder.stats()).toMatchObject({ compiledDecoders: 0, templatesStored: 0, templateBytes: 0 });
  });

  it('a refresh with the same fields keeps the compiled decoder; other fields replace it', () => {
    let now = 1_000_000;
    const decoder = createIpfixDecoder({ clock: () => now, templateBudget: { compileFieldsPerSecond: 10 } });
    decoder.decodeMessage(templateMsg(t256), agent);
    expect(decoder.decodeMessage(dataMsg(t256), agent).recordCount).toBe(1);
    for (let i = 0; i < 3; i++) {
      now += 1; // same compile window: a recompile would be deferred
      decoder.decodeMessage(templateMsg(t256), agent);
      expect(decoder.decodeMessage(dataMsg(t256), agent).recordCount).toBe(1);
    }
    expect(decoder.stats()).toMatchObject({ compiledDecoders: 1, compileDeferrals: 0, templatesStored: 1 });
    const other = { ...t256, fields: t256.fields.slice(0, 2) };
    decoder.decodeMessage(templateMsg(other), agent);
    expect(decoder.stats()).toMatchObject({ compiledDecoders: 0, templatesStored: 1 });
  });

  it('defers compiling over the compile budget: the data set is held, then decoded in a later window', () => {
    let now = 1_000_000;
    // 10 fields per 100 ms window: one 8-field template per window.
    const decoder = createIpfixDecoder({ clock: () => now, templateBudget: { compileFieldsPerSecond: 100 } });
    const templates = [0, 1, 2].map((v) => floodTemplate(400 + v, 8, v));
    const recordOf = (t: EncoderTemplate) =>
      Object.fromEntries(t.fields.map((f) => [f.name, '00'.repeat(f.length)]));
    const message = encodeMessage(header, [
      { kind: 'templates', templates },
      ...templates.map((template) => ({ kind: 'data' as const, template, records: [recordOf(template)] })),
    ]);
    const first = decoder.decodeMessage(message, agent);
    expect(first.recordCount).toBe(1);
    expect(first.heldSets).toBe(2);
    expect(decoder.stats().compileDeferrals).toBeGreaterThanOrEqual(2);
    const released: number[] = [];
    for (let window = 1; window <= 2; window++) {
      now += 100;
      const later = decoder.decodeMessage(encodeMessage(header, []), agent);
      for (const set of later.dataSets) if (set.delayed) released.push(set.templateId);
    }
    expect(released.sort()).toEqual([401, 402]);
    expect(decoder.stats()).toMatchObject({ currentlyHeld: 0, setsDropped: 0, records: 3 });
  });
});
