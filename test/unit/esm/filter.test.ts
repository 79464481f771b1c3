// Lambda event filtering as the emulator applies it (local/esm/filter.ts): the exporter's pattern on the
// DynamoDB stream records the flow table produces, and the matcher semantics it rests on.
import type { AttributeValue } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { compileFilters, compilePattern, FilterPatternError } from '../../../local/esm/filter.ts';
import { readDynamoDbStreamMappings, TemplateSettingsError } from '../../../local/esm/settings.ts';

/** A flow table stream record (NEW_IMAGE) as Lambda's event carries it. */
function streamRecord(newImage: Record<string, AttributeValue> | undefined) {
  return {
    eventID: 'e1',
    eventName: 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    dynamodb: {
      ApproximateCreationDateTime: 1_767_225_600,
      Keys: { pk: newImage?.pk ?? { S: 'x' } },
      NewImage: newImage,
      SequenceNumber: '100',
      SizeBytes: 120,
      StreamViewType: 'NEW_IMAGE',
    },
    eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/flows/stream/2026-01-01T00:00:00.000',
  };
}

/** The exporter's filter (lib/exporter.ts), as the synthesized template spells it. */
const EXPORTER_PATTERN = '{"dynamodb":{"NewImage":{"rows":{"B":[{"exists":true}]}}}}';

describe('the exporter filter on flow table stream records', () => {
  const exporter = compileFilters([EXPORTER_PATTERN]);
  const flowKey = { S: '10.0.0.1|10.0.0.2|6|1234|5678' };

  it('passes a write that closed rows (a binary rows attribute)', () => {
    expect(exporter(streamRecord({ pk: flowKey, v: { N: '3' }, rows: { B: 'AQID' } }))).toBe(true);
  });

  it('drops a write that closed nothing, the exporter intents and the sinks outbox (rows is a number)', () => {
    expect(exporter(streamRecord({ pk: flowKey, v: { N: '4' }, rec: { B: 'AAAA' } }))).toBe(false);
    expect(
      exporter(
        streamRecord({
          pk: { S: 'exporter#intent#e1' },
          count: { N: '2' },
          last: { S: 'e2' },
          token: { S: '' },
        }),
      ),
    ).toBe(false);
    expect(exporter(streamRecord({ pk: { S: 'flusher#outbox#7' }, rows: { N: '120' } }))).toBe(false);
  });

  it('drops a removal, which has no new image', () => {
    const removed = { ...streamRecord(undefined), eventName: 'REMOVE' };
    expect(exporter(removed)).toBe(false);
  });
});

describe('filter patterns', () => {
  const match = (pattern: object, record: unknown) => compilePattern(JSON.stringify(pattern))(record);

  it('matches literals against leaves and arrays of leaves, numbers as numbers', () => {
    expect(match({ a: ['x', 'y'] }, { a: 'y' })).toBe(true);
    expect(match({ a: ['x'] }, { a: ['z', 'x'] })).toBe(true);
    expect(match({ a: [5] }, { a: 5.0 })).toBe(true);
    expect(match({ a: [5] }, { a: '5' })).toBe(false);
    expect(match({ a: [null] }, { a: null })).toBe(true);
    expect(match({ a: [true] }, { a: false })).toBe(false);
  });

  it('requires every key of a pattern, nested objects included', () => {
    const pattern = { eventName: ['INSERT'], dynamodb: { Keys: { pk: { S: [{ prefix: 'flow' }] } } } };
    expect(match(pattern, { eventName: 'INSERT', dynamodb: { Keys: { pk: { S: 'flow-1' } } } })).toBe(true);
    expect(match(pattern, { eventName: 'MODIFY', dynamodb: { Keys: { pk: { S: 'flow-1' } } } })).toBe(false);
    expect(match(pattern, { eventName: 'INSERT', dynamodb: { Keys: { pk: { S: 'x' } } } })).toBe(false);
    expect(match(pattern, { eventName: 'INSERT' })).toBe(false);
  });

  it('exists looks at leaves only: an object value does not exist for it, an absent key does not', () => {
    expect(match({ rows: [{ exists: true }] }, { rows: { B: 'AQID' } })).toBe(false);
    expect(match({ rows: { B: [{ exists: true }] } }, { rows: { B: 'AQID' } })).toBe(true);
    expect(match({ rows: { B: [{ exists: true }] } }, {})).toBe(false);
    expect(match({ rows: { B: [{ exists: false }] } }, {})).toBe(true);
    expect(match({ rows: { B: [{ exists: false }] } }, { rows: { B: 'AQID' } })).toBe(false);
    expect(match({ a: [{ exists: true }] }, { a: [] })).toBe(false);
  });

  it('has prefix, suffix, equals-ignore-case, anything-but and numeric', () => {
    expect(match({ a: [{ suffix: '.log' }] }, { a: 'x.log' })).toBe(true);
    expect(match({ a: [{ 'equals-ignore-case': 'ab' }] }, { a: 'AB' })).toBe(true);
    expect(match({ a: [{ 'anything-but': ['x', 'y'] }] }, { a: 'z' })).toBe(true);
    expect(match({ a: [{ 'anything-but': 'x' }] }, { a: 'x' })).toBe(false);
    expect(match({ a: [{ 'anything-but': { prefix: 'ex' } }] }, { a: 'export' })).toBe(false);
    expect(match({ a: [{ 'anything-but': ['x'] }] }, {})).toBe(false);
    expect(match({ n: [{ numeric: ['>', 0, '<=', 5] }] }, { n: 5 })).toBe(true);
    expect(match({ n: [{ numeric: ['>', 0, '<=', 5] }] }, { n: 6 })).toBe(false);
    expect(match({ n: [{ numeric: ['=', 1] }] }, { n: '1' })).toBe(false);
  });

  it('ORs the filters of a mapping', () => {
    const either = compileFilters(['{"a":["x"]}', '{"b":["y"]}']);
    expect(either({ b: 'y' })).toBe(true);
    expect(either({ a: 'y', b: 'x' })).toBe(false);
  });

  it.each([
    ['not JSON', /not JSON/],
    ['["a"]', /JSON object/],
    ['{"a":"x"}', /list of matchers or a nested pattern/],
    ['{"$or":[{"a":["x"]}]}', /\$or is not supported/],
    ['{"a":[{"wildcard":"x*"}]}', /wildcard is not supported/],
    ['{"a":[{"exists":"yes"}]}', /exists takes true or false/],
    ['{"a":[{"numeric":["~",1]}]}', /numeric takes/],
    ['{"a":[{"prefix":"x","suffix":"y"}]}', /one operator/],
  ])('refuses %s', (pattern, message) => {
    expect(() => compilePattern(pattern)).toThrow(FilterPatternError);
    expect(() => compilePattern(pattern)).toThrow(message);
  });
});

describe('FilterCriteria in a template', () => {
  const withCriteria = (criteria: unknown) => ({
    Resources: {
      Table: {
        Type: 'AWS::DynamoDB::Table',
        Properties: { StreamSpecification: { StreamViewType: 'NEW_IMAGE' } },
      },
      Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
      Mapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          FunctionName: { Ref: 'Fn' },
          EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] },
          FilterCriteria: criteria,
        },
      },
    },
  });

  it('becomes the mapping settings\u2019 filter patterns', () => {
    const [mapping] = readDynamoDbStreamMappings(withCriteria({ Filters: [{ Pattern: EXPORTER_PATTERN }] }));
    expect(mapping?.settings.filterPatterns).toEqual([EXPORTER_PATTERN]);
  });

  it('is refused at read time when a pattern uses what the emulator does not implement', () => {
    const criteria = { Filters: [{ Pattern: '{"dynamodb":{"Keys":{"pk":{"S":[{"cidr":"10.0.0.0/8"}]}}}}' }] };
    expect(() => readDynamoDbStreamMappings(withCriteria(criteria))).toThrow(TemplateSettingsError);
    expect(() => readDynamoDbStreamMappings(withCriteria(criteria))).toThrow(
      /Filters\[0\]: dynamodb\.Keys\.pk\.S: operator cidr is not supported locally/,
    );
    expect(() => readDynamoDbStreamMappings(withCriteria({ Filters: [{}] }))).toThrow(
      /Pattern must be a string/,
    );
  });
});
