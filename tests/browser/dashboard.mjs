// Opens the dashboard in a headless Chromium and reports what a reader would see.
//
//   node tests/browser/dashboard.mjs URL SCREENSHOT.png [PANEL_KEY,PANEL_KEY,...]
//
// Records every request the page makes, waits for the load event, checks that every
// expected panel (`<section class="panel" id="panel-KEY">`; by default the fixed ones)
// holds an `<svg>` chart with something drawn in it (and, when its data table has rows,
// a line, bar or point drawn from them), takes a full-page screenshot and prints a JSON
// summary on stdout: the requests, the panels (their shapes, their data marks and their
// data tables), the page's size, its links and timings. Exits 1 when a check
// fails (the summary's `failures` says which), 2 on bad arguments.
//
// DASHBOARD_SAVE_PAGE=FILE also writes the page as served to FILE.
//
// The browser is the system's Chromium (CHROMIUM, default /usr/bin/chromium); playwright-core
// comes from `npm ci --ignore-scripts` in this folder and downloads no browser.
import { writeFileSync } from 'node:fs';

import { chromium } from 'playwright-core';

const DEFAULT_PANELS = [
  'volume',
  'approval',
  'declines',
  'decline-category',
  'decline-reason',
  'late-revisions',
  'clusters',
  'ingest',
];

const [url, screenshot, panelList] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node dashboard.mjs URL SCREENSHOT.png [PANEL_KEY,...]');
  process.exit(2);
}
const expected = panelList ? panelList.split(',').filter(Boolean) : DEFAULT_PANELS;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const started = performance.now();
const since = () => Math.round(performance.now() - started);
const timings = {};
const failures = [];
const requests = [];
const failedRequests = [];
const consoleErrors = [];

const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
timings.launch_ms = since();
let summary;
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on('request', (request) => {
    requests.push({
      url: request.url(),
      method: request.method(),
      resource_type: request.resourceType(),
      navigation: request.isNavigationRequest(),
    });
  });
  page.on('requestfailed', (request) => {
    failedRequests.push({ url: request.url(), error: request.failure()?.errorText ?? '' });
  });
  // A Content-Security-Policy violation is reported here.
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));

  const navigationStarted = performance.now();
  const response = await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  timings.goto_ms = Math.round(performance.now() - navigationStarted);
  if (!response) throw new Error(`no response for ${url}`);
  const body = await response.body();
  if (process.env.DASHBOARD_SAVE_PAGE) writeFileSync(process.env.DASHBOARD_SAVE_PAGE, body);
  if (response.status() !== 200) {
    failures.push(`the page answered ${response.status()}: ${body.toString('utf8').slice(0, 500)}`);
  }

  const page_data = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const round = (v) => Math.round(v * 10) / 10;
    const shapes = (svg) => {
      const count = (selector) => svg.querySelectorAll(selector).length;
      return {
        polyline: count('polyline'),
        path: count('path'),
        rect: count('rect'),
        circle: count('circle'),
        line: count('line'),
        text: count('text'),
      };
    };
    // What the chart draws of its data, read from the SVG plotters writes: lines are
    // polylines of stroke-width 2 (axes and ticks are 1), bars are filled rects in a
    // colour, points are circles; anything inside a legend box (a translucent white
    // rect) is a legend entry, not data. A line of one distinct point draws nothing.
    const marks = (svg) => {
      const num = (e, a) => Number.parseFloat(e.getAttribute(a) ?? '0') || 0;
      const colourless = (c) => !c || c === 'none' || /^#(fff|ffffff|000|000000)$/i.test(c);
      const rects = [...svg.querySelectorAll('rect')];
      const box = (x0, y0, x1, y1) => ({ x0, y0, x1, y1 });
      const legends = rects
        .filter((r) => /^#ffffff$/i.test(r.getAttribute('fill') ?? '') && num(r, 'opacity') < 1)
        .map((r) => box(num(r, 'x'), num(r, 'y'), num(r, 'x') + num(r, 'width'), num(r, 'y') + num(r, 'height')));
      const inLegend = (b) =>
        legends.some((l) => b.x0 >= l.x0 && b.x1 <= l.x1 && b.y0 >= l.y0 && b.y1 <= l.y1);
      const found = { lines: 0, bars: 0, points: 0, invisible_lines: 0 };
      for (const p of svg.querySelectorAll('polyline')) {
        if (num(p, 'stroke-width') < 2) continue;
        const points = (p.getAttribute('points') ?? '').trim().split(/\s+/).filter(Boolean);
        const xy = points.map((q) => q.split(',').map(Number));
        const xs = xy.map((q) => q[0]);
        const ys = xy.map((q) => q[1]);
        if (xy.length === 0 || inLegend(box(Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)))) continue;
        if (new Set(points).size >= 2) found.lines += 1;
        else found.invisible_lines += 1;
      }
      for (const r of rects) {
        const b = box(num(r, 'x'), num(r, 'y'), num(r, 'x') + num(r, 'width'), num(r, 'y') + num(r, 'height'));
        if (colourless(r.getAttribute('fill')) || b.x1 <= b.x0 || b.y1 <= b.y0 || inLegend(b)) continue;
        found.bars += 1;
      }
      for (const c of svg.querySelectorAll('circle')) {
        const [x, y, radius] = [num(c, 'cx'), num(c, 'cy'), num(c, 'r')];
        if (radius > 0 && !inLegend(box(x - radius, y - radius, x + radius, y + radius))) found.points += 1;
      }
      return found;
    };
    const table = (element) => ({
      headers: [...element.querySelectorAll('thead th')].map((th) => th.textContent.trim()),
      rows: [...element.querySelectorAll('tbody tr')].map((tr) =>
        [...tr.querySelectorAll('td')].map((td) => td.textContent.trim()),
      ),
    });
    const panels = [...document.querySelectorAll('section.panel')].map((section) => {
      const svgs = [...section.querySelectorAll('svg')];
      const first = svgs[0];
      const box = first ? first.getBoundingClientRect() : null;
      return {
        id: section.id,
        title: section.querySelector('h2')?.textContent ?? '',
        note: section.querySelector('.note')?.textContent ?? '',
        svgs: svgs.length,
        svg_width: box ? Math.round(box.width) : 0,
        svg_height: box ? Math.round(box.height) : 0,
        shapes: first ? shapes(first) : null,
        marks: first ? marks(first) : null,
        tables: [...section.querySelectorAll('table.data')].map(table),
      };
    });
    return {
      title: document.title,
      panels,
      refresh: document.querySelector('meta[http-equiv="refresh" i]')?.getAttribute('content') ?? null,
      links: [...document.querySelectorAll('a[href]')].map((a) => ({
        text: a.textContent.trim(),
        href: a.href,
      })),
      forms: [...document.querySelectorAll('form')].map((form) => ({
        action: form.action,
        method: form.method,
        hidden: Object.fromEntries(
          [...form.querySelectorAll('input[type="hidden"]')].map((i) => [i.name, i.value]),
        ),
      })),
      // Anything that would load from somewhere: there should be none.
      external: [
        ...document.querySelectorAll('script, link, img, iframe, object, embed, video, audio, source'),
      ].map((e) => e.outerHTML.slice(0, 200)),
      timing: nav
        ? {
            response_start_ms: round(nav.responseStart - nav.startTime),
            response_end_ms: round(nav.responseEnd - nav.startTime),
            dom_content_loaded_ms: round(nav.domContentLoadedEventEnd - nav.startTime),
            load_ms: round(nav.loadEventEnd - nav.startTime),
          }
        : null,
      scroll_height: document.documentElement.scrollHeight,
    };
  });

  const found = new Map(page_data.panels.map((p) => [p.id.replace(/^panel-/, ''), p]));
  for (const key of expected) {
    const panel = found.get(key);
    if (!panel) {
      failures.push(`panel-${key} is missing`);
      continue;
    }
    const s = panel.shapes;
    const drawn = s ? s.polyline + s.path + s.rect + s.circle + s.line + s.text : 0;
    if (panel.svgs === 0) failures.push(`panel-${key} has no <svg>`);
    // More than the background: axes, labels, lines, bars or points.
    else if (drawn < 2 || panel.svg_width === 0 || panel.svg_height === 0) {
      failures.push(`panel-${key}'s <svg> draws nothing (${JSON.stringify(s)}, ${panel.svg_width}x${panel.svg_height})`);
    } else {
      const m = panel.marks;
      const rows = panel.tables.reduce((n, t) => n + t.rows.length, 0);
      if (rows > 0 && m.lines + m.bars + m.points === 0) {
        failures.push(`panel-${key} has ${rows} rows of data but its chart draws none of them (${JSON.stringify(m)})`);
      }
    }
  }
  for (const request of requests) {
    if (new URL(request.url).origin !== new URL(url).origin) {
      failures.push(`a request left the page's origin: ${request.url}`);
    }
  }
  if (page_data.external.length > 0) {
    failures.push(`the page loads from elsewhere: ${page_data.external.join(' ')}`);
  }
  if (consoleErrors.length > 0) failures.push(`console errors: ${consoleErrors.join(' | ')}`);

  const shotStarted = performance.now();
  await page.screenshot({ path: screenshot, fullPage: true });
  timings.screenshot_ms = Math.round(performance.now() - shotStarted);

  summary = {
    url,
    status: response.status(),
    headers: response.headers(),
    page_bytes: body.length,
    requests,
    failed_requests: failedRequests,
    console_errors: consoleErrors,
    expected_panels: expected,
    panels_found: page_data.panels.map((p) => p.id.replace(/^panel-/, '')),
    ...page_data,
    screenshot,
  };
} catch (error) {
  failures.push(`the browser run failed: ${error?.stack ?? error}`);
  summary = { url, requests, failed_requests: failedRequests, console_errors: consoleErrors };
} finally {
  await browser.close();
}
timings.total_ms = since();
summary.timings = { ...timings, page: summary.timing ?? null };
delete summary.timing;
summary.failures = failures;
// Not process.exit(): it would cut a long summary short on a pipe.
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode = failures.length === 0 ? 0 : 1;
