// admin.js — the dashboard (/admin): reads the admin API (experiments, arms) and the
// dashboard's own endpoints (plots, recent feedback, judge evaluations), and sends the admin
// forms (add, retire, restore, promote an arm; change the policy). The admin token is asked
// once and kept in sessionStorage; every request carries it as Authorization: Bearer (no
// cookies, JSON bodies only, so other sites cannot forge requests). Data from the server —
// prompts, names, sources — reaches the page through textContent only, never as markup;
// plots are SVG drawn and escaped by the server and shown as <img> (which runs no script).
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const TOKEN_KEY = 'pb.admin_token';
  const PLOTS = ['intervals', 'mean', 'distribution', 'share', 'regret'];
  let timer = null;

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }

  // Fetches path with the admin token; resolves to the Response (ok) or throws an Error with
  // .code and .status taken from the API's error JSON.
  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + token() };
    const init = { method: method, headers: headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      const err = new Error('서버에 연결할 수 없어요 (' + (e && e.message ? e.message : e) + ')');
      err.code = 'network';
      throw err;
    }
    if (!res.ok) {
      let info = {};
      try {
        info = ((await res.json()) || {}).error || {};
      } catch (e) {
        info = {};
      }
      const err = new Error(info.message || 'HTTP ' + res.status);
      err.code = info.code || 'http_' + res.status;
      err.status = res.status;
      throw err;
    }
    return res;
  }

  async function apiJson(method, path, body) {
    return (await api(method, path, body)).json();
  }

  function showError(err) {
    const banner = $('#banner');
    let text = err.message || String(err);
    if (err.status === 401 || err.status === 403) {
      text = '관리자 토큰이 맞지 않아요: ' + text;
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin();
    }
    banner.textContent = text;
    banner.dataset.code = err.code || '';
    banner.hidden = false;
  }

  function clearError() {
    $('#banner').hidden = true;
    $('#banner').textContent = '';
  }

  function showLogin() {
    $('#login').hidden = false;
    $('#dashboard').hidden = true;
    $('#token').focus();
  }

  // ---- small helpers that never interpret text as markup ----

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text === undefined || text === null ? '—' : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function num(v, digits) {
    return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '—';
  }

  function firstLine(text) {
    const line = String(text || '').split('\n').find((l) => l.trim() !== '') || '';
    return line.length > 120 ? line.slice(0, 119) + '…' : line;
  }

  function when(seconds) {
    if (typeof seconds !== 'number') return '—';
    return new Date(seconds * 1000).toLocaleString('ko-KR');
  }

  // The API's field names, tolerant of the two spellings an interval may take.
  function interval(arm) {
    if (Array.isArray(arm.ci)) return arm.ci;
    if (Array.isArray(arm.ci95)) return arm.ci95;
    return [arm.ci_low, arm.ci_high];
  }

  function armId(arm) {
    return arm.arm_id !== undefined ? arm.arm_id : arm.id;
  }

  function listOf(data, key) {
    if (Array.isArray(data)) return data;
    return (data && Array.isArray(data[key]) && data[key]) || [];
  }

  function selected() {
    return $('#experiment').value || 'default';
  }

  // ---- rendering ----

  function renderArms(arms, promotedId) {
    const tbody = $('#arms tbody');
    tbody.replaceChildren();
    for (const arm of arms) {
      const tr = document.createElement('tr');
      const id = armId(arm);
      tr.dataset.armId = String(id);
      const label = arm.version > 1 ? arm.name + ' v' + arm.version : arm.name;
      cell(tr, label).className = 'arm-name';
      cell(tr, firstLine(arm.prompt)).className = 'prompt';
      cell(tr, arm.impressions, 'num');
      cell(tr, arm.pulls, 'num pulls');
      cell(tr, num(arm.mean, 3), 'num');
      const ci = interval(arm);
      cell(tr, num(ci[0], 2) + ' … ' + num(ci[1], 2), 'num');
      cell(tr, num(arm.p_best, 2), 'num');
      const active = arm.active !== undefined ? arm.active : arm.status !== 'retired';
      const promoted = arm.promoted || (promotedId && id === promotedId);
      cell(tr, (active ? '사용 중' : '은퇴') + (promoted ? ' · 승격' : ''));
      const actions = cell(tr, '');
      actions.textContent = '';
      actions.appendChild(
        active
          ? button('은퇴', label + ' 은퇴시키기', () => armAction(id, 'retire', label))
          : button('복원', label + ' 복원하기', () => armAction(id, 'restore', label)),
      );
      if (active && !promoted)
        actions.appendChild(button('승격', label + ' 승격하기', () => promote(id, label)));
      tbody.appendChild(tr);
    }
  }

  function button(text, label, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }

  // Segment tables, when the API gives them (GET /v1/experiments/{name}): an object
  // {segment: {pulls, arms: [{id, pulls, mean, p_best}]}}; arm names come from the arms list.
  function renderSegments(exp, arms) {
    const box = $('#segments');
    box.replaceChildren();
    const segments = exp && typeof exp.segments === 'object' && exp.segments ? exp.segments : {};
    const names = new Map(arms.map((a) => [armId(a), a.version > 1 ? a.name + ' v' + a.version : a.name]));
    const empty = [];
    for (const [segName, seg] of Object.entries(segments)) {
      if (!seg || !Array.isArray(seg.arms)) continue;
      if (!seg.pulls) {
        empty.push(segName); // a table of zeros says nothing; name the segment once below
        continue;
      }
      const h = document.createElement('h3');
      h.textContent = '구간 "' + segName + '" — 보상 ' + (seg.pulls || 0) + '회';
      const table = document.createElement('table');
      table.className = 'segment';
      const head = table.createTHead().insertRow();
      for (const t of ['이름', '보상 수', '평균 보상', 'P(최고)']) {
        const th = document.createElement('th');
        th.textContent = t;
        head.appendChild(th);
      }
      const body = table.createTBody();
      for (const arm of seg.arms) {
        const tr = body.insertRow();
        cell(tr, names.get(armId(arm)) || '#' + armId(arm));
        cell(tr, arm.pulls, 'num');
        cell(tr, num(arm.mean, 3), 'num');
        cell(tr, num(arm.p_best, 2), 'num');
      }
      const wrap = document.createElement('div');
      wrap.className = 'table-wrap';
      wrap.appendChild(table);
      box.append(h, wrap);
    }
    if (empty.length) {
      const p = document.createElement('p');
      p.className = 'help';
      p.textContent = '아직 보상이 없는 구간: ' + empty.join(', ');
      box.appendChild(p);
    }
  }

  function renderSummary(exp, arms) {
    $('#sum-policy').textContent = exp.policy || '—';
    $('#sum-kind').textContent = exp.kind || '—';
    const pulls =
      exp.total_pulls !== undefined
        ? exp.total_pulls
        : arms.reduce((n, a) => n + (Number(a.pulls) || 0), 0);
    $('#sum-pulls').textContent = String(pulls);
    const promoted = arms.find((a) => a.promoted || armId(a) === exp.promoted_arm_id);
    $('#sum-promoted').textContent = promoted ? promoted.name : '없음';
    if (!$('#policy').value) $('#policy').value = exp.policy || '';
  }

  function renderFeedback(data) {
    $('#sum-feedback').textContent = String(data.total);
    const parts = Object.entries(data.by_source || {}).map(([k, v]) => k + ' ' + v);
    $('#feedback-sources').textContent = parts.length ? '출처별: ' + parts.join(', ') : '';
    const tbody = $('#feedback tbody');
    tbody.replaceChildren();
    for (const r of data.recent || []) {
      const tr = document.createElement('tr');
      cell(tr, when(r.created_at));
      cell(tr, r.arm);
      cell(tr, r.source);
      cell(tr, num(r.value, 2), 'num');
      cell(tr, r.impression_id, 'num');
      tbody.appendChild(tr);
    }
  }

  function renderJudgeEvals(data) {
    const box = $('#judge-evals');
    const evals = listOf(data, 'judge_evals');
    box.replaceChildren();
    if (evals.length === 0) {
      const p = document.createElement('p');
      p.className = 'help';
      p.textContent = '아직 평가가 없어요 (promptbandit judge eval 로 만들 수 있어요).';
      box.appendChild(p);
      return;
    }
    for (const ev of evals) {
      const h = document.createElement('h3');
      h.textContent = ev.judge_kind + ' — ' + when(ev.created_at);
      const dl = document.createElement('dl');
      dl.className = 'summary';
      for (const [k, v] of Object.entries(ev.figures || {})) {
        if (typeof v === 'object' && v !== null) continue; // tables stay in the CLI report
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = typeof v === 'number' ? String(Math.round(v * 10000) / 10000) : String(v);
        dl.append(dt, dd);
      }
      box.append(h, dl);
    }
  }

  // SVG arrives as text (the request needs the bearer header, which <img src> cannot send)
  // and is shown through a data: URL: an image document runs no script whatever it holds.
  async function loadPlot(name, exp) {
    const img = $('#plot-' + name);
    try {
      const res = await api('GET', '/v1/experiments/' + encodeURIComponent(exp) + '/plots/' +
                            name + '.svg');
      const svg = await res.text();
      img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
      img.dataset.loaded = '1';
    } catch (err) {
      img.removeAttribute('src');
      img.alt = '그래프를 불러오지 못했어요: ' + err.message;
    }
  }

  async function loadExperiments() {
    const data = await apiJson('GET', '/v1/experiments');
    const list = listOf(data, 'experiments');
    const select = $('#experiment');
    const keep = select.value || sessionStorage.getItem('pb.experiment') || 'default';
    select.replaceChildren();
    for (const exp of list) {
      const opt = document.createElement('option');
      opt.value = exp.name;
      opt.textContent = exp.name + (exp.kind ? ' (' + exp.kind + ')' : '');
      select.appendChild(opt);
    }
    if (list.some((e) => e.name === keep)) select.value = keep;
    return list;
  }

  async function refresh() {
    clearError();
    try {
      const list = await loadExperiments();
      const name = selected();
      // The single-experiment view adds segment statistics; the list entry is the fallback.
      let exp = list.find((e) => e.name === name) || {};
      try {
        exp = await apiJson('GET', '/v1/experiments/' + encodeURIComponent(name));
      } catch (err) {
        if (err.status !== 404 && err.status !== 405) throw err;
      }
      let arms = listOf(exp, 'arms');
      if (arms.length === 0) {
        const data = await apiJson('GET', '/v1/arms?experiment=' + encodeURIComponent(name));
        arms = listOf(data, 'arms');
        if (data && !Array.isArray(data) && !exp.policy) exp = Object.assign({}, data, exp);
      }
      renderSummary(exp, arms);
      renderArms(arms, exp.promoted_arm_id);
      renderSegments(exp, arms);
      const [feedback, evals] = await Promise.all([
        apiJson('GET', '/v1/experiments/' + encodeURIComponent(name) + '/feedback?limit=20'),
        apiJson('GET', '/v1/judge-evals'),
      ]);
      renderFeedback(feedback);
      renderJudgeEvals(evals);
      await Promise.all(PLOTS.map((p) => loadPlot(p, name)));
      document.body.dataset.state = 'ready';
    } catch (err) {
      document.body.dataset.state = 'error';
      showError(err);
    } finally {
      // A completion counter lets scripts and tests wait for one refresh to end.
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
    }
  }

  // ---- actions ----

  function said(text) {
    $('#manage-status').textContent = text;
  }

  async function armAction(id, action, label) {
    clearError();
    try {
      await apiJson('POST', '/v1/arms/' + encodeURIComponent(id) + '/' + action, {});
      said(label + (action === 'retire' ? ' 을(를) 은퇴시켰어요.' : ' 을(를) 복원했어요.'));
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  async function promote(id, label) {
    clearError();
    try {
      await apiJson('POST', '/v1/experiments/' + encodeURIComponent(selected()) + '/promote', {
        arm_id: id,
      });
      said(label + ' 을(를) 승격했어요.');
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  async function onAddArm(ev) {
    ev.preventDefault();
    clearError();
    const name = $('#arm-name').value.trim();
    try {
      await apiJson('POST', '/v1/arms', {
        experiment: selected(),
        name: name,
        prompt: $('#arm-prompt').value,
      });
      said(name + ' 을(를) 추가했어요.');
      $('#add-arm').reset();
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  async function onPolicy(ev) {
    ev.preventDefault();
    clearError();
    const policy = $('#policy').value.trim();
    try {
      await apiJson('POST', '/v1/experiments/' + encodeURIComponent(selected()) + '/policy', {
        policy: policy,
      });
      said('정책을 ' + policy + ' (으)로 바꿨어요.');
      $('#policy').value = '';
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  function start() {
    $('#login').hidden = true;
    $('#dashboard').hidden = false;
    refresh();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('#token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
      $('#token').value = '';
      start();
    });
    $('#logout').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin();
    });
    $('#refresh').addEventListener('click', refresh);
    $('#experiment').addEventListener('change', () => {
      sessionStorage.setItem('pb.experiment', selected());
      $('#policy').value = '';
      refresh();
    });
    $('#auto-refresh').addEventListener('change', (e) => {
      clearInterval(timer);
      timer = e.target.checked ? setInterval(refresh, 10000) : null;
    });
    $('#add-arm').addEventListener('submit', onAddArm);
    $('#policy-form').addEventListener('submit', onPolicy);
    if (token()) start();
    else showLogin();
  });
})();
