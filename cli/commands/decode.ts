// `flowline decode FILE...`: IPFIX from pcap, pcapng, raw message streams or .hex files -> JSON Lines,
// one object per data record (IE names as keys, plus _templateId, _observationDomainId, _exportTime).
import { accessSync, constants, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createIpfixDecoder, type DecodeError, type IpfixRecord } from '../../collector-edge/ipfix/index.ts';
import { readInput } from '../../collector-edge/ipfix/readers/messages.ts';
import { CliError } from '../errors.ts';

interface MessageTag {
  file: string;
  fileOffset: number;
  line: number | undefined;
}

/** JSON text of a record; integers above 2^53 (bigint) as strings. */
export function recordJson(
  record: IpfixRecord,
  templateId: number,
  observationDomainId: number,
  exportTime: number,
): string {
  const out: Record<string, unknown> = {
    _templateId: templateId,
    _observationDomainId: observationDomainId,
    _exportTime: exportTime,
  };
  for (const key in record) {
    const value = record[key];
    out[key] = typeof value === 'bigint' ? value.toString() : value;
  }
  return JSON.stringify(out);
}

function describe(error: DecodeError, fallback: MessageTag): string {
  const tag = (error.tag as MessageTag | undefined) ?? fallback;
  const where =
    tag.line !== undefined
      ? `line ${tag.line}, offset ${error.offset}`
      : `offset ${tag.fileOffset + error.offset}`;
  return `${tag.file}: ${where}: ${error.reason}: ${error.detail}`;
}

export interface DecodeFilesResult {
  records: number;
  templates: number;
  errors: number;
}

/** Decodes the files in order with one decoder (templates carry across files); writes lines via `emit`. */
export function decodeFiles(
  files: string[],
  emit: (line: string) => void,
  report: (line: string) => void,
): DecodeFilesResult {
  // Offline input: time is the capture's own (packet timestamps) where it has one.
  let now = 0;
  const decoder = createIpfixDecoder({ clock: () => now });
  const totals: DecodeFilesResult = { records: 0, templates: 0, errors: 0 };
  const reportError = (error: DecodeError, fallback: MessageTag) => {
    totals.errors++;
    report(describe(error, fallback));
  };
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (error) {
      totals.errors++;
      report(`${file}: offset 0: unreadable: ${(error as Error).message}`);
      continue;
    }
    for (const item of readInput(file, bytes)) {
      if ('problem' in item) {
        // Reader errors carry file offsets already (or a line for .hex files).
        reportError(item.problem.error, { file, fileOffset: 0, line: item.problem.line });
        continue;
      }
      const { message } = item;
      if (message.receivedAtMs !== undefined) now = Math.max(now, message.receivedAtMs);
      const tag: MessageTag = { file, fileOffset: message.fileOffset, line: message.line };
      const result = decoder.decodeMessage(message.bytes, message.session, { receivedAtMs: now, tag });
      totals.templates += result.templatesDefined.length;
      for (const set of result.dataSets) {
        for (const record of set.records)
          emit(recordJson(record, set.templateId, set.observationDomainId, set.exportTime));
        totals.records += set.records.length;
      }
      for (const error of result.errors) reportError(error, tag);
    }
  }
  for (const error of decoder.dropAllHeld())
    reportError(error, { file: files.at(-1) ?? '', fileOffset: 0, line: undefined });
  return totals;
}

export function register(program: Command): void {
  program
    .command('decode')
    .description(
      'decode IPFIX from pcap, pcapng, raw message streams or .hex files (one message per line) to JSON Lines',
    )
    .argument('<files...>', 'input files, decoded in order; templates carry across files')
    .action((files: string[]) => {
      for (const file of files) {
        try {
          accessSync(file, constants.R_OK);
        } catch (error) {
          throw new CliError(
            `cannot read ${file} (${(error as NodeJS.ErrnoException).code}): check the path`,
          );
        }
      }
      const chunks: string[] = [];
      let size = 0;
      const flush = () => {
        if (chunks.length === 0) return;
        process.stdout.write(chunks.join(''));
        chunks.length = 0;
        size = 0;
      };
      const totals = decodeFiles(
        files,
        (line) => {
          chunks.push(line, '\n');
          size += line.length;
          if (size > 1 << 20) flush();
        },
        (line) => process.stderr.write(`${line}\n`),
      );
      flush();
      if (totals.records === 0 && totals.templates === 0) {
        throw new CliError(
          'nothing could be decoded: are these IPFIX captures (pcap, pcapng, raw IPFIX, .hex)?',
        );
      }
    });
}
