#!/usr/bin/env node
// tests/browser/record.mjs - drive a real browser through recorder.html.
//
//   node record.mjs BROWSER --ws ws://10.77.0.1:PORT/api/recorder --out DIR
//                   [--seconds 4] [--cases default,H264,VP9]
//
// BROWSER is `chromium` (Debian's /usr/bin/chromium, driven by playwright-core
// over CDP) or `firefox` (Debian's /usr/bin/firefox-esr, driven by
// puppeteer-core over WebDriver BiDi).  Never downloads a browser.
//
// Serves recorder.html from a tiny HTTP server on 127.0.0.1 (getUserMedia
// needs a secure context; loopback is one, 10.x is not), launches the browser
// once with a fresh profile, and runs one page per case: `default` keeps the
// browser's own codec order, any other case name is a video codec forced with
// setCodecPreferences.  Each case's window.result (outcome, offer and answer
// SDP, candidates, getStats summary, the page's trace) is written to
// DIR/BROWSER-CASE.json for check.py.  Exit status: 0 if every case ended in
// uploadSuccess, 1 if one did not, 2 on a setup error (browser not startable).

import {createServer} from 'node:http';
import {readFileSync, writeFileSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const CASE_TIMEOUT_MS = 45000;
const LAUNCH_TIMEOUT_MS = 30000;

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--no-sandbox',  // we run as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const FIREFOX = '/usr/bin/firefox-esr';
const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  // nothing in the namespace answers: keep Firefox from trying
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'app.update.auto': false,
  'app.update.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
  'media.gmp-manager.updateEnabled': false,
};

function parseArgs(argv) {
  const opts = {browser: argv[0], seconds: 4, cases: ['default']};
  for (let i = 1; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined)
      usage(`${key} needs a value`);
    if (key === '--ws') opts.ws = value;
    else if (key === '--out') opts.out = value;
    else if (key === '--seconds') opts.seconds = Number(value);
    else if (key === '--cases') opts.cases = value.split(',').filter(Boolean);
    else if (key === '--http') opts.http = value;
    else if (key === '--admin') opts.admin = value;
    else if (key === '--proxy') opts.proxy = value;
    else usage(`unknown option ${key}`);
  }
  if (!['chromium', 'firefox'].includes(opts.browser) || !opts.ws || !opts.out)
    usage('BROWSER, --ws and --out are required');
  if (opts.cases.some(c => LIBRARY_CASES.includes(c)) && !opts.http)
    usage(`cases ${LIBRARY_CASES.join(', ')} need --http (the server as the browser reaches it)`);
  if (opts.cases.includes('proxy') && !opts.proxy)
    usage('case proxy needs --proxy http://127.0.0.1:PORT/PREFIX');
  if (opts.cases.includes('admin') && !opts.admin)
    usage('case admin needs --admin USER:PASSWORD');
  return opts;
}

function usage(why) {
  console.error(`record.mjs: ${why}\nusage: node record.mjs chromium|firefox --ws URL --out DIR ` +
                '[--seconds N] [--cases default,H264,VP9,client,loopback,admin] ' +
                '[--http http://127.0.0.1:PORT] [--admin USER:PASSWORD]');
  process.exit(2);
}

// The test pages, and nothing else, on 127.0.0.1.
const PAGES = {
  '/recorder.html': 'text/html; charset=utf-8',
  '/client.html': 'text/html; charset=utf-8',
  '/stats.js': 'application/javascript; charset=utf-8',
};
function servePage() {
  const server = createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (req.method === 'GET' && PAGES[path]) {
      res.writeHead(200, {'content-type': PAGES[path], 'cache-control': 'no-store'});
      res.end(readFileSync(join(HERE, path.slice(1))));
    } else {
      res.writeHead(404, {'content-type': 'text/plain'});
      res.end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// A uniform face over playwright-core (Chromium) and puppeteer-core (Firefox).
async function launch(browserName, log) {
  if (browserName === 'chromium') {
    const {chromium} = await import('playwright-core');
    // launch() gives every run a fresh temporary user-data-dir.
    const browser = await chromium.launch({executablePath: CHROMIUM, headless: true,
                                           args: CHROMIUM_ARGS, timeout: LAUNCH_TIMEOUT_MS});
    return {
      version: browser.version(),
      async newPage(credentials) {
        const context = await browser.newContext(credentials ? {httpCredentials: credentials} : {});
        const page = await context.newPage();
        return {page, close: () => context.close()};
      },
      close: () => browser.close(),
    };
  }
  const puppeteer = (await import('puppeteer-core')).default;
  const profile = mkdtempSync(join(tmpdir(), 'wv-firefox-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: FIREFOX_PREFS,
    timeout: LAUNCH_TIMEOUT_MS,
  });
  return {
    version: await browser.version(),
    async newPage(credentials) {
      const page = await browser.newPage();
      if (credentials)
        await page.authenticate(credentials);
      return {page, close: () => page.close()};
    },
    async close() {
      await browser.close();
      rmSync(profile, {recursive: true, force: true});
    },
  };
}

async function runCase(b, pageUrl, name, log) {
  const {page, close} = await b.newPage();
  const consoleLines = [];
  page.on('console', msg => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', err => consoleLines.push(`pageerror: ${err}`));
  let result;
  try {
    await page.goto(pageUrl);
    try {
      await page.waitForFunction(() => window.result !== null,
                                 {timeout: CASE_TIMEOUT_MS, polling: 200});
      result = await page.evaluate(() => window.result);
    } catch (e) {
      const trace = await page.evaluate(() => window.trace).catch(() => null);
      result = {ok: false, error: `no outcome within ${CASE_TIMEOUT_MS / 1000} s (${String(e).split('\n')[0]})`,
                trace};
      // whatever diagnostics the page has so far
      const partial = await page.evaluate(() => window.pc && window.pc.localDescription &&
                                          window.pc.localDescription.sdp).catch(() => null);
      if (partial)
        result.offer = partial;
    }
  } finally {
    await close().catch(() => {});
  }
  result.console = consoleLines;
  return result;
}

// Cases that use the server's own files (/api/client.js, /admin) rather
// than recorder.html: `client` records through client.js, `loopback` also
// judges the video the server sends back, `proxy` loads client.js through a
// reverse proxy under a path prefix (--proxy), `admin` clicks through /admin.
const LIBRARY_CASES = ['client', 'loopback', 'proxy', 'admin'];

function pageUrl(opts, port, name) {
  if (name === 'client' || name === 'loopback' || name === 'proxy') {
    // Chromium also proves the keyframe-request relay (insertable streams)
    const base = name === 'proxy' ? opts.proxy : opts.http;
    const query = new URLSearchParams({lib: `${base}/api/client.js`, seconds: String(opts.seconds),
                                       loopback: name === 'loopback' ? '1' : '0',
                                       pli: name === 'loopback' && opts.browser === 'chromium' ? '1' : '0'});
    return `http://127.0.0.1:${port}/client.html?${query}`;
  }
  const query = new URLSearchParams({ws: opts.ws, seconds: String(opts.seconds),
                                     codec: name === 'default' ? '' : name});
  return `http://127.0.0.1:${port}/recorder.html?${query}`;
}

// Frames decoded so far on the video the server sends back to /admin.
const loopbackFrames = () => window.recorder.pc.getStats().then(report => {
  let frames = 0;
  report.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded || 0; });
  return frames;
});

// /admin, logged in: Start, record, Stop, then the recording plays back.
async function runAdmin(b, opts, log) {
  const [username, ...rest] = opts.admin.split(':');
  const {page, close} = await b.newPage({username, password: rest.join(':')});
  const consoleLines = [];
  page.on('console', msg => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', err => consoleLines.push(`pageerror: ${err}`));
  const state = () => page.evaluate(() => document.getElementById('state').textContent);
  const waitState = want => page.waitForFunction(w => document.getElementById('state').textContent === w,
                                                 want, {timeout: CASE_TIMEOUT_MS, polling: 100});
  const result = {ok: false, console: consoleLines};
  try {
    // through the reverse proxy when there is one: the page's relative links
    // (api/client.js, admin/admin.js, admin/admin.css) must survive the prefix
    const response = await page.goto(`${opts.proxy || opts.http}/admin`);
    result.adminUrl = page.url();
    result.styled = await page.evaluate(() =>
      getComputedStyle(document.getElementById('log')).borderTopStyle === 'solid');
    result.status = response.status();
    if (result.status !== 200)
      throw new Error(`GET /admin: HTTP ${result.status}`);
    await page.click('#start');
    await waitState('recording');
    const started = Date.now();
    const samples = [];
    while (Date.now() - started < opts.seconds * 1000) {
      samples.push(await page.evaluate(loopbackFrames));
      await new Promise(r => setTimeout(r, 500));
    }
    samples.push(await page.evaluate(loopbackFrames));
    result.loopback = {samples: samples.map(f => ({videoFrames: f})),
                       element: await page.evaluate(() => { const v = document.getElementById('loopback');
                         return {videoWidth: v.videoWidth, videoHeight: v.videoHeight, readyState: v.readyState}; })};
    result.screenshot = join(opts.out, `${opts.browser}-admin.png`);
    await page.screenshot({path: result.screenshot});
    // where the videos are in it, in pixels (deviceScaleFactor 1)
    result.regions = await page.evaluate(() => Object.fromEntries(['preview', 'loopback'].map(id => {
      const r = document.getElementById(id).getBoundingClientRect();
      return [id, [Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)]];
    })));
    result.seconds = (Date.now() - started) / 1000;
    await page.click('#stop');
    await waitState('done');
    result.videoUrl = await page.evaluate(() => document.getElementById('videoUrl').href);
    result.key = await page.evaluate(() => document.getElementById('videoUrl').textContent);
    await page.waitForFunction(() => { const v = document.getElementById('playback');
                                       return v.readyState >= 2 && v.videoWidth > 0; },
                               null, {timeout: CASE_TIMEOUT_MS, polling: 200});
    result.playback = await page.evaluate(() => { const v = document.getElementById('playback');
      return {readyState: v.readyState, videoWidth: v.videoWidth, videoHeight: v.videoHeight,
              duration: v.duration, src: v.currentSrc}; });
    result.ok = true;
  } catch (e) {
    result.error = `${String(e).split('\n')[0]} (state ${await state().catch(() => '?')})`;
    result.trace = (await page.evaluate(() => document.getElementById('log').textContent)
                    .catch(() => '')).split('\n');
  } finally {
    await close().catch(() => {});
  }
  return result;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = (...a) => console.log(`[${opts.browser}]`, ...a);
  const server = await servePage();
  const port = server.address().port;

  let b;
  try {
    b = await launch(opts.browser, log);
  } catch (e) {
    console.error(`[${opts.browser}] cannot launch the browser: ${e}`);
    server.close();
    return 2;
  }
  log(`browser ${b.version}; page server http://127.0.0.1:${port}/recorder.html`);

  let failures = 0;
  try {
    for (const name of opts.cases) {
      const started = Date.now();
      const result = name === 'admin' ? await runAdmin(b, opts, log)
                                      : await runCase(b, pageUrl(opts, port, name), name, log);
      result.browser = opts.browser;
      result.browserVersion = b.version;
      result.case = name;
      const file = join(opts.out, `${opts.browser}-${name}.json`);
      writeFileSync(file, JSON.stringify(result, null, 2));
      const took = ((Date.now() - started) / 1000).toFixed(1);
      if (result.ok && name === 'admin') {
        log(`case admin: uploadSuccess ${result.videoUrl}, played back ` +
            `${result.playback.videoWidth}x${result.playback.videoHeight}; loopback frames ` +
            `${result.loopback.samples.map(s => s.videoFrames).join(' ')}; ${took} s in all`);
      } else if (result.ok) {
        const v = (result.stats && result.stats.video) || {};
        log(`case ${name}: uploadSuccess ${result.videoUrl} after ${result.seconds.toFixed(2)} s ` +
            `of media (sent ${v.codec} ${v.frameWidth}x${v.frameHeight}, ` +
            `${v.framesEncoded} frames); ${took} s in all`);
      } else {
        failures++;
        log(`case ${name}: FAILED: ${result.error} (${took} s; details in ${file})`);
        for (const line of (result.trace || []).slice(-25))
          log('  page:', line.length > 400 ? line.slice(0, 400) + '...' : line);
        for (const line of result.console.slice(-10))
          log('  console:', line);
      }
    }
  } finally {
    await b.close().catch(e => log(`closing the browser: ${e}`));
    server.close();
  }
  return failures ? 1 : 0;
}

main().then(code => process.exit(code), e => {
  console.error('record.mjs:', e && e.stack || e);
  process.exit(2);
});
