// The WebSocketStream scenario (test/helpers/webstream-scenario.ts) run by headless Chromium's native
// WebSocketStream against our listener in 'webstream' mode: the same test body and the same assertions
// as our own client's run in test/websocket-stream.test.ts, so code written against the shape behaves
// alike on both. Chromium must be at /usr/bin/chromium (see browser.test.ts): the test never skips.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';

import { chromium } from 'playwright-core';

import { assertScenarioReport } from '../helpers/webstream-assertions.js';
import { webSocketStreamScenario, type ScenarioReport } from '../helpers/webstream-scenario.js';
import { scenarioServer } from '../helpers/webstream-server.js';
import { within } from '../helpers/within.js';

const CHROMIUM = '/usr/bin/chromium';

test(
  "Chromium's native WebSocketStream against our 'webstream' listener: the scenario",
  { timeout: 120_000 },
  async (t) => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: install Debian's chromium (scripts/install-peers.sh)`,
    );
    const server = await scenarioServer(t);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
      ],
      timeout: 30_000,
    });
    t.after(() => browser.close());
    const page = await browser.newPage();
    await page.goto(server.page, { timeout: 10_000 });
    await page.exposeFunction('floodQuiet', () => server.hooks.floodQuiet());
    await page.exposeFunction('handshakeArrived', () => server.hooks.handshakeArrived());
    const settings = { base: server.base, text: 'héllo wörld € 😀' };
    const report = await within(
      page.evaluate<ScenarioReport>(
        `(${webSocketStreamScenario.toString()})(WebSocketStream, WebSocketError, ${JSON.stringify(settings)}, {
        floodQuiet: () => window.floodQuiet(),
        handshakeArrived: () => window.handshakeArrived(),
      })`,
      ),
      90_000,
      'the scenario in Chromium',
    );
    assertScenarioReport(report, settings, 'chromium');
  },
);
