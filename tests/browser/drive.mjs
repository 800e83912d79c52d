// drive.mjs — drives the chat page and the admin dashboard in a real Chromium (playwright-core,
// the system browser at PB_CHROMIUM, no download). Run by run.sh / tests/e2e_web_browser.sh
// against a service already started with the fake LLM (PB_URL) and one without a provider
// (PB_URL_NO_LLM). Prints "ok   …" / "FAIL …" per check, keeps screenshots in PB_ARTIFACTS
// and exits 1 when any check failed. It only reads and clicks; it starts no server.
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') {
    console.error(`drive.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const base = env('PB_URL');
const baseNoLlm = env('PB_URL_NO_LLM');
const adminToken = env('PB_ADMIN_TOKEN');
const artifacts = env('PB_ARTIFACTS');
const executablePath = env('PB_CHROMIUM', '/usr/bin/chromium');
const WAIT = 15000; // ms for one UI change; the fake LLM answers at once

let passed = 0;
let failed = 0;
function check(what, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok   ${what}`);
  } else {
    failed++;
    console.log(`FAIL ${what}${detail === undefined ? '' : ': ' + detail}`);
  }
}

// Any dialog (alert from injected script) or page error / CSP refusal is recorded per page.
function watch(page, name, events) {
  page.on('dialog', async (d) => {
    events.push(`${name}: dialog "${d.message()}"`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => events.push(`${name}: page error ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 50[23]/.test(m.text()))
      events.push(`${name}: console error ${m.text()}`);
  });
}

async function sendMessage(page, text) {
  const before = await page.locator('.msg.bot:not(.waiting)').count();
  await page.locator('#message').fill(text);
  await page.locator('#message').press('Enter'); // keyboard path: Enter sends
  return before;
}

async function chatFlow(page, events) {
  await page.goto(base + '/');
  check('chat page is Korean', (await page.getAttribute('html', 'lang')) === 'ko');
  check('message box has the focus on load',
        await page.evaluate(() => document.activeElement && document.activeElement.id === 'message'));
  const before = await sendMessage(page, '오늘 시험을 망쳐서 너무 속상해');
  const answer = page.locator('.msg.bot:not(.waiting)').nth(before);
  await answer.locator('.text').waitFor({ timeout: WAIT });
  const reply = (await answer.locator('.text').textContent()) || '';
  check('the answer appears', reply.trim().length > 0, JSON.stringify(reply));
  const emotions = (await page.locator('.msg.user .emotions').last().textContent()) || '';
  check('the detected emotion is shown with the user message', /^감정: \S/.test(emotions),
        JSON.stringify(emotions));
  check('no error banner after a good answer', await page.locator('#banner').isHidden());
  const labels = await answer.locator('.actions button').evaluateAll((bs) =>
    bs.map((b) => b.getAttribute('aria-label') || ''));
  check('like, dislike, regenerate and edit buttons have aria-labels',
        labels.length === 4 && labels.every((l) => l.length > 0), JSON.stringify(labels));
  await page.screenshot({ path: join(artifacts, 'chat-desktop.png'), fullPage: true });
  return answer;
}

// Clicks "refresh" and waits for that refresh to end; throws with the banner's text when the
// dashboard could not load.
async function refreshAdmin(admin) {
  const done = Number((await admin.getAttribute('body', 'data-refreshes')) || 0);
  await admin.locator('#refresh').click();
  await admin.waitForFunction((n) => Number(document.body.dataset.refreshes || 0) > n, done, {
    timeout: WAIT,
  });
  if ((await admin.getAttribute('body', 'data-state')) !== 'ready')
    throw new Error('dashboard refresh failed: ' + (await admin.locator('#banner').textContent()));
}

async function readCounts(admin) {
  await refreshAdmin(admin);
  return {
    feedback: Number(await admin.locator('#sum-feedback').textContent()),
    pulls: Number(await admin.locator('#sum-pulls').textContent()),
  };
}

async function adminLogin(admin) {
  await admin.goto(base + '/admin');
  await admin.locator('#token').fill(adminToken);
  await admin.locator('#token-form button[type=submit]').click();
  await admin.waitForFunction(() => document.body.dataset.refreshes, null, { timeout: WAIT });
  check('dashboard loads with the admin token',
        (await admin.locator('#dashboard').isVisible()) &&
          (await admin.getAttribute('body', 'data-state')) === 'ready',
        await admin.locator('#banner').textContent());
  const stored = await admin.evaluate(() => sessionStorage.getItem('pb.admin_token'));
  check('the token is kept in sessionStorage', stored === adminToken);
}

async function likeMovesTheDashboard(page, admin, answer) {
  const before = await readCounts(admin);
  await answer.locator('.like').click();
  await answer.locator('.like[aria-pressed="true"]').waitFor({ timeout: WAIT });
  check('like is acknowledged on the answer', true);
  let after = before;
  for (let i = 0; i < 20 && after.feedback <= before.feedback; i++) {
    await admin.waitForTimeout(250);
    after = await readCounts(admin);
  }
  check('the dashboard feedback count moves after a like', after.feedback === before.feedback + 1,
        `${before.feedback} -> ${after.feedback}`);
  check('the dashboard pull count moves after a like', after.pulls > before.pulls,
        `${before.pulls} -> ${after.pulls}`);
}

async function scriptPromptShowsAsText(admin, events) {
  const evil = '<script>alert(1)</script>';
  const headers = { Authorization: `Bearer ${adminToken}` };
  const add = await admin.request.post(base + '/v1/arms', {
    headers,
    data: { experiment: 'default', name: 'Xss1', prompt: evil },
  });
  check('a prompt "<script>…" can be added through the API', add.ok(), `HTTP ${add.status()}`);
  const byName = await admin.request.post(base + '/v1/arms', {
    headers,
    data: { experiment: 'default', name: evil, prompt: 'harmless text' },
  });
  await readCounts(admin);
  const cells = await admin.locator('#arms td.prompt').allTextContents();
  check('the <script> prompt shows as text on /admin', cells.includes(evil), JSON.stringify(cells));
  if (byName.ok()) {
    const names = await admin.locator('#arms td.arm-name').allTextContents();
    check('a <script> arm name shows as text on /admin', names.includes(evil));
  } else {
    check('a <script> arm name is refused by the API (400)', byName.status() === 400,
          `HTTP ${byName.status()}`);
  }
  const injected = await admin.evaluate(() => document.querySelectorAll('main script').length);
  check('no script element was injected into the dashboard', injected === 0);
  await admin.waitForTimeout(300); // give a would-be alert the time to fire
  check('no dialog fired', !events.some((e) => e.includes('dialog')), events.join('; '));
  const plots = await admin.locator('.plots img').evaluateAll((imgs) =>
    imgs.map((i) => (i.complete && i.naturalWidth > 0 ? 1 : 0)).reduce((a, b) => a + b, 0));
  check('all five plots render as images', plots === 5, `${plots} of 5`);
  await admin.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
}

async function phone(context, events) {
  const page = await context.newPage();
  watch(page, 'phone', events);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + '/');
  const before = await sendMessage(page, '친구랑 싸워서 마음이 복잡해');
  await page.locator('.msg.bot:not(.waiting)').nth(before).locator('.text').waitFor({ timeout: WAIT });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check('the chat page fits a 390 px wide phone screen (no sideways scroll)', width <= 390,
        `${width}px`);
  const box = await page.locator('#send').boundingBox();
  check('the send button is on screen on a phone', box && box.x + box.width <= 390);
  await page.screenshot({ path: join(artifacts, 'chat-phone.png'), fullPage: true });
  await page.close();
}

async function noProvider(context, events) {
  const page = await context.newPage();
  watch(page, 'no-llm', events);
  await page.goto(baseNoLlm + '/');
  await sendMessage(page, '안녕');
  const banner = page.locator('#banner');
  await banner.waitFor({ state: 'visible', timeout: WAIT });
  const text = (await banner.textContent()) || '';
  check('without a provider the chat page says one is needed',
        text.includes('LLM 제공자가 설정되지 않았거나'), JSON.stringify(text));
  check('the banner carries the API error code "unavailable"',
        (await banner.getAttribute('data-code')) === 'unavailable');
  check('the unsent message is given back to the input box',
        (await page.locator('#message').inputValue()) === '안녕');
  await page.screenshot({ path: join(artifacts, 'chat-no-provider.png'), fullPage: true });
  await page.close();
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'pb-chromium-'));
  const events = [];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    watch(page, 'chat', events);
    const admin = await context.newPage();
    watch(admin, 'admin', events);
    const answer = await chatFlow(page, events);
    await adminLogin(admin);
    await likeMovesTheDashboard(page, admin, answer);
    await scriptPromptShowsAsText(admin, events);
    await phone(context, events);
    await noProvider(context, events);
    const problems = events.filter((e) => !e.includes('dialog'));
    check('no page errors, console errors or CSP refusals', problems.length === 0,
          problems.join('; '));
  } catch (e) {
    check('the browser run finished', false, e && e.stack ? e.stack : String(e));
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(`${failed ? 'FAILED' : 'PASSED'}: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
