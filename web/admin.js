// admin.js — the dashboard (/admin). Reads the dashboard's decision views (an experiment's
// overview with verdict, advice and series; examples per arm; offline runs) and the admin API,
// draws the charts with charts.js, and sends the admin actions (add, retire, restore, promote
// an arm; change the policy; reset; import a run's winner) — each change that cannot be undone
// in one click asks first in a <dialog>. The admin token is asked once and kept in
// sessionStorage; every request carries it as Authorization: Bearer (no cookies, JSON bodies
// only, so other sites cannot forge requests). Data from the server — prompts, names, answers
// — reaches the page through textContent only, never as markup.
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const TOKEN_KEY = 'pb.admin_token';
  const lang = (document.documentElement.lang || 'ko').slice(0, 2);

  // Every label the page writes itself, in the page's language.
  const TEXT = {
    ko: {
      tokenWrong: '관리자 토큰이 맞지 않아요: ',
      network: '서버에 연결할 수 없어요',
      none: '없음',
      active: '사용 중', retired: '은퇴', promoted: '승격',
      retire: '은퇴', restore: '복원', promote: '승격',
      noData: '아직 자료가 없어요',
      segments: { positive: '긍정', negative: '부정', ambiguous: '모호', neutral: '중립', unknown: '알 수 없음', all: '전체' },
      segmentTitle: (name, n) => `${name} — 보상 ${n}개`,
      emptySegments: '아직 보상이 없는 구간: ',
      cols: ['이름', '보상 수', '평균 보상', '95 % 구간', 'P(최고)'],
      leads: (a, b) => `${a}이(가) ${b}보다 앞서지만 아직 확실하지 않아요.`,
      best: (a) => `${a}이(가) 가장 좋아요 (95 % 신뢰, GLR 검정).`,
      bestPromoted: (a) => `${a}이(가) 가장 좋고, 이미 승격돼 있어요.`,
      perSegment: '감정 구간마다 가장 좋은 프롬프트가 달라요.',
      noCompare: '아직 비교할 수 없어요: 보상을 받은 프롬프트가 두 개 이상 있어야 해요.',
      keepExploring: '계속 탐색하세요.',
      promoteIt: (a) => `${a}을(를) 승격하세요.`,
      nothingToDo: '할 일이 없어요.',
      serve: (pairs) => pairs.map(([seg, arm]) => `${seg}에는 ${arm}`).join(', ') + '을(를) 쓰세요.',
      importIt: (a) => `${a}을(를) 라이브 실험으로 가져오세요.`,
      runLonger: (n) => (n === null ? '실행을 더 하세요.' : `약 ${n}단계 더 실행하세요.`),
      needMin: (n) => `두 프롬프트 모두 보상이 ${n}개 이상 모여야 판단해요.`,
      more: (n) => `지금 차이가 이어지면 보상이 약 ${n}개 더 필요해요.`,
      moreUnknown: '두 평균이 같아서 얼마나 더 필요한지 알 수 없어요.',
      stat: (s, t, c) => `GLR 통계량 ${s} / 기준 ${t} (${c} % 신뢰, 여러 번 봐도 유효한 기준)`,
      segVerdict: (a, sep) => (sep ? `가장 좋음: ${a} (확정)` : `앞서는 중: ${a} (아직 확실하지 않음)`),
      chartPbest: 'P(최고)', chartShare: '노출 비율', chartMean: '평균 보상',
      capPbest: { time: '시간에 따른 P(최고)', iteration: '반복에 따른 P(최고)' },
      capShare: { time: '시간대별 노출 비율', iteration: '반복에 따른 누적 선택 비율' },
      capMean: { time: '시간대별 평균 보상과 95 % 구간', iteration: '반복에 따른 누적 평균 보상과 95 % 구간' },
      xTime: '시각', xIter: '반복',
      levels: ['-1', '-0.5', '0', '+0.5', '+1'],
      count: '개수 ',
      ranks: { best: '가장 좋은 평가', median: '중간 평가', worst: '가장 나쁜 평가' },
      reward: '보상', emotion: '감정', user: '사용자', answer: '답변', reason: '판정 이유',
      impression: '노출', iteration: '반복',
      rated: (n) => `평가된 답변 ${n}개`,
      noExamples: '아직 저장된 답변 예시가 없어요 (저장에 동의한 대화에 평가가 있어야 해요).',
      feedbackHead: ['시각', '프롬프트', '출처', '보상', '노출 id', '대화'],
      showTurn: '보기', turnNotStored: '저장된 대화가 없어요 (저장에 동의하지 않은 대화예요).',
      stepsHead: ['반복', '프롬프트', '상태', '점수', '시각'],
      sources: '출처별: ',
      view: '보기', viewing: '보는 중',
      runStatus: { running: '실행 중', finished: '끝남', failed: '실패', interrupted: '중단됨' },
      runLine: (r) => `#${r.id} ${r.name} · ${r.status}${r.stop_reason ? ' (' + r.stop_reason + ')' : ''} · 성공 ${r.steps_ok} / 실패 ${r.steps_failed} · $${r.cost_usd.toFixed(4)}`,
      confirmRetire: (a) => `${a}을(를) 은퇴시킬까요? 더 이상 사용자에게 나가지 않아요 (나중에 복원할 수 있어요).`,
      confirmRestore: (a) => `${a}을(를) 다시 사용할까요?`,
      confirmPromote: (a) => `${a}을(를) 승격할까요? 승격하면 모든 사용자가 이 프롬프트만 받아요.`,
      confirmReset: (e) => `실험 "${e}"을(를) 초기화할까요? 지금 실험은 보관되고, 같은 프롬프트로 보상 없이 새로 시작해요.`,
      confirmImport: (a, r) => `실행 #${r}의 승자 ${a}을(를) 아래 라이브 실험에 프롬프트로 추가할까요?`,
      importTarget: '가져갈 실험',
      importButton: (a) => `승자 ${a} 가져오기…`,
      promoteButton: (a) => `${a} 승격하기…`,
      restoredMsg: (a) => `${a}을(를) 복원했어요.`, retiredMsg: (a) => `${a}을(를) 은퇴시켰어요.`,
      promotedMsg: (a) => `${a}을(를) 승격했어요.`, resetMsg: (e) => `실험 ${e}을(를) 새로 시작했어요.`,
      importedMsg: (a, e) => `${a}을(를) 실험 ${e}에 가져왔어요.`,
      startLiveButton: '이 프롬프트들로 라이브 실험 시작…',
      confirmStartLive: (r, arms) => `실행 #${r}의 프롬프트 ${arms}(으)로 새 라이브 실험을 시작할까요? 보상 없이 시작하고, 정책은 서비스 기본값이에요.`,
      startLiveName: '새 실험 이름',
      startedMsg: (e) => `라이브 실험 ${e}을(를) 시작했어요.`,
      addedMsg: (a) => `${a}을(를) 추가했어요.`, policyMsg: (p) => `정책을 ${p}(으)로 바꿨어요.`,
      noEvals: '아직 평가가 없어요 (promptbandit judge eval 로 만들 수 있어요).',
      lineage: '계보',
      lineageHead: ['세대', '프롬프트', '부모', '판정', '보상 수', '평균', '리더와의 GLR', '기준'],
      verdicts: { pending: '대기', incumbent: '현역', admitted: '채택', kept: '유지', superseded: '교체됨',
                  retired: '은퇴', undecided: '미정' },
      agreeOff: '라이브 판정이 꺼져 있어요 (judge.live_sample_rate = 0).',
      agreeNone: '판정 점수와 사람 피드백이 둘 다 있는 답이 아직 없어요.',
      agreeHead: ['범위', 'n', '순위 상관 (Spearman)', '부호 일치', ''],
      agreeAll: '전체',
      agreeWarn: (t) => `경고: 판정과 사람의 순위 상관이 ${t} 보다 낮아요. 오프라인 bandit-run 결과를 라이브에 그대로 믿지 마세요.`,
      agreeLine: (s) => `표본 비율 ${s.sample_rate} · 점수 ${s.scored_stored}개 저장 · 큐가 차서 건너뜀 ${s.skipped_queue_full} · 실패 ${s.failed} · 밴딧 반영 ${s.feeds_bandit ? '예' : '아니오'}`,
      agreeWorst: '가장 크게 어긋난 답',
      agreeGap: (d) => `${d.arm} · 판정 ${d.judge.toFixed(2)} · 사람 ${d.human.toFixed(2)}`,
      adminOff: '관리자 기능이 꺼져 있어요 (server.admin_token 이 설정되지 않았어요).',
    },
  };
  const T = TEXT[lang] || TEXT.ko;

  let timer = null;
  let current = null; // the last overview shown
  let liveExperiments = [];

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
      const err = new Error(T.network + ' (' + (e && e.message ? e.message : e) + ')');
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
      if (/admin endpoints are off/.test(text)) return showAdminOff();
      text = T.tokenWrong + text;
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
    $('#admin-off').hidden = true;
    $('#login').hidden = false;
    $('#dashboard').hidden = true;
    $('#token').focus();
  }

  function showAdminOff() {
    $('#admin-off').hidden = false;
    $('#login').hidden = true;
    $('#dashboard').hidden = true;
    document.body.dataset.state = 'admin-off';
  }

  // ---- small helpers that never interpret text as markup ----

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text === undefined || text === null ? '—' : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function node(tag, text, cls) {
    const n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = String(text);
    if (cls) n.className = cls;
    return n;
  }

  function num(v, digits) {
    return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '—';
  }

  function signed(v) {
    return typeof v === 'number' ? (v > 0 ? '+' : '') + v.toFixed(2) : '—';
  }

  function firstLine(text) {
    const line = String(text || '').split('\n').find((l) => l.trim() !== '') || '';
    return line.length > 120 ? line.slice(0, 119) + '…' : line;
  }

  function when(seconds) {
    if (typeof seconds !== 'number') return '—';
    return new Date(seconds * 1000).toLocaleString(lang === 'ko' ? 'ko-KR' : undefined);
  }

  function selected() {
    return $('#experiment').value || 'default';
  }

  function labelOf(ov, id) {
    const arm = (ov.arms || []).find((a) => a.id === id);
    return arm ? arm.label : '#' + id;
  }

  function segmentName(name) {
    return (T.segments[name] ? T.segments[name] + ' (' + name + ')' : name);
  }

  function button(text, label, onClick, cls) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    if (cls) b.className = cls;
    b.addEventListener('click', onClick);
    return b;
  }

  // Asks in the page's <dialog> (no window.confirm: it blocks and cannot be styled); resolves
  // to true when the operator confirmed. extra: a node shown under the question (a select).
  function confirmAction(question, extra) {
    const dialog = $('#confirm');
    $('#confirm-text').textContent = question;
    $('#confirm-extra').replaceChildren(...(extra ? [extra] : []));
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.returnValue = '';
      dialog.showModal();
      $('#confirm-cancel').focus();
    });
  }

  // ---- rendering ----

  function renderVerdict(ov) {
    const panel = $('#verdict-panel');
    const v = ov.verdict || {};
    const adv = ov.advice || { action: 'no_data' };
    const leader = v.leader !== null && v.leader !== undefined ? labelOf(ov, v.leader) : '';
    const runner = v.runner_up !== null && v.runner_up !== undefined ? labelOf(ov, v.runner_up) : '';
    let headline = T.noCompare, action = '', detail = '';
    const buttons = $('#verdict-buttons');
    buttons.replaceChildren();
    if (v.compared) {
      headline = v.separated ? T.best(leader) : T.leads(leader, runner);
      if (!v.separated) {
        // Unknown "more" with too few rewards means an arm has none yet; with enough, that
        // the two means are equal.
        if (!v.enough_data) detail = T.needMin(v.min_rewards) + ' ';
        if (v.more_rewards !== null) detail += T.more(Math.ceil(v.more_rewards));
        else if (v.enough_data) detail += T.moreUnknown;
      }
      detail += ' ' + T.stat(num(v.statistic, 2), num(v.threshold, 2), Math.round(v.confidence * 100));
    }
    if (adv.action === 'keep_exploring') action = T.keepExploring;
    if (adv.action === 'promote') {
      action = T.promoteIt(labelOf(ov, adv.arm));
      buttons.appendChild(button(T.promoteButton(labelOf(ov, adv.arm)), T.promoteButton(labelOf(ov, adv.arm)),
                                 () => promote(adv.arm, labelOf(ov, adv.arm))));
    }
    if (adv.action === 'promoted') {
      headline = T.bestPromoted(leader);
      action = T.nothingToDo;
    }
    if (adv.action === 'serve_per_segment') {
      headline = T.perSegment;
      action = T.serve((adv.serve || []).map((s) => [segmentName(s.segment), labelOf(ov, s.arm)]));
    }
    if (adv.action === 'import_winner') {
      action = T.importIt(labelOf(ov, adv.arm));
      buttons.appendChild(button(T.importButton(labelOf(ov, adv.arm)), T.importButton(labelOf(ov, adv.arm)),
                                 () => importWinner(ov.run.id, labelOf(ov, adv.arm)), 'import-winner'));
    }
    // A stopped offline run: start a live experiment with all its arms.
    if (ov.run && ov.experiment && ov.experiment.kind === 'offline' && ov.run.status !== 'running')
      buttons.appendChild(button(T.startLiveButton, T.startLiveButton, () => startLive(ov), 'start-live'));
    if (adv.action === 'run_longer')
      action = T.runLonger(typeof adv.more_steps === 'number' ? adv.more_steps : null);
    $('#verdict-headline').textContent = headline;
    $('#verdict-action').textContent = action;
    $('#verdict-detail').textContent = detail.trim();
    panel.dataset.action = adv.action;
    panel.dataset.separated = v.separated ? '1' : '0';
    panel.dataset.leader = leader;
  }

  function renderSummary(ov) {
    const e = ov.experiment || {};
    $('#sum-policy').textContent = e.policy || '—';
    $('#sum-kind').textContent = e.kind || '—';
    $('#sum-pulls').textContent = String(Math.round(e.rewards || 0));
    const feedback = Object.values(e.by_source || {}).reduce((a, b) => a + b, 0);
    $('#sum-feedback').textContent = String(Math.round(feedback));
    const promoted = (ov.arms || []).find((a) => a.promoted);
    $('#sum-promoted').textContent = promoted ? promoted.label : T.none;
    const run = ov.run;
    $('#sum-run-label').hidden = !run;
    $('#sum-run').hidden = !run;
    if (run) $('#sum-run').textContent = T.runLine(run);
    if (!$('#policy').value) $('#policy').value = e.policy || '';
  }

  // Provider tokens of the arm's answered chat turns and their cost (GET .../usage), or '—'.
  function usageText(u) {
    if (!u) return '—';
    const tokens = u.prompt_tokens + u.completion_tokens;
    return tokens.toLocaleString('ko-KR') + ' · $' + u.cost_usd.toFixed(4);
  }

  function renderArms(ov, usage) {
    const byArm = new Map(((usage && usage.arms) || []).map((u) => [u.arm_id, u]));
    const tbody = $('#arms tbody');
    const live = ov.experiment.kind !== 'offline';
    const v = ov.verdict || {};
    tbody.replaceChildren();
    for (const arm of ov.arms || []) {
      const tr = document.createElement('tr');
      tr.dataset.armId = String(arm.id);
      const lead = v.compared && v.leader === arm.id;
      const name = cell(tr, arm.label, 'arm-name');
      if (lead) name.appendChild(node('span', v.separated ? ' ★ 확정' : ' ★', 'mark'));
      cell(tr, firstLine(arm.prompt), 'prompt');
      cell(tr, arm.impressions === null ? '—' : Math.round(arm.impressions), 'num');
      cell(tr, Math.round(arm.rewards), 'num pulls');
      cell(tr, num(arm.mean, 3), 'num mean');
      cell(tr, arm.rewards > 0 ? num(arm.interval[0], 2) + ' … ' + num(arm.interval[1], 2) : '—', 'num');
      cell(tr, num(arm.p_best, 2), 'num p-best');
      const tokens = cell(tr, usageText(byArm.get(arm.id)), 'num tokens');
      const u = byArm.get(arm.id);
      if (u) tokens.title = `입력 ${u.prompt_tokens} · 출력 ${u.completion_tokens} 토큰 · 답변 ${u.turns}개`;
      cell(tr, (arm.active ? T.active : T.retired) + (arm.promoted ? ' · ' + T.promoted : ''));
      const actions = cell(tr, '');
      actions.textContent = '';
      if (live) {
        actions.appendChild(
          arm.active
            ? button(T.retire, arm.label + ' ' + T.retire, () => armAction(arm.id, 'retire', arm.label))
            : button(T.restore, arm.label + ' ' + T.restore, () => armAction(arm.id, 'restore', arm.label)),
        );
        if (arm.active && !arm.promoted)
          actions.appendChild(button(T.promote, arm.label + ' ' + T.promote, () => promote(arm.id, arm.label)));
      }
      tbody.appendChild(tr);
    }
  }

  function segmentTable(ov, seg) {
    const table = node('table', null, 'stats segment');
    const cols = document.createElement('colgroup');
    for (const c of ['c-name', 'c-num', 'c-num', 'c-ci', 'c-num']) cols.appendChild(node('col', null, c));
    table.appendChild(cols);
    const head = table.createTHead().insertRow();
    T.cols.forEach((t, i) => {
      const th = node('th', t, i ? 'num' : '');
      th.scope = 'col';
      head.appendChild(th);
    });
    const body = table.createTBody();
    for (const arm of seg.arms) {
      const tr = body.insertRow();
      const name = cell(tr, labelOf(ov, arm.id));
      if (seg.verdict.compared && seg.verdict.leader === arm.id)
        name.appendChild(node('span', seg.verdict.separated ? ' ★ 확정' : ' ★', 'mark'));
      cell(tr, Math.round(arm.rewards), 'num');
      cell(tr, num(arm.mean, 3), 'num');
      cell(tr, arm.rewards > 0 ? num(arm.interval[0], 2) + ' … ' + num(arm.interval[1], 2) : '—', 'num');
      cell(tr, arm.rewards > 0 ? num(arm.p_best, 2) : '—', 'num');
    }
    return table;
  }

  function renderSegments(ov) {
    const box = $('#segments');
    const segs = ov.segments || [];
    $('#segments-section').hidden = ov.experiment.kind === 'offline';
    box.replaceChildren();
    const empty = [];
    for (const seg of segs) {
      if (!seg.rewards) {
        empty.push(segmentName(seg.name));
        continue;
      }
      const wrap = node('div', null, 'segment-block');
      wrap.dataset.segment = seg.name;
      wrap.appendChild(node('h3', T.segmentTitle(segmentName(seg.name), seg.rewards)));
      const v = seg.verdict;
      if (v.compared)
        wrap.appendChild(node('p', T.segVerdict(labelOf(ov, v.leader), v.separated), 'help seg-verdict'));
      const tw = node('div', null, 'table-wrap');
      tw.appendChild(segmentTable(ov, seg));
      wrap.appendChild(tw);
      box.appendChild(wrap);
    }
    if (empty.length) box.appendChild(node('p', T.emptySegments + empty.join(', '), 'help'));
  }

  function renderCharts(ov) {
    const s = ov.series || { x: [], arms: [] };
    const kind = s.x_kind === 'iteration' ? 'iteration' : 'time';
    const byId = new Map((s.arms || []).map((a) => [a.id, a]));
    const arms = (ov.arms || []).filter((a) => byId.has(a.id));
    const pick = (key) => arms.map((a) => ({ name: a.label, y: byId.get(a.id)[key] }));
    const xLabel = kind === 'time' ? T.xTime : T.xIter;
    $('#cap-pbest').textContent = T.capPbest[kind];
    $('#cap-share').textContent = T.capShare[kind];
    $('#cap-mean').textContent = T.capMean[kind];
    PBCharts.lines($('#chart-pbest'), { title: T.capPbest[kind], x: s.x, xKind: kind, lang: lang,
                                        yMin: 0, yMax: 1, yLabel: T.chartPbest, xLabel: xLabel,
                                        series: pick('p_best'), noData: T.noData });
    PBCharts.lines($('#chart-share'), { title: T.capShare[kind], x: s.x, xKind: kind, lang: lang,
                                        yMin: 0, yMax: 1, yLabel: T.chartShare, xLabel: xLabel,
                                        series: pick('share'), noData: T.noData });
    PBCharts.lines($('#chart-mean'), {
      title: T.capMean[kind], x: s.x, xKind: kind, lang: lang, yMin: -1, yMax: 1,
      yLabel: T.chartMean, xLabel: xLabel, noData: T.noData,
      series: arms.map((a) => ({ name: a.label, y: byId.get(a.id).mean, lo: byId.get(a.id).lo,
                                 hi: byId.get(a.id).hi })),
    });
    PBCharts.intervals($('#chart-intervals'), {
      title: T.chartMean, yMin: -1, yMax: 1, noData: T.noData,
      rows: (ov.arms || []).filter((a) => a.rewards > 0)
        .map((a) => ({ name: a.label, mean: a.mean, lo: a.interval[0], hi: a.interval[1] })),
    });
    const dist = ov.distribution || { arms: [] };
    PBCharts.stacked($('#chart-distribution'), {
      title: T.levels.join(' / '), levels: T.levels, countLabel: T.count, noData: T.noData,
      rows: (dist.arms || []).map((d) => ({ name: labelOf(ov, d.id), counts: d.counts })),
    });
  }

  function exampleCard(ex, offline) {
    const art = node('article', null, 'example');
    art.dataset.rank = ex.rank;
    const head = [T.ranks[ex.rank] || ex.rank, T.reward + ' ' + signed(ex.value) + ' (' + ex.source + ')'];
    if (ex.emotion) head.push(T.emotion + ': ' + ex.emotion);
    head.push(when(ex.created_at));
    art.appendChild(node('p', head.join(' · '), 'ex-head'));
    const user = node('p', null, 'ex-user');
    user.append(node('strong', T.user + ': '), document.createTextNode(ex.user_text || '—'));
    const answer = node('p', null, 'ex-answer');
    answer.append(node('strong', T.answer + ': '), document.createTextNode(ex.answer || '—'));
    art.append(user, answer);
    if (ex.reason) art.appendChild(node('p', T.reason + ': ' + ex.reason, 'ex-reason'));
    art.appendChild(node('p', offline ? T.iteration + ' #' + ex.iteration
                                      : T.impression + ' #' + ex.impression_id, 'help'));
    return art;
  }

  function renderExamples(data, ov) {
    const box = $('#examples');
    box.replaceChildren();
    const offline = data.kind === 'offline';
    let any = false;
    for (const arm of data.arms || []) {
      const block = node('div', null, 'example-arm');
      block.dataset.armId = String(arm.id);
      block.appendChild(node('h3', labelOf(ov, arm.id) + ' — ' + T.rated(arm.rated)));
      for (const ex of arm.examples) {
        block.appendChild(exampleCard(ex, offline));
        any = true;
      }
      if (arm.examples.length) box.appendChild(block);
    }
    if (!any) box.appendChild(node('p', T.noExamples, 'help'));
  }

  function renderRecent(ov) {
    const offline = ov.experiment.kind === 'offline';
    const by = ov.experiment.by_source || {};
    const parts = Object.entries(by).map(([k, v]) => k + ' ' + Math.round(v));
    $('#feedback-sources').textContent = parts.length ? T.sources + parts.join(', ') : '';
    const head = $('#feedback thead tr');
    head.replaceChildren();
    (offline ? T.stepsHead : T.feedbackHead).forEach((t, i) => {
      const th = node('th', t, (offline ? [0, 3] : [3, 4]).includes(i) ? 'num' : '');
      th.scope = 'col';
      head.appendChild(th);
    });
    const tbody = $('#feedback tbody');
    tbody.replaceChildren();
    for (const r of ov.recent || []) {
      const tr = document.createElement('tr');
      if (offline) {
        cell(tr, r.iteration, 'num');
        cell(tr, r.arm);
        cell(tr, r.status);
        cell(tr, r.score === null ? '—' : signed(r.score), 'num');
        cell(tr, when(r.created_at));
      } else {
        cell(tr, when(r.created_at));
        cell(tr, r.arm);
        cell(tr, r.source);
        cell(tr, signed(r.value), 'num');
        cell(tr, r.impression_id, 'num');
        const act = cell(tr, '');
        act.textContent = '';
        act.appendChild(button(T.showTurn, T.impression + ' #' + r.impression_id + ' ' + T.showTurn,
                               () => showTurn(tr, r.impression_id)));
      }
      tbody.appendChild(tr);
    }
  }

  // From a reward row to the turn it rated: the user's sentence and the answer, when stored.
  async function showTurn(tr, impressionId) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('turn-row')) return next.remove();
    try {
      const t = await apiJson('GET', '/v1/impressions/' + encodeURIComponent(impressionId) + '/turn');
      const row = node('tr', null, 'turn-row');
      const td = node('td');
      td.colSpan = tr.children.length;
      if (t.stored) {
        const user = node('p', null, 'ex-user');
        user.append(node('strong', T.user + ': '), document.createTextNode(t.user_text || '—'));
        const answer = node('p', null, 'ex-answer');
        answer.append(node('strong', T.answer + ': '), document.createTextNode(t.answer || '—'));
        td.append(user, answer);
        if (t.emotion) td.appendChild(node('p', T.emotion + ': ' + t.emotion, 'help'));
      } else {
        td.appendChild(node('p', T.turnNotStored, 'help'));
      }
      row.appendChild(td);
      tr.after(row);
    } catch (err) {
      showError(err);
    }
  }

  function renderRuns(data) {
    const tbody = $('#runs tbody');
    const runs = (data && data.runs) || [];
    tbody.replaceChildren();
    $('#runs-empty').hidden = runs.length > 0;
    for (const r of runs) {
      const tr = document.createElement('tr');
      tr.dataset.runId = String(r.id);
      cell(tr, r.id, 'num');
      cell(tr, r.name);
      cell(tr, (T.runStatus[r.status] || r.status) + (r.stop_reason ? ' (' + r.stop_reason + ')' : ''));
      cell(tr, r.steps_ok, 'num steps-ok');
      cell(tr, r.steps_failed, 'num');
      cell(tr, r.steps_pending, 'num');
      cell(tr, num(r.cost_usd, 4), 'num');
      cell(tr, when(r.created_at));
      const act = cell(tr, '');
      act.textContent = '';
      if (r.experiment) {
        const viewing = selected() === r.experiment;
        const b = button(viewing ? T.viewing : T.view, '#' + r.id + ' ' + T.view, () => {
          $('#experiment').value = r.experiment;
          sessionStorage.setItem('pb.experiment', r.experiment);
          refresh();
        });
        b.disabled = viewing;
        act.appendChild(b);
      }
      if (r.kind === 'evolve') {
        act.appendChild(button(T.lineage, '#' + r.id + ' ' + T.lineage, () => showLineage(tr, r.id)));
      }
      tbody.appendChild(tr);
    }
  }

  // An evolve's lineage under its row: each prompt's generation, parent, verdict and evidence.
  async function showLineage(tr, id) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('lineage')) {
      next.remove();
      return;
    }
    try {
      const data = await apiJson('GET', '/v1/runs/' + id + '/lineage');
      const row = node('tr', null, 'lineage');
      const td = node('td');
      td.colSpan = tr.children.length;
      const table = node('table');
      const head = node('tr');
      for (const h of T.lineageHead) head.appendChild(node('th', h));
      table.appendChild(node('thead')).appendChild(head);
      const body = node('tbody');
      for (const p of data.prompts || []) {
        const r = node('tr');
        r.title = p.prompt;
        r.append(node('td', p.generation), node('td', p.name), node('td', p.parent || '—'),
                 node('td', T.verdicts[p.verdict] || p.verdict), node('td', p.samples),
                 node('td', signed(p.mean)), node('td', num(p.glr, 2)), node('td', num(p.threshold, 2)));
        body.appendChild(r);
      }
      table.appendChild(body);
      td.appendChild(table);
      row.appendChild(td);
      tr.after(row);
    } catch (err) {
      showError(err);
    }
  }

  function renderJudgeEvals(data) {
    const box = $('#judge-evals');
    const evals = (data && data.judge_evals) || [];
    box.replaceChildren();
    if (evals.length === 0) {
      box.appendChild(node('p', T.noEvals, 'help'));
      return;
    }
    for (const ev of evals) {
      box.appendChild(node('h3', ev.judge_kind + ' — ' + when(ev.created_at)));
      const dl = node('dl', null, 'summary');
      for (const [k, v] of Object.entries(ev.figures || {})) {
        if (typeof v === 'object' && v !== null) continue; // tables stay in the CLI report
        dl.append(node('dt', k),
                  node('dd', typeof v === 'number' ? String(Math.round(v * 10000) / 10000) : String(v)));
      }
      box.appendChild(dl);
    }
  }

  // The live judge's agreement with people on the same answers (livejudge.h).
  function renderAgreement(data) {
    const box = $('#judge-agreement');
    box.replaceChildren();
    if (!data || !data.sample_rate) {
      box.appendChild(node('p', T.agreeOff, 'help'));
      if (!data || !data.overall || !data.overall.n) return;
    }
    box.appendChild(node('p', T.agreeLine(data), 'help'));
    if (!data.overall || !data.overall.n) {
      box.appendChild(node('p', T.agreeNone, 'help'));
      return;
    }
    if (data.overall.warn || (data.arms || []).some((a) => a.warn)) {
      box.appendChild(node('p', T.agreeWarn(data.warn_below), 'warn'));
    }
    const table = node('table');
    const head = node('tr');
    for (const h of T.agreeHead) head.appendChild(node('th', h));
    table.appendChild(node('thead')).appendChild(head);
    const body = node('tbody');
    const rows = [Object.assign({ arm: T.agreeAll }, data.overall)].concat(data.arms || []);
    for (const r of rows) {
      const tr = node('tr');
      tr.append(node('td', r.arm), node('td', r.n), node('td', num(r.spearman, 2)),
                node('td', typeof r.sign_agreement === 'number' ? Math.round(r.sign_agreement * 100) + ' %' : '—'),
                node('td', r.warn ? '⚠' : ''));
      body.appendChild(tr);
    }
    table.appendChild(body);
    box.appendChild(table);
    const worst = data.disagreements || [];
    if (worst.length) {
      box.appendChild(node('h3', T.agreeWorst));
      const ul = node('ul');
      for (const d of worst) {
        const li = node('li', T.agreeGap(d));
        if (d.answer) li.appendChild(node('blockquote', d.answer));
        ul.appendChild(li);
      }
      box.appendChild(ul);
    }
  }

  async function loadExperiments() {
    const data = await apiJson('GET', '/v1/dashboard/experiments');
    const list = (data && data.experiments) || [];
    liveExperiments = list.filter((e) => e.kind !== 'offline').map((e) => e.name);
    const select = $('#experiment');
    const keep = select.value || sessionStorage.getItem('pb.experiment') || 'default';
    select.replaceChildren();
    for (const exp of list) {
      const opt = node('option', exp.name + (exp.kind === 'offline' ? ' (offline)' : ''));
      opt.value = exp.name;
      select.appendChild(opt);
    }
    if (list.some((e) => e.name === keep)) select.value = keep;
    return list;
  }

  async function refresh() {
    clearError();
    try {
      await loadExperiments();
      const name = encodeURIComponent(selected());
      const win = encodeURIComponent($('#window').value);
      const [ov, examples, usage, runs, evals, agreement] = await Promise.all([
        apiJson('GET', '/v1/experiments/' + name + '/overview?window=' + win),
        apiJson('GET', '/v1/experiments/' + name + '/examples'),
        // Tokens per arm are a column of their own: without them the rest still shows.
        apiJson('GET', '/v1/experiments/' + name + '/usage').catch(() => null),
        apiJson('GET', '/v1/dashboard/runs'),
        apiJson('GET', '/v1/judge-evals'),
        // a panel of its own: its failure must not blank the dashboard
        apiJson('GET', '/v1/experiments/' + name + '/judge-agreement').catch(() => null),
      ]);
      current = ov;
      const offline = ov.experiment.kind === 'offline';
      document.body.dataset.kind = ov.experiment.kind;
      $('#manage').hidden = offline;
      $('#window').disabled = offline; // a run's charts go by iteration, not by clock time
      renderVerdict(ov);
      renderSummary(ov);
      renderArms(ov, usage);
      renderSegments(ov);
      renderCharts(ov);
      renderExamples(examples, ov);
      renderRecent(ov);
      renderRuns(runs);
      renderJudgeEvals(evals);
      renderAgreement(agreement);
      document.body.dataset.state = 'ready';
    } catch (err) {
      document.body.dataset.state = 'error';
      showError(err);
    } finally {
      // A completion counter lets scripts and tests wait for one refresh to end.
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
    }
  }

  // ---- actions (each asks first) ----

  function said(text) {
    $('#manage-status').textContent = text;
    $('#verdict-detail').dataset.said = text;
  }

  async function run(change, message) {
    clearError();
    try {
      await change();
      said(message);
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  async function armAction(id, action, label) {
    const question = action === 'retire' ? T.confirmRetire(label) : T.confirmRestore(label);
    if (!(await confirmAction(question))) return;
    await run(() => apiJson('POST', '/v1/arms/' + encodeURIComponent(id) + '/' + action, {}),
              action === 'retire' ? T.retiredMsg(label) : T.restoredMsg(label));
  }

  async function promote(id, label) {
    if (!(await confirmAction(T.confirmPromote(label)))) return;
    await run(() => apiJson('POST', '/v1/experiments/' + encodeURIComponent(selected()) + '/promote',
                            { arm_id: id }), T.promotedMsg(label));
  }

  async function resetExperiment() {
    const name = selected();
    if (!(await confirmAction(T.confirmReset(name)))) return;
    await run(() => apiJson('POST', '/v1/experiments/' + encodeURIComponent(name) + '/reset', {}),
              T.resetMsg(name));
  }

  async function importWinner(runId, label) {
    const wrap = node('label', T.importTarget + ' ');
    const target = node('select');
    target.id = 'import-target';
    for (const name of liveExperiments) {
      const opt = node('option', name);
      opt.value = name;
      target.appendChild(opt);
    }
    wrap.appendChild(target);
    if (!(await confirmAction(T.confirmImport(label, runId), wrap))) return;
    const into = target.value || 'default';
    await run(() => apiJson('POST', '/v1/experiments/' + encodeURIComponent(into) + '/import-run',
                            { run_id: runId }), T.importedMsg(label, into));
  }

  // A new live experiment with the run's arms (POST /v1/runs/{id}/start-experiment), named in
  // the confirmation; the dashboard then shows it.
  async function startLive(ov) {
    const wrap = node('label', T.startLiveName + ' ');
    const input = node('input');
    input.id = 'start-live-name';
    input.required = true;
    input.maxLength = 64;
    input.pattern = '[A-Za-z0-9._\\-]{1,64}';
    input.value = 'run-' + ov.run.id + '-live';
    wrap.appendChild(input);
    const names = (ov.arms || []).map((a) => a.label).join(', ');
    if (!(await confirmAction(T.confirmStartLive(ov.run.id, names), wrap))) return;
    const name = input.value.trim();
    clearError();
    try {
      await apiJson('POST', '/v1/runs/' + encodeURIComponent(ov.run.id) + '/start-experiment', { name });
      sessionStorage.setItem('pb.experiment', name);
      await loadExperiments();
      $('#experiment').value = name;
      said(T.startedMsg(name));
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  async function onAddArm(ev) {
    ev.preventDefault();
    const name = $('#arm-name').value.trim();
    await run(async () => {
      await apiJson('POST', '/v1/arms', { experiment: selected(), name: name, prompt: $('#arm-prompt').value });
      $('#add-arm').reset();
    }, T.addedMsg(name));
  }

  async function onPolicy(ev) {
    ev.preventDefault();
    const policy = $('#policy').value.trim();
    await run(async () => {
      await apiJson('POST', '/v1/experiments/' + encodeURIComponent(selected()) + '/policy', { policy: policy });
      $('#policy').value = '';
    }, T.policyMsg(policy));
  }

  function start() {
    $('#login').hidden = true;
    $('#admin-off').hidden = true;
    $('#dashboard').hidden = false;
    refresh();
  }

  // Admin off (no token configured on the server) is said as such, not as a wrong token.
  async function adminIsOn() {
    try {
      const res = await fetch('/v1/admin-status', { cache: 'no-store' });
      return res.ok ? Boolean((await res.json()).admin) : true;
    } catch (e) {
      return true; // the refresh will report the network failure
    }
  }

  document.addEventListener('DOMContentLoaded', async () => {
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
    $('#window').addEventListener('change', refresh);
    $('#auto-refresh').addEventListener('change', (e) => {
      clearInterval(timer);
      timer = e.target.checked ? setInterval(refresh, 10000) : null;
    });
    $('#add-arm').addEventListener('submit', onAddArm);
    $('#policy-form').addEventListener('submit', onPolicy);
    $('#reset').addEventListener('click', resetExperiment);
    $('#show-arms').checked = localStorage.getItem('pb.show_arms') === '1';
    $('#show-arms').addEventListener('change', (e) =>
      localStorage.setItem('pb.show_arms', e.target.checked ? '1' : '0'));
    if (!(await adminIsOn())) return showAdminOff();
    if (token()) start();
    else showLogin();
  });
})();
