// Shared by both SDK drivers: stdout carries one JSON object per line for the C# test; everything the
// SDKs log goes to stderr.
for (const level of ['log', 'info', 'debug', 'warn', 'error', 'trace']) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
}

export const logger = {
  trace: console.debug, debug: console.debug, info: console.info, warn: console.warn, error: console.error,
};

export function emit(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

export function readScenario() {
  return JSON.parse(process.argv[2]);
}

// After "ready", evaluate until the watched flag shows the expected value (a change that can only arrive
// through the stream, since polling is set to once a minute), then report it and exit.
export async function watch(scenario, evaluateAll) {
  const started = Date.now();
  const deadline = started + (scenario.watch?.timeoutMs ?? 20000);
  while (Date.now() < deadline) {
    const values = await evaluateAll();
    if (scenario.watch && JSON.stringify(values[scenario.watch.flag]) === JSON.stringify(scenario.watch.expect)) {
      emit({ event: 'changed', values, ms: Date.now() - started });
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  emit({ event: 'timeout', values: await evaluateAll() });
  return false;
}
