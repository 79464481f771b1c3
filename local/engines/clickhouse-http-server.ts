// ClickHouse's HTTP interface (the part @clickhouse/client uses) in front of the real ClickHouse engine
// embedded by chDB. A thin front: every statement, setting, format, parameter and error comes from the
// engine itself; this file only speaks HTTP. Run as its own process (see clickhouse.ts) so tests can stop
// and restart it like a server:  node --import tsx local/engines/clickhouse-http-server.ts --port 8123 ...
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Transform } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Session } from 'chdb';

export interface ClickHouseFrontOptions {
  /** The engine's data folder (databases and tables live here). */
  dataDir: string;
  user: string;
  password: string;
  /** Appends one line per request here (time, method, path): tests count what reaches ClickHouse. */
  requestLog?: string;
}

interface RawResult {
  bytes: Uint8Array;
  elapsed: number;
  rowsRead: number;
  bytesRead: number;
}

interface RawInsertResult {
  elapsed: number;
  rowsWritten: number;
  bytesWritten: number;
}

interface ConnectionHandle {
  readonly connection: unknown;
}

// chDB's public API re-escapes string parameters and has no insert-with-arbitrary-statement call, but
// ClickHouse's HTTP semantics need both: `param_*` values are passed through as the engine's own text
// form (exactly what a server does), and an INSERT's data is appended to the client's statement.
// Both calls exist on chDB's native binding, which its own Session methods use.
export interface NativeBinding {
  QueryAsyncConnection(
    connection: unknown,
    sql: string,
    format: string,
    params?: Record<string, string>,
  ): Promise<RawResult>;
  InsertRawAsyncConnection(
    connection: unknown,
    prefix: string,
    data: Buffer,
    countLines: boolean,
  ): Promise<RawInsertResult>;
}

/** The local engine's server configuration (local/engines/chdb-engine.xml). */
export const ENGINE_CONFIG_FILE = fileURLToPath(new URL('./chdb-engine.xml', import.meta.url));

/**
 * A connection to the embedded engine on `dataDir`, with the local engine's configuration: MergeTree
 * parts stay Compact (a few files each) up to 256 MiB instead of going Wide (two files per column, about
 * 120 for a flows part) from 10 MiB. Creating files is what a workstation's disk does worst; on ext4
 * without a journal, as on this project's development VMs, the inode allocator walks the recently deleted
 * inodes on every create, and that was half the engine's CPU per inserted row. Only this embedded engine
 * is configured so; ClickHouse Cloud and self-hosted servers keep their defaults and the same migrations.
 */
export function embeddedEngineSession(dataDir: string): Session {
  return new Session(dataDir, { connectionArgs: [`--config-file=${ENGINE_CONFIG_FILE}`] });
}

export function loadNativeBinding(): NativeBinding {
  const require = createRequire(import.meta.url);
  const loader = require(join(dirname(require.resolve('chdb')), 'dist', 'loader.js')) as {
    loadNative(): Partial<NativeBinding>;
  };
  const native = loader.loadNative();
  if (
    typeof native.QueryAsyncConnection !== 'function' ||
    typeof native.InsertRawAsyncConnection !== 'function'
  ) {
    throw new Error(
      'This chdb version lacks QueryAsyncConnection/InsertRawAsyncConnection; install the locked chdb version',
    );
  }
  return native as NativeBinding;
}

/** An error carrying ClickHouse's code, rendered as ClickHouse renders it. */
class ClickHouseException extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function exceptionFrom(error: unknown, codes: ErrorCodes): ClickHouseException {
  if (error instanceof ClickHouseException) return error;
  const text = error instanceof Error ? error.message : String(error);
  const match = /^Code: (\d+)\. /.exec(text);
  if (match) return new ClickHouseException(Number(match[1]), text);
  const code = codes.byName.get('STD_EXCEPTION') ?? 1001;
  return new ClickHouseException(code, `Code: ${code}. DB::Exception: ${text}. (STD_EXCEPTION)`);
}

// Status codes as ClickHouse's src/Server/HTTP/exceptionCodeToHTTPStatus.cpp assigns them, by error name.
const STATUS_BY_ERROR_NAME: Array<[number, string[]]> = [
  [401, ['REQUIRED_PASSWORD']],
  [403, ['UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED']],
  [
    400,
    [
      'BAD_ARGUMENTS',
      'CANNOT_COMPILE_REGEXP',
      'CANNOT_PARSE_TEXT',
      'CANNOT_PARSE_ESCAPE_SEQUENCE',
      'CANNOT_PARSE_QUOTED_STRING',
      'CANNOT_PARSE_DATE',
      'CANNOT_PARSE_DATETIME',
      'CANNOT_PARSE_NUMBER',
      'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING',
      'CANNOT_PARSE_IPV4',
      'CANNOT_PARSE_IPV6',
      'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
      'CANNOT_PARSE_UUID',
      'DUPLICATE_COLUMN',
      'ILLEGAL_COLUMN',
      'UNKNOWN_ELEMENT_IN_AST',
      'UNKNOWN_TYPE_OF_AST_NODE',
      'THERE_IS_NO_COLUMN',
      'TOO_DEEP_AST',
      'TOO_BIG_AST',
      'UNEXPECTED_AST_STRUCTURE',
      'SYNTAX_ERROR',
      'INCORRECT_DATA',
      'TYPE_MISMATCH',
      'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
    ],
  ],
  [
    404,
    [
      'UNKNOWN_TABLE',
      'UNKNOWN_FUNCTION',
      'UNKNOWN_IDENTIFIER',
      'UNKNOWN_TYPE',
      'UNKNOWN_STORAGE',
      'UNKNOWN_DATABASE',
      'UNKNOWN_SETTING',
      'UNKNOWN_DIRECTION_OF_SORTING',
      'UNKNOWN_AGGREGATE_FUNCTION',
      'UNKNOWN_FORMAT',
      'UNKNOWN_DATABASE_ENGINE',
      'UNKNOWN_TYPE_OF_QUERY',
      'UNKNOWN_ROLE',
    ],
  ],
  [413, ['QUERY_IS_TOO_LARGE']],
  [501, ['NOT_IMPLEMENTED']],
  [503, ['SOCKET_TIMEOUT', 'CANNOT_OPEN_FILE', 'CANNOT_SCHEDULE_TASK']],
  [411, ['HTTP_LENGTH_REQUIRED']],
  [408, ['TIMEOUT_EXCEEDED']],
  [415, ['UNSUPPORTED_MEDIA_TYPE']],
];

interface ErrorCodes {
  byName: Map<string, number>;
  statusByCode: Map<number, number>;
}

/** Error names and numbers come from the engine itself (system.errors), not from a copied table. */
async function loadErrorCodes(native: NativeBinding, session: ConnectionHandle): Promise<ErrorCodes> {
  const result = await native.QueryAsyncConnection(
    session.connection,
    'SELECT DISTINCT name, code FROM system.errors SETTINGS system_events_show_zero_values = 1',
    'JSONCompactEachRow',
  );
  const byName = new Map<string, number>();
  for (const line of Buffer.from(result.bytes).toString('utf8').split('\n')) {
    if (!line) continue;
    const [name, code] = JSON.parse(line) as [string, number];
    byName.set(name, code);
  }
  const statusByCode = new Map<number, number>();
  for (const [status, names] of STATUS_BY_ERROR_NAME) {
    for (const name of names) {
      const code = byName.get(name);
      if (code !== undefined) statusByCode.set(code, status);
    }
  }
  return { byName, statusByCode };
}

// URL parameters the HTTP layer consumes; every other parameter is a setting for the query.
const HTTP_PARAMETERS = new Set([
  'query',
  'database',
  'default_format',
  'query_id',
  'user',
  'password',
  'quota_key',
  'role',
  'session_id',
  'session_timeout',
  'session_check',
  'close_session',
  'buffer_size',
  'wait_end_of_query',
  'compress',
  'decompress',
  'stacktrace',
  'client_protocol_version',
]);
// Settings that only shape the HTTP response (progress headers, buffering); responses here are always
// complete before they are sent, so they have nothing to change.
const HTTP_ONLY_SETTINGS = new Set([
  'enable_http_compression',
  'http_zlib_compression_level',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'http_response_buffer_size',
  'http_wait_end_of_query',
]);

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const brotli = promisify(zlib.brotliCompress);

// Insert bodies inflate to tens of MB: 1 MiB output chunks instead of zlib's 16 KiB cut the thread-pool
// round trips per request by 64x.
const INFLATE_CHUNK_BYTES = 1 << 20;

function decompressorFor(encoding: string): Transform | undefined {
  if (encoding === '' || encoding === 'identity') return undefined;
  if (encoding === 'gzip') return zlib.createGunzip({ chunkSize: INFLATE_CHUNK_BYTES });
  if (encoding === 'deflate') return zlib.createInflate({ chunkSize: INFLATE_CHUNK_BYTES });
  if (encoding === 'br') return zlib.createBrotliDecompress({ chunkSize: INFLATE_CHUNK_BYTES });
  const createZstd = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
  if (encoding === 'zstd' && createZstd) return createZstd();
  throw new ClickHouseException(
    36,
    `Code: 36. DB::Exception: Unsupported Content-Encoding: ${encoding}. (BAD_ARGUMENTS)`,
  );
}

/**
 * The request body, decompressed while it arrives (an insert's body is inflated chunk by chunk as the
 * client streams it, not after the last byte), gathered into one buffer for the engine.
 */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const decompressor = decompressorFor((req.headers['content-encoding'] ?? '').toLowerCase().trim());
  const chunks: Buffer[] = [];
  let length = 0;
  if (!decompressor) {
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
  }
  return new Promise<Buffer>((resolveBody, rejectBody) => {
    let compressedBytes = 0;
    decompressor.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    });
    decompressor.once('end', () =>
      resolveBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length)),
    );
    decompressor.once('error', rejectBody);
    req.once('error', rejectBody);
    req.on('data', (chunk: Buffer) => {
      compressedBytes += chunk.length;
      decompressor.write(chunk);
    });
    req.once('end', () => {
      if (compressedBytes > 0) decompressor.end();
      else {
        // An empty body with a Content-Encoding header: nothing to inflate.
        decompressor.destroy();
        resolveBody(Buffer.alloc(0));
      }
    });
  });
}

/** multipart/form-data bodies carry `query` and `param_*` parts (the client's use_multipart_params). */
function parseMultipart(body: Buffer, contentType: string): Map<string, string> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const parts = new Map<string, string>();
  if (!boundary) return parts;
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  for (const section of body.toString('utf8').split(delimiter)) {
    const headerEnd = section.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const name = /name="([^"]*)"/i.exec(section.slice(0, headerEnd));
    if (!name?.[1]) continue;
    parts.set(name[1], section.slice(headerEnd + 4).replace(/\r\n$/, ''));
  }
  return parts;
}

function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

// Binary input formats whose data names its own column types, so the engine can read them from a file.
const SELF_DESCRIBING_BINARY_FORMATS_DISPLAY = [
  'RowBinaryWithNamesAndTypes',
  'Native',
  'Parquet',
  'Arrow',
  'ArrowStream',
  'ORC',
  'Avro',
];
const SELF_DESCRIBING_BINARY_FORMATS = new Set(
  SELF_DESCRIBING_BINARY_FORMATS_DISPLAY.map((f) => f.toLowerCase()),
);

/** A statement's closing `FORMAT <name>` clause; the name is group 1. */
const TRAILING_FORMAT = /\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i;

/**
 * A binary INSERT's data (chDB appends an INSERT's data to the statement text, which only text formats
 * survive): written to a file in the engine's user_files, then `INSERT INTO t (cols) SELECT * FROM
 * file(path, Format)`, so the engine's own parser reads it. The format's header gives the types (a
 * server checks them against the table; here they are cast). One file per insert, removed after.
 */
export async function insertBinaryThroughFile(
  native: NativeBinding,
  connection: unknown,
  directory: string,
  insert: { insertSql: string; data: Buffer },
): Promise<{ rowsWritten: number; bytesWritten: number }> {
  const path = join(directory, `${randomUUID()}.bin`);
  await writeFile(path, insert.data);
  try {
    const statement = insert.insertSql.replace(
      TRAILING_FORMAT,
      (_clause, format: string) => `SELECT * FROM file(${sqlString(path)}, ${format})`,
    );
    const result = await native.QueryAsyncConnection(connection, statement, 'TabSeparated');
    return { rowsWritten: result.rowsRead, bytesWritten: result.bytesRead };
  } finally {
    await rm(path, { force: true });
  }
}

function trailingFormat(sql: string): string | undefined {
  return TRAILING_FORMAT.exec(sql)?.[1];
}

function contentTypeFor(format: string): string {
  if (/^(JSON|NDJSON)/i.test(format)) return 'application/json; charset=UTF-8';
  if (/^(TabSeparated|TSV)/i.test(format)) return 'text/tab-separated-values; charset=UTF-8';
  if (/^CSV/i.test(format)) return 'text/csv; charset=UTF-8; header=absent';
  if (/^(RowBinary|Native|Parquet|Arrow|ORC|Avro)/i.test(format)) return 'application/octet-stream';
  return 'text/plain; charset=UTF-8';
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export interface ClickHouseFront {
  readonly server: Server;
  readonly version: string;
  /** Stops accepting requests and releases the engine. */
  close(): Promise<void>;
}

export async function createClickHouseFront(options: ClickHouseFrontOptions): Promise<ClickHouseFront> {
  mkdirSync(options.dataDir, { recursive: true });
  const dataDir = resolve(options.dataDir);
  const native = loadNativeBinding();
  // Held for the process lifetime: it binds the data folder and keeps the engine up between requests.
  const engineSession = embeddedEngineSession(dataDir);
  const codes = await loadErrorCodes(native, engineSession);
  const versionResult = await native.QueryAsyncConnection(
    engineSession.connection,
    'SELECT version(), timezone()',
    'TabSeparated',
  );
  const [version = 'unknown', timezone = 'UTC'] = Buffer.from(versionResult.bytes)
    .toString('utf8')
    .trim()
    .split('\t');
  const displayName = hostname();
  const expectedUser = digest(options.user);
  const expectedPassword = digest(options.password);
  const codeOf = (name: string, fallback: number) => codes.byName.get(name) ?? fallback;

  const binaryInsertDir = join(dataDir, 'user_files', 'flowline-binary-inserts');
  mkdirSync(binaryInsertDir, { recursive: true });

  // chDB's parameter binding is not isolated between connections running at the same moment
  // (see its index.js, runExclusiveParam), so queries with parameters run one at a time.
  let parameterChain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(run: () => Promise<T>): Promise<T> => {
    const next = parameterChain.then(run, run);
    parameterChain = next.catch(() => undefined);
    return next;
  };

  function authenticate(req: IncomingMessage, url: URL): void {
    let user = url.searchParams.get('user') ?? undefined;
    let password = url.searchParams.get('password') ?? undefined;
    const headerUser = req.headers['x-clickhouse-user'];
    const authorization = req.headers.authorization;
    if (typeof headerUser === 'string') {
      user = headerUser;
      const key = req.headers['x-clickhouse-key'];
      password = typeof key === 'string' ? key : '';
    } else if (authorization?.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      user = colon < 0 ? decoded : decoded.slice(0, colon);
      password = colon < 0 ? '' : decoded.slice(colon + 1);
    } else if (authorization) {
      user = user ?? 'default';
      password = undefined; // JWT and other schemes are not configured here
    }
    user = user || 'default';
    const userOk = timingSafeEqual(digest(user), expectedUser);
    const passwordOk = password !== undefined && timingSafeEqual(digest(password), expectedPassword);
    if (!userOk || !passwordOk) {
      const code = codeOf('AUTHENTICATION_FAILED', 516);
      throw new ClickHouseException(
        code,
        `Code: ${code}. DB::Exception: ${user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`,
      );
    }
  }

  async function send(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: Uint8Array,
    compress: boolean,
  ): Promise<void> {
    let payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (compress && payload.length > 0) {
      const accepted = (req.headers['accept-encoding'] ?? '').toLowerCase();
      if (accepted.includes('gzip')) {
        payload = await gzip(payload);
        headers['Content-Encoding'] = 'gzip';
      } else if (accepted.includes('deflate')) {
        payload = await deflate(payload);
        headers['Content-Encoding'] = 'deflate';
      } else if (accepted.includes('br')) {
        payload = await brotli(payload);
        headers['Content-Encoding'] = 'br';
      }
    }
    res.writeHead(status, { ...headers, 'Content-Length': String(payload.length) });
    res.end(req.method === 'HEAD' ? undefined : payload);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const queryId = url.searchParams.get('query_id') || randomUUID();
    const started = process.hrtime.bigint();
    const baseHeaders: Record<string, string> = {
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Server-Display-Name': displayName,
      'X-ClickHouse-Timezone': timezone,
    };
    const compress = url.searchParams.get('enable_http_compression') === '1';
    try {
      const isRead = req.method === 'GET' || req.method === 'HEAD';
      if (url.pathname === '/ping' || (url.pathname === '/' && isRead && !url.searchParams.has('query'))) {
        await send(
          req,
          res,
          200,
          { 'Content-Type': 'text/html; charset=UTF-8' },
          Buffer.from('Ok.\n'),
          false,
        );
        return;
      }
      if (url.pathname !== '/') {
        await send(
          req,
          res,
          404,
          { 'Content-Type': 'text/plain; charset=UTF-8' },
          Buffer.from(`There is no handle ${url.pathname}\n\nUse / or /ping for health checks.\n`),
          false,
        );
        return;
      }
      if (req.method !== 'GET' && req.method !== 'POST') {
        const code = codeOf('BAD_ARGUMENTS', 36);
        throw new ClickHouseException(
          code,
          `Code: ${code}. DB::Exception: Unsupported HTTP method ${req.method}. (BAD_ARGUMENTS)`,
        );
      }
      authenticate(req, url);
      for (const unsupported of ['session_id', 'compress', 'decompress']) {
        const value = url.searchParams.get(unsupported);
        if (value && value !== '0') {
          const code = codeOf('NOT_IMPLEMENTED', 48);
          throw new ClickHouseException(
            code,
            `Code: ${code}. DB::Exception: The local ClickHouse front does not implement the '${unsupported}' parameter. (NOT_IMPLEMENTED)`,
          );
        }
      }
      let body = await readBody(req);
      const fields = new Map<string, string>(url.searchParams);
      const contentType = req.headers['content-type'] ?? '';
      if (contentType.startsWith('multipart/form-data')) {
        for (const [name, value] of parseMultipart(body, contentType)) fields.set(name, value);
        body = Buffer.alloc(0);
      }
      const params: Record<string, string> = {};
      const settings: Array<[string, string]> = [];
      for (const [name, value] of fields) {
        if (name.startsWith('param_')) params[name.slice(6)] = value;
        else if (!HTTP_PARAMETERS.has(name) && !HTTP_ONLY_SETTINGS.has(name)) settings.push([name, value]);
      }
      // A GET request cannot change anything, as on a ClickHouse server.
      if (req.method === 'GET' && !fields.has('readonly')) settings.push(['readonly', '2']);
      const hasParams = Object.keys(params).length > 0;
      const database = fields.get('database') ?? headerValue(req, 'x-clickhouse-database');
      const defaultFormat =
        fields.get('default_format') ?? headerValue(req, 'x-clickhouse-format') ?? 'TabSeparated';
      const urlQuery = fields.get('query') ?? '';

      const connection = embeddedEngineSession(dataDir);
      try {
        if (database)
          await native.QueryAsyncConnection(
            connection.connection,
            `USE \`${database.replace(/`/g, '\\`')}\``,
            'TabSeparated',
          );
        if (settings.length > 0) {
          for (const [name] of settings) {
            if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
              const code = codeOf('UNKNOWN_SETTING', 115);
              throw new ClickHouseException(
                code,
                `Code: ${code}. DB::Exception: Unknown setting '${name}'. (UNKNOWN_SETTING)`,
              );
            }
          }
          // String values, parsed by each setting's own type, as a server does with URL parameters.
          const assignments = settings.map(([name, value]) => `${name} = ${sqlString(value)}`).join(', ');
          await native.QueryAsyncConnection(connection.connection, `SET ${assignments}`, 'TabSeparated');
        }
        const summary: Record<string, string> = {};
        let output: Uint8Array = Buffer.alloc(0);
        let format = defaultFormat;
        if (urlQuery && body.length > 0 && /^\s*INSERT\b/i.test(urlQuery)) {
          if (hasParams) {
            const code = codeOf('NOT_IMPLEMENTED', 48);
            throw new ClickHouseException(
              code,
              `Code: ${code}. DB::Exception: The local ClickHouse front does not bind query parameters in an INSERT that carries data. (NOT_IMPLEMENTED)`,
            );
          }
          const insertFormat = trailingFormat(urlQuery) ?? '';
          if (SELF_DESCRIBING_BINARY_FORMATS.has(insertFormat.toLowerCase())) {
            const inserted = await insertBinaryThroughFile(native, connection.connection, binaryInsertDir, {
              insertSql: urlQuery,
              data: body,
            });
            summary.written_rows = String(inserted.rowsWritten);
            summary.written_bytes = String(inserted.bytesWritten);
          } else if (
            /^(RowBinary|Native|Parquet|Arrow|ORC|Avro|BSON|Protobuf|CapnProto|MsgPack)/i.test(insertFormat)
          ) {
            const code = codeOf('NOT_IMPLEMENTED', 48);
            throw new ClickHouseException(
              code,
              `Code: ${code}. DB::Exception: The local ClickHouse front takes binary inserts only in formats that carry their column types (${[...SELF_DESCRIBING_BINARY_FORMATS_DISPLAY].join(', ')}), not ${insertFormat}. (NOT_IMPLEMENTED)`,
            );
          } else {
            // The body is the INSERT's data, handed to the engine's own text parser as bytes.
            const written = await native.InsertRawAsyncConnection(
              connection.connection,
              urlQuery,
              body,
              false,
            );
            summary.written_rows = String(written.rowsWritten);
            summary.written_bytes = String(written.bytesWritten);
          }
        } else {
          const sql = urlQuery
            ? body.length > 0
              ? `${urlQuery}\n${body.toString('utf8')}`
              : urlQuery
            : body.toString('utf8');
          if (sql.trim() === '') {
            const code = codeOf('SYNTAX_ERROR', 62);
            throw new ClickHouseException(code, `Code: ${code}. DB::Exception: Empty query. (SYNTAX_ERROR)`);
          }
          format = trailingFormat(sql) ?? defaultFormat;
          const result = hasParams
            ? await exclusive(() =>
                native.QueryAsyncConnection(connection.connection, sql, defaultFormat, params),
              )
            : await native.QueryAsyncConnection(connection.connection, sql, defaultFormat);
          output = result.bytes;
          summary.read_rows = String(result.rowsRead);
          summary.read_bytes = String(result.bytesRead);
        }
        summary.elapsed_ns = String(process.hrtime.bigint() - started);
        await send(
          req,
          res,
          200,
          {
            ...baseHeaders,
            'Content-Type': contentTypeFor(format),
            'X-ClickHouse-Format': format,
            'X-ClickHouse-Summary': JSON.stringify(summary),
          },
          output,
          compress,
        );
      } finally {
        connection.close();
      }
    } catch (error) {
      const exception = exceptionFrom(error, codes);
      const status = codes.statusByCode.get(exception.code) ?? 500;
      await send(
        req,
        res,
        status,
        {
          ...baseHeaders,
          'Content-Type': 'text/plain; charset=UTF-8',
          'X-ClickHouse-Exception-Code': String(exception.code),
        },
        Buffer.from(`${exception.message} (version ${version})\n`),
        compress,
      );
    }
  }

  const server = createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
    if (options.requestLog) logRequest(options.requestLog, req);
    handle(req, res).catch((error: unknown) => {
      // Only reached when the response itself failed (client gone); nothing left to answer.
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  return {
    server,
    version,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => {
          engineSession.close();
          resolveClose();
        });
        server.closeAllConnections();
      }),
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** One line per request, before it is handled; no query string (it may carry credentials). */
function logRequest(file: string, req: IncomingMessage): void {
  const path = (req.url ?? '/').split('?')[0];
  appendFileSync(file, `${new Date().toISOString()} ${req.method} ${path}\n`);
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

async function main(): Promise<void> {
  const port = Number(argument('port') ?? 8123);
  const host = argument('host') ?? '127.0.0.1';
  const dataDir = argument('data-dir');
  if (!dataDir) throw new Error('--data-dir is required');
  const front = await createClickHouseFront({
    dataDir,
    user: argument('user') ?? 'default',
    // Not on the command line, where `ps` would show it.
    password: process.env.FLOWLINE_CLICKHOUSE_PASSWORD ?? '',
    requestLog: argument('request-log'),
  });
  front.server.once('error', (error) => {
    process.stderr.write(`clickhouse-http-server: ${(error as Error).message}\n`);
    process.exit(1);
  });
  front.server.listen(port, host, () => {
    process.stdout.write(`ClickHouse ${front.version} (chDB) listening on http://${host}:${port}\n`);
  });
  const shutdown = () => {
    void front.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `clickhouse-http-server: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
