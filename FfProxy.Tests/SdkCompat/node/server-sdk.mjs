// Drives @harnessio/ff-nodejs-server-sdk against FfProxy: authenticate, load configs, stream changes,
// evaluate locally.
import { Client, Event } from '@harnessio/ff-nodejs-server-sdk';
import { emit, logger, readScenario, watch } from './harness.mjs';

const scenario = readScenario();
const client = new Client(scenario.sdkKey, {
  baseUrl: scenario.baseUrl,
  eventsUrl: scenario.baseUrl,
  enableStream: true,
  pollInterval: 60000,
  enableAnalytics: false,
  logger,
});
client.on(Event.CHANGED, (identifier) => emit({ event: 'sdk-changed', identifier }));

async function evaluateAll() {
  const values = {};
  for (const flag of scenario.flags) {
    switch (flag.kind) {
      case 'boolean': values[flag.name] = await client.boolVariation(flag.name, scenario.target, flag.default); break;
      case 'string': values[flag.name] = await client.stringVariation(flag.name, scenario.target, flag.default); break;
      case 'int': values[flag.name] = await client.numberVariation(flag.name, scenario.target, flag.default); break;
      case 'json': values[flag.name] = await client.jsonVariation(flag.name, scenario.target, flag.default); break;
    }
  }
  return values;
}

try {
  await client.waitForInitialization();
  // Give the stream its moment to connect so the change below is delivered by it.
  await new Promise((resolve) => setTimeout(resolve, 300));
  emit({ event: 'ready', values: await evaluateAll() });
  const ok = await watch(scenario, evaluateAll);
  client.close();
  process.exit(ok ? 0 : 1);
} catch (error) {
  emit({ event: 'error', message: String(error) });
  process.exit(2);
}
