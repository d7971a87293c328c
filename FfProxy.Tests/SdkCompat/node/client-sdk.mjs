// Drives @harnessio/ff-javascript-client-sdk against FfProxy under Node: authenticate with a target,
// fetch server-side evaluations, stream changes and refetch.
import { StreamingXMLHttpRequest } from './xhr-shim.mjs';
import { emit, readScenario, watch } from './harness.mjs';

globalThis.window = globalThis;
globalThis.XMLHttpRequest = StreamingXMLHttpRequest;
const { initialize, Event } = await import('@harnessio/ff-javascript-client-sdk');

const scenario = readScenario();
const client = initialize(scenario.sdkKey, scenario.target, {
  baseUrl: scenario.baseUrl,
  eventUrl: scenario.baseUrl,
  streamEnabled: true,
  pollingEnabled: false,
  pollingInterval: 60000,
  debug: false,
});

function evaluateAll() {
  const values = {};
  for (const flag of scenario.flags) {
    values[flag.name] = client.variation(flag.name, flag.default);
  }
  return Promise.resolve(values);
}

const failTimer = setTimeout(() => {
  emit({ event: 'error', message: 'client SDK did not become ready' });
  process.exit(2);
}, 15000);

client.on(Event.ERROR, (error) => process.stderr.write('sdk error: ' + JSON.stringify(error) + '\n'));
client.on(Event.CHANGED, (change) => emit({ event: 'sdk-changed', identifier: change.flag }));
client.on(Event.READY, async () => {
  clearTimeout(failTimer);
  await new Promise((resolve) => setTimeout(resolve, 300));
  emit({ event: 'ready', values: await evaluateAll() });
  const ok = await watch(scenario, evaluateAll);
  client.close();
  process.exit(ok ? 0 : 1);
});
