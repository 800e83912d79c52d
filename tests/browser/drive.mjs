// drive.mjs — drives the chat page and the admin dashboard in a real Chromium (playwright-core,
// the system browser at PB_CHROMIUM, no download). Run by run.sh / tests/e2e_web_browser.sh
// against a service already started with the fake LLM and a finished offline run (PB_URL) and
// one without a provider or admin token (PB_URL_NO_LLM). Prints "ok   …" / "FAIL …" per
// check, keeps screenshots in PB_ARTIFACTS and exits 1 when any check failed. It starts no
// server; besides clicking, it plants traffic through the public API (choose + feedback).
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
const ARM_NAME_SHOWN = /프롬프트 [A-Z][A-Za-z0-9]*/;

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

async function api(request, method, path, body, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const res = await request.fetch(base + path, { method, headers, data: body });
  if (!res.ok()) throw new Error(`${method} ${path}: HTTP ${res.status()} ${await res.text()}`);
  return res.json();
}

let lastChatContentType = '';

// Sends text and waits until its answer has finished streaming (the message loses aria-busy).
async function sendMessage(page, text) {
  const before = await page.locator('.msg.bot:not(.waiting)').count();
  const response = page.waitForResponse(
    (r) => r.url().endsWith('/v1/chat') && r.request().method() === 'POST', { timeout: WAIT });
  await page.locator('#message').fill(text);
  await page.locator('#message').press('Enter'); // keyboard path: Enter sends
  lastChatContentType = (await response).headers()['content-type'] || '';
  const answer = page.locator('.msg.bot:not(.waiting)').nth(before);
  await answer.locator('.text').waitFor({ timeout: WAIT });
  await page.waitForFunction((i) => {
    const all = document.querySelectorAll('.msg.bot:not(.waiting)');
    return all[i] && !all[i].hasAttribute('aria-busy');
  }, before, { timeout: WAIT });
  return answer;
}

async function chatFlow(page) {
  await page.goto(base + '/');
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: WAIT });
  check('chat page is Korean', (await page.getAttribute('html', 'lang')) === 'ko');
  check('message box has the focus on load',
        await page.evaluate(() => document.activeElement && document.activeElement.id === 'message'));
  const answer = await sendMessage(page, '오늘 시험을 망쳐서 너무 속상해');
  const reply = (await answer.locator('.text').textContent()) || '';
  check('the answer appears', reply.trim().length > 0, JSON.stringify(reply));
  check('the chat page asks for the answer as a stream (Server-Sent Events)',
        lastChatContentType.startsWith('text/event-stream'), lastChatContentType);
  const emotions = (await page.locator('.msg.user .emotions').last().textContent()) || '';
  check('the detected emotion is shown with the user message', /^감정: \S/.test(emotions),
        JSON.stringify(emotions));
  check('no error banner after a good answer', await page.locator('#banner').isHidden());
  const labels = await answer.locator('.actions button').evaluateAll((bs) =>
    bs.map((b) => b.getAttribute('aria-label') || ''));
  check('like, dislike, regenerate and edit buttons have aria-labels',
        labels.length === 4 && labels.every((l) => l.length > 0), JSON.stringify(labels));
  const text = await page.evaluate(() => document.body.innerText);
  check('arm names are absent from the end-user page', !ARM_NAME_SHOWN.test(text),
        (text.match(ARM_NAME_SHOWN) || [''])[0]);
  check('the answer carries no visible prompt label', await answer.locator('.meta').isHidden());
  await page.screenshot({ path: join(artifacts, 'chat-desktop.png'), fullPage: true });
  return answer;
}

// Clicks "refresh" and waits for that refresh to end; throws with the banner's text when the
// dashboard could not load.
async function refreshAdmin(admin) {
  const done = Number((await admin.getAttribute('body', 'data-refreshes')) || 0);
  await admin.locator('#refresh').click();
  await waitRefresh(admin, done);
}

async function waitRefresh(admin, done) {
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

async function likeMovesTheDashboard(admin, answer) {
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

// The arms table's tokens column shows what GET /v1/experiments/default/usage says per arm.
async function tokensPerArmShow(admin) {
  await refreshAdmin(admin);
  const usage = await api(admin.request, 'GET', '/v1/experiments/default/usage', undefined, adminToken);
  const shown = [];
  for (const row of await admin.locator('#arms tbody tr').all()) {
    const id = Number(await row.getAttribute('data-arm-id'));
    shown.push([id, (await row.locator('td.tokens').textContent()).trim()]);
  }
  const want = shown.map(([id]) => {
    const u = usage.arms.find((a) => a.arm_id === id);
    return [id, u ? (u.prompt_tokens + u.completion_tokens).toLocaleString('ko-KR') : '—'];
  });
  check('the arms table shows the tokens of each arm\'s answered turns',
        usage.arms.length > 0 && shown.length > 0 &&
          shown.every(([, text], i) => text.split(' · ')[0] === want[i][1]),
        `${JSON.stringify(shown)} vs ${JSON.stringify(want)}`);
}

// Consented turns through the API, each in a new conversation, liking arm B's answers and
// disliking the others, until B was liked twice.
async function plantRatedAnswers(request) {
  let liked = 0;
  for (let i = 0; i < 24 && liked < 2; i++) {
    const user = `web-plant-${i}`;
    const turn = await api(request, 'POST', '/v1/chat',
                           { user_id: user, message: `친구랑 싸워서 속상해 ${i}`, consent: true });
    const kind = turn.arm === 'B' ? 'like' : 'dislike';
    liked += kind === 'like';
    await api(request, 'POST', '/v1/feedback',
              { impression_id: turn.impression_id, user_id: user, kind: kind });
  }
  return liked;
}

async function examplesShowThePlantedBest(admin) {
  const liked = await plantRatedAnswers(admin.request);
  check('arm B answered and was liked in consented conversations', liked >= 2, `${liked}`);
  await refreshAdmin(admin);
  const exp = await api(admin.request, 'GET', '/v1/experiments/default/overview', undefined, adminToken);
  const b = exp.arms.find((a) => a.name === 'B');
  const best = admin.locator(`.example-arm[data-arm-id="${b.id}"] .example[data-rank="best"] .ex-answer`);
  const text = (await best.count()) ? (await best.first().textContent()) || '' : '';
  check('the examples show arm B\'s planted best answer', text.includes('BEST-B'), JSON.stringify(text));
  const others = await admin.locator(`.example-arm:not([data-arm-id="${b.id}"]) .ex-answer`).allTextContents();
  check('no other arm shows B\'s answer', others.length > 0 && others.every((t) => !t.includes('BEST-B')),
        JSON.stringify(others.slice(0, 2)));
  const user = (await admin.locator(`.example-arm[data-arm-id="${b.id}"] .ex-user`).first().textContent()) || '';
  check('an example shows the user\'s message without the emotion suffix',
        user.includes('친구랑 싸워서 속상해') && !user.includes(';;'), JSON.stringify(user));
  // From a reward row to its turn: the newest rewards are the consented turns just planted.
  await admin.locator('#feedback tbody tr').first().locator('button').click();
  const turn = admin.locator('#feedback tr.turn-row').first();
  await turn.waitFor({ timeout: WAIT });
  const said = (await turn.textContent()) || '';
  check('a recent reward opens the turn it rated', said.includes('친구랑 싸워서 속상해'),
        JSON.stringify(said.slice(0, 80)));
}

async function pBestIsStable(admin) {
  await refreshAdmin(admin);
  const first = await admin.locator('#arms td.p-best').allTextContents();
  await refreshAdmin(admin);
  const second = await admin.locator('#arms td.p-best').allTextContents();
  check('P(best) is the same on two refreshes without new data',
        first.length > 0 && JSON.stringify(first) === JSON.stringify(second),
        `${JSON.stringify(first)} vs ${JSON.stringify(second)}`);
}

// n choose + feedback calls in one segment: the best arm liked 9 times in 10, the others 2.
async function plantTraffic(request, segment, best, n) {
  const seen = {};
  for (let i = 0; i < n; i++) {
    const c = await api(request, 'POST', '/v1/choose', { experiment: 'default', segment });
    const k = (seen[c.arm] = (seen[c.arm] || 0) + 1) - 1;
    const like = k % 10 < (c.arm === best ? 9 : 2);
    await api(request, 'POST', '/v1/feedback',
              { impression_id: c.impression_id, kind: like ? 'like' : 'dislike' });
  }
}

async function verdictFollowsTheData(admin) {
  await refreshAdmin(admin);
  const panel = admin.locator('#verdict-panel');
  const start = await panel.getAttribute('data-action');
  check('the verdict panel shows a verdict before there is enough data',
        ['keep_exploring', 'no_data'].includes(start) &&
          ((await admin.locator('#verdict-headline').textContent()) || '').length > 3, start);
  await plantTraffic(admin.request, 'negative', 'B', 200);
  await refreshAdmin(admin);
  check('after 200 rewards favouring B the verdict says promote B',
        (await panel.getAttribute('data-action')) === 'promote' &&
          (await panel.getAttribute('data-leader')) === 'B',
        `${await panel.getAttribute('data-action')} ${await panel.getAttribute('data-leader')}`);
  check('the advice names B', ((await admin.locator('#verdict-action').textContent()) || '').includes('B'));
  await admin.screenshot({ path: join(artifacts, 'dashboard-verdict-promote.png'), fullPage: false });
  // Promote asks first: cancelling changes nothing.
  await admin.locator('#verdict-buttons button').click();
  await admin.locator('#confirm').waitFor({ state: 'visible', timeout: WAIT });
  check('promote asks for a confirmation naming the arm',
        ((await admin.locator('#confirm-text').textContent()) || '').includes('B'));
  await admin.locator('#confirm-cancel').click();
  await refreshAdmin(admin);
  check('a cancelled promotion promotes nothing',
        (await admin.locator('#sum-promoted').textContent()) === '없음');
  await plantTraffic(admin.request, 'positive', 'C', 200);
  await refreshAdmin(admin);
  const action = (await admin.locator('#verdict-action').textContent()) || '';
  check('with C best for positive messages the advice is to serve per segment',
        (await panel.getAttribute('data-action')) === 'serve_per_segment' &&
          /부정[^,]*B/.test(action) && /긍정[^,]*C/.test(action), action);
  const marks = await admin.locator('.segment-block[data-segment="negative"] .mark').allTextContents();
  check('the negative segment table marks its separated leader', marks.some((m) => m.includes('확정')),
        JSON.stringify(marks));
  await admin.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
}

async function retireAsksFirst(admin) {
  const row = admin.locator('#arms tbody tr', { hasText: 'D' }).first();
  await row.locator('button', { hasText: '은퇴' }).click();
  await admin.locator('#confirm').waitFor({ state: 'visible', timeout: WAIT });
  await admin.locator('#confirm-cancel').click();
  const data = await api(admin.request, 'GET', '/v1/arms?experiment=default', undefined, adminToken);
  const d = data.arms.find((a) => a.name === 'D');
  check('a cancelled retire leaves the arm active', d && d.status === 'active', d && d.status);
}

async function consentedConversationComesBack(context, events) {
  const page = await context.newPage();
  watch(page, 'chat-history', events);
  await page.goto(base + '/');
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: WAIT });
  await page.locator('#consent').check();
  const answer = await sendMessage(page, '오늘 친구한테 선물 받아서 기뻐');
  const reply = (await answer.locator('.text').textContent()) || '';
  await answer.locator('.like').click();
  await answer.locator('.like[aria-pressed="true"]').waitFor({ timeout: WAIT });
  const conversation = await page.evaluate(() => sessionStorage.getItem('pb.conversation_id'));
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: WAIT });
  const users = await page.locator('.msg.user .text').allTextContents();
  const bots = await page.locator('.msg.bot .text').allTextContents();
  check('a reload restores a consented conversation',
        users.includes('오늘 친구한테 선물 받아서 기뻐') && bots.includes(reply),
        JSON.stringify({ users, bots }));
  check('the restored answer keeps its like',
        (await page.locator('.msg.bot .like[aria-pressed="true"]').count()) === 1);
  check('the restored user message shows its emotions',
        /^감정: \S/.test((await page.locator('.msg.user .emotions').first().textContent()) || ''));
  const text = await page.evaluate(() => document.body.innerText);
  check('arm names stay absent after a reload', !ARM_NAME_SHOWN.test(text));
  check('the past conversation is listed', (await page.locator('#history option').count()) >= 2);
  await page.screenshot({ path: join(artifacts, 'chat-restored.png'), fullPage: false });
  // The operator switch (set on /admin, this browser only) shows the arm under each answer.
  await page.evaluate(() => localStorage.setItem('pb.show_arms', '1'));
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: WAIT });
  check('the operator switch shows the arm name',
        ARM_NAME_SHOWN.test((await page.locator('.msg.bot .meta').first().textContent()) || '') &&
          (await page.locator('.msg.bot .meta').first().isVisible()));
  await page.evaluate(() => localStorage.setItem('pb.show_arms', '0'));
  await page.locator('#new-conversation').click();
  check('"new conversation" empties the list',
        (await page.locator('.msg').count()) === 0 &&
          (await page.evaluate(() => sessionStorage.getItem('pb.conversation_id'))) === null);
  await sendMessage(page, '새 대화에서 인사할게');
  const next = await page.evaluate(() => sessionStorage.getItem('pb.conversation_id'));
  check('the next message starts another conversation', next && next !== conversation, `${conversation} -> ${next}`);
  // Fixed header, scrolling list: only the list scrolls however long the conversation gets.
  await page.setViewportSize({ width: 1280, height: 560 });
  for (let i = 0; i < 4; i++) await sendMessage(page, `긴 대화 ${i}`);
  const layout = await page.evaluate(() => {
    const list = document.getElementById('messages');
    const header = document.querySelector('header.top').getBoundingClientRect();
    const send = document.getElementById('send').getBoundingClientRect();
    return { pageScrolls: document.documentElement.scrollHeight > window.innerHeight + 1,
             listScrolls: list.scrollHeight > list.clientHeight, headerTop: header.top,
             sendBottom: send.bottom, height: window.innerHeight };
  });
  check('the header stays and only the message list scrolls',
        !layout.pageScrolls && layout.listScrolls && layout.headerTop === 0 &&
          layout.sendBottom <= layout.height, JSON.stringify(layout));
  await page.screenshot({ path: join(artifacts, 'chat-long.png'), fullPage: false });
  await page.close();
}

async function offlineRunShowsItsRealStatistics(admin) {
  await refreshAdmin(admin);
  const runs = await api(admin.request, 'GET', '/v1/dashboard/runs', undefined, adminToken);
  const run = runs.runs[0];
  const row = admin.locator(`#runs tr[data-run-id="${run.id}"]`);
  check('the runs list shows the finished run with its steps and cost',
        (await row.count()) === 1 && Number(await row.locator('td.steps-ok').textContent()) === 60 &&
          run.cost_usd > 0, JSON.stringify(run));
  const done = Number((await admin.getAttribute('body', 'data-refreshes')) || 0);
  await row.locator('button').click();
  await waitRefresh(admin, done);
  const view = await api(admin.request, 'GET', `/v1/runs/${run.id}`, undefined, adminToken);
  const pulls = (await admin.locator('#arms td.pulls').allTextContents()).map(Number);
  const want = view.arms.map((a) => a.rewards);
  check('a finished offline run shows its real pull counts',
        pulls.reduce((a, b) => a + b, 0) === 60 && JSON.stringify(pulls) === JSON.stringify(want) &&
          pulls.every((p) => p > 0), `${JSON.stringify(pulls)} vs ${JSON.stringify(want)}`);
  check('an offline experiment offers no promote or retire',
        (await admin.locator('#arms td button').count()) === 0);
  const panel = admin.locator('#verdict-panel');
  check('the run\'s verdict names its winner',
        (await panel.getAttribute('data-action')) === 'import_winner' &&
          (await panel.getAttribute('data-leader')) === 'Warm',
        `${await panel.getAttribute('data-action')} ${await panel.getAttribute('data-leader')}`);
  const charts = await admin.locator('.plots .chart svg path').count();
  check('the run\'s charts have lines', charts > 0, `${charts}`);
  // The judge's reason (the fake answers BEST texts with {"score": 1, "reason": "따뜻함: …"}).
  const warm = view.arms.find((a) => a.name === 'Warm');
  const reason = admin.locator(`.example-arm[data-arm-id="${warm.id}"] .example[data-rank="best"] .ex-reason`);
  const reasonText = (await reason.count()) ? (await reason.first().textContent()) || '' : '';
  check('the run\'s examples show the judge\'s reason', reasonText.includes('따뜻함: BEST'),
        JSON.stringify(reasonText));
  await admin.screenshot({ path: join(artifacts, 'dashboard-run.png'), fullPage: true });
  const hasWarm = async () =>
    (await api(admin.request, 'GET', '/v1/arms?experiment=default', undefined, adminToken))
      .arms.some((a) => a.name === 'Warm');
  await admin.locator('#verdict-buttons button.import-winner').click();
  await admin.locator('#confirm').waitFor({ state: 'visible', timeout: WAIT });
  await admin.locator('#confirm-cancel').click();
  check('a cancelled import adds nothing', !(await hasWarm()));
  await admin.locator('#verdict-buttons button.import-winner').click();
  await admin.locator('#confirm').waitFor({ state: 'visible', timeout: WAIT });
  await admin.locator('#import-target').selectOption('default');
  const before = Number((await admin.getAttribute('body', 'data-refreshes')) || 0);
  await admin.locator('#confirm-ok').click();
  await waitRefresh(admin, before);
  check('"import the winner" adds Warm to the live experiment', await hasWarm());
  await startLiveWithTheRunsArms(admin, run, view);
  await admin.locator('#experiment').selectOption('default');
  await admin.waitForFunction(() => document.body.dataset.kind === 'live', null, { timeout: WAIT });
}

// "Start a live experiment with these arms" on the run's view: asks first (cancel creates
// nothing), then the new live experiment is selected and shows the run's arms with no pulls.
async function startLiveWithTheRunsArms(admin, run, view) {
  const want = view.arms.map((a) => a.name).sort();
  const name = `from-run-${run.id}`;
  const exists = async () =>
    (await api(admin.request, 'GET', '/v1/experiments', undefined, adminToken))
      .experiments.some((e) => e.name === name);
  await admin.locator('#experiment').selectOption(`run-${run.id}`);
  await admin.waitForFunction(() => document.body.dataset.kind === 'offline', null, { timeout: WAIT });
  await admin.locator('#verdict-buttons button.start-live').click();
  await admin.locator('#confirm').waitFor({ state: 'visible', timeout: WAIT });
  await admin.locator('#confirm-cancel').click();
  check('a cancelled "start a live experiment" creates nothing', !(await exists()));
  await admin.locator('#verdict-buttons button.start-live').click();
  await admin.locator('#confirm').waitFor({ state: 'visible', timeout: WAIT });
  await admin.locator('#start-live-name').fill(name);
  await admin.locator('#confirm-ok').click();
  await admin.waitForFunction((n) => document.querySelector('#experiment').value === n &&
                              document.body.dataset.kind === 'live', name, { timeout: WAIT });
  const arms = await api(admin.request, 'GET', `/v1/arms?experiment=${name}`, undefined, adminToken);
  const got = arms.arms.filter((a) => a.status === 'active').map((a) => a.name).sort();
  check('"start a live experiment" creates a live experiment with the run\'s arms',
        arms.kind === 'live' && JSON.stringify(got) === JSON.stringify(want) && arms.total_pulls === 0,
        `${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  await admin.waitForFunction((n) => document.querySelectorAll('#arms td.arm-name').length === n,
                              want.length, { timeout: WAIT });
  const shown = (await admin.locator('#arms td.arm-name').allTextContents()).map((t) => t.trim());
  check('the dashboard then shows the new experiment with those arms',
        want.every((n) => shown.some((t) => t.startsWith(n))), JSON.stringify(shown));
  await admin.screenshot({ path: join(artifacts, 'dashboard-started-live.png'), fullPage: true });
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
  // The arms go to "default": show it, and give the page the refreshes it takes to rebuild
  // the experiment's view (bounded), then look.
  if ((await admin.locator('#experiment').inputValue()) !== 'default')
    await admin.locator('#experiment').selectOption('default');
  for (let i = 0; i < 20; i++) {
    await readCounts(admin);
    if ((await admin.locator('#arms td.prompt').allTextContents()).includes(evil)) break;
    await admin.waitForTimeout(250);
  }
  const cells = await admin.locator('#arms td.prompt').allTextContents();
  check('the <script> prompt shows as text on /admin', cells.includes(evil), JSON.stringify(cells));
  if (byName.ok()) {
    const names = await admin.locator('#arms td.arm-name').allTextContents();
    check('a <script> arm name shows as text on /admin', names.some((n) => n.startsWith(evil)));
  } else {
    check('a <script> arm name is refused by the API (400)', byName.status() === 400,
          `HTTP ${byName.status()}`);
  }
  const injected = await admin.evaluate(() => document.querySelectorAll('main script').length);
  check('no script element was injected into the dashboard', injected === 0);
  await admin.waitForTimeout(300); // give a would-be alert the time to fire
  check('no dialog fired', !events.some((e) => e.includes('dialog')), events.join('; '));
  // Retire asks first; confirming retires.
  const row = admin.locator('#arms tbody tr', { hasText: 'Xss1' }).first();
  await row.locator('button', { hasText: '은퇴' }).click();
  await admin.locator('#confirm').waitFor({ state: 'visible', timeout: WAIT });
  const before = Number((await admin.getAttribute('body', 'data-refreshes')) || 0);
  await admin.locator('#confirm-ok').click();
  await waitRefresh(admin, before);
  const data = await api(admin.request, 'GET', '/v1/arms?experiment=default', undefined, adminToken);
  check('a confirmed retire retires the arm',
        data.arms.some((a) => a.name === 'Xss1' && a.status === 'retired'));
}

async function chartsSpeakThePageLanguage(admin) {
  for (const w of ['24h', '7d', 'all']) {
    const done = Number((await admin.getAttribute('body', 'data-refreshes')) || 0);
    await admin.locator('#window').selectOption(w);
    await waitRefresh(admin, done);
    const svgs = await admin.locator('.plots .chart svg').count();
    const lines = await admin.locator('#chart-pbest svg path').count();
    check(`window ${w}: all five charts render, P(best) over time has lines`,
          svgs === 5 && lines > 0, `${svgs} charts, ${lines} lines`);
  }
  const labels = (await admin.locator('.plots svg text').allTextContents()).join(' ');
  check('chart labels are in the page\'s language', labels.includes('시각') &&
        !/rewards received|share of|mean reward/i.test(labels), labels.slice(0, 120));
  const legend = await admin.locator('#chart-pbest .legend li').allTextContents();
  check('charts have a readable legend of arm names', legend.includes('B') && legend.includes('C'),
        JSON.stringify(legend));
  check('no regret panel for live traffic', (await admin.locator('#plot-regret, #chart-regret').count()) === 0);
  const fit = await admin.evaluate(() => [...document.querySelectorAll('.plots .chart')].every((c) => {
    const svg = c.querySelector('svg');
    return svg && Math.abs(svg.getBoundingClientRect().width - c.getBoundingClientRect().width) < 2;
  }));
  check('charts fill their panels', fit);
  // Every line point lies inside the plot area, at least 3 px from its top and bottom edges
  // (a P(best) of 1 must not be drawn on the frame).
  const inside = await admin.evaluate(() => {
    const plotted = [...document.querySelectorAll('.plots .chart svg')]
      .filter((svg) => svg.querySelector('g.axes[data-plot-top]'));
    return plotted.length >= 3 && plotted.every((svg) => {
      const axes = svg.querySelector('g.axes[data-plot-top]');
      const top = Number(axes.dataset.plotTop), bottom = Number(axes.dataset.plotBottom);
      return [...svg.querySelectorAll('g.series > path[fill="none"]')].every((p) =>
        [...(p.getAttribute('d') || '').matchAll(/[ML]([-0-9.]+) ([-0-9.]+)/g)]
          .every((m) => Number(m[2]) >= top + 3 && Number(m[2]) <= bottom - 3));
    });
  });
  check('no line is drawn on a chart\'s top or bottom edge', inside);
}

async function phone(context, events) {
  const page = await context.newPage();
  watch(page, 'phone', events);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + '/');
  await sendMessage(page, '친구랑 싸워서 마음이 복잡해');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check('the chat page fits a 390 px wide phone screen (no sideways scroll)', width <= 390,
        `${width}px`);
  const box = await page.locator('#send').boundingBox();
  check('the send button is on screen on a phone', box && box.x + box.width <= 390 && box.y + box.height <= 844);
  await page.screenshot({ path: join(artifacts, 'chat-phone.png'), fullPage: true });
  await page.close();
}

async function noProvider(context, events) {
  const page = await context.newPage();
  watch(page, 'no-llm', events);
  await page.goto(baseNoLlm + '/');
  await page.locator('#message').fill('안녕');
  await page.locator('#message').press('Enter');
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

async function adminOff(context, events) {
  const page = await context.newPage();
  watch(page, 'admin-off', events);
  await page.goto(baseNoLlm + '/admin');
  await page.locator('#admin-off').waitFor({ state: 'visible', timeout: WAIT });
  check('without an admin token configured the dashboard says admin is off',
        (await page.locator('#login').isHidden()) &&
          ((await page.locator('#admin-off').textContent()) || '').includes('꺼져 있어요'));
  await page.screenshot({ path: join(artifacts, 'dashboard-admin-off.png'), fullPage: false });
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
    const answer = await chatFlow(page);
    await adminLogin(admin);
    await likeMovesTheDashboard(admin, answer);
    await tokensPerArmShow(admin);
    await examplesShowThePlantedBest(admin);
    await pBestIsStable(admin);
    await verdictFollowsTheData(admin);
    await retireAsksFirst(admin);
    await consentedConversationComesBack(context, events);
    await offlineRunShowsItsRealStatistics(admin);
    await scriptPromptShowsAsText(admin, events);
    await chartsSpeakThePageLanguage(admin);
    await phone(context, events);
    await noProvider(context, events);
    await adminOff(context, events);
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
