// Started as a separate process by tests that kill it with SIGKILL to prove no engine outlives it.
// Prints one JSON line with the engine pids once they are ready, then waits to be killed.
import { startLocalEngines } from '../../local/engines/index.ts';

const engines = await startLocalEngines({ kinesis: false });
process.stdout.write(`${JSON.stringify({ pids: [engines.dynamodb?.pid, engines.clickhouse?.pid] })}\n`);
setInterval(() => undefined, 60_000);
