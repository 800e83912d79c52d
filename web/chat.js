// chat.js — the chat page (/): sends messages to POST /v1/chat (streamed: the answer grows as
// the provider writes it, Server-Sent Events read with fetch), shows the answer with the
// emotions read from the user's sentence, and posts feedback (like, dislike, regenerate,
// edit) to the API. A consented conversation is stored, so a reload (or "지난 대화") shows it
// again from GET /v1/conversations/{id}; "새 대화" starts another. Prompt (arm) names are not
// shown to end users — they would bias the ratings — unless an operator turned them on for this
// browser on /admin (localStorage pb.show_arms). It keeps only a random user id
// (localStorage) and the conversation id (sessionStorage); it never puts server or user text
// into the page as markup (textContent only). API errors ({"error":{"code","message"}}) are
// shown in the banner. Every answer is drawn by renderAnswer; a streamed one grows through
// setAnswerText and is drawn again whole when its "done" event arrives.
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const CONVERSATION_KEY = 'pb.conversation_id';

  // Korean explanations per API error code; the server's own message follows them.
  const ERROR_TEXT = {
    unavailable: '답변을 만들 LLM 제공자가 설정되지 않았거나 지금 연결되지 않아요. 관리자에게 알려 주세요.',
    provider: 'LLM 제공자가 오류를 돌려줬어요. 잠시 뒤에 다시 보내 주세요.',
    timeout: '답변이 너무 오래 걸려서 멈췄어요. 다시 보내 주세요.',
    limit: '요청이 너무 많거나 너무 길어요. 잠시 뒤에 다시 해 주세요.',
    forbidden: '이 대화를 할 권한이 없어요 (사용자 토큰이 필요할 수 있어요).',
    invalid: '보낸 내용에 문제가 있어요.',
    not_found: '이 답변을 찾을 수 없어요.',
    conflict: '이미 평가한 답변이에요.',
    network: '서버에 연결할 수 없어요. 네트워크를 확인해 주세요.',
  };
  const NOT_STORED =
    '이 대화는 저장하지 않아서 새로 고치면 내용이 보이지 않아요. 이어서 말하면 대화는 계속돼요.';

  function randomId(prefix) {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes); // works on plain http too, unlike randomUUID
    return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function userId() {
    let id = localStorage.getItem('pb.user_id');
    if (!id) {
      id = randomId('web-');
      localStorage.setItem('pb.user_id', id);
    }
    return id;
  }

  function showArms() {
    return localStorage.getItem('pb.show_arms') === '1';
  }

  // Resolves to the parsed body or throws an Error with .code and .status.
  async function request(method, url, body) {
    let res;
    try {
      const init = { method: method, cache: 'no-store' };
      if (body !== undefined) {
        init.headers = { 'Content-Type': 'application/json' };
        init.body = JSON.stringify(body);
      }
      res = await fetch(url, init);
    } catch (e) {
      const err = new Error(String(e && e.message ? e.message : e));
      err.code = 'network';
      throw err;
    }
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const info = (data && data.error) || {};
      const err = new Error(info.message || 'HTTP ' + res.status);
      err.code = info.code || 'http_' + res.status;
      err.status = res.status;
      throw err;
    }
    return data || {};
  }

  const postJson = (url, body) => request('POST', url, body);

  function explain(err) {
    const base = ERROR_TEXT[err.code] || '요청이 실패했어요.';
    return err.message ? base + ' (' + err.message + ')' : base;
  }

  function showBanner(err) {
    const banner = $('#banner');
    banner.textContent = explain(err);
    banner.dataset.code = err.code || '';
    banner.hidden = false;
  }

  function hideBanner() {
    const banner = $('#banner');
    banner.hidden = true;
    banner.textContent = '';
    delete banner.dataset.code;
  }

  function scrollToEnd() {
    const list = $('#messages');
    list.scrollTop = list.scrollHeight;
  }

  function emotionText(emotions) {
    if (!Array.isArray(emotions) || emotions.length === 0) return '';
    const parts = emotions.slice(0, 3).map((e) => {
      const name = e.name || e.label || '?';
      const pct = typeof e.score === 'number' ? ' ' + Math.round(e.score * 100) + '%' : '';
      return name + pct;
    });
    return '감정: ' + parts.join(' · ');
  }

  function clearMessages(hint) {
    const list = $('#messages');
    list.replaceChildren();
    const li = document.createElement('li');
    li.className = 'hint';
    li.id = 'empty-hint';
    li.textContent = hint;
    list.appendChild(li);
  }

  function addUserMessage(text, emotions) {
    const hint = $('#empty-hint');
    if (hint) hint.remove();
    const li = $('#tpl-user').content.firstElementChild.cloneNode(true);
    $('.text', li).textContent = text;
    if (emotions) $('.emotions', li).textContent = emotionText(emotions);
    $('#messages').appendChild(li);
    scrollToEnd();
    return li;
  }

  function setStatus(li, text) {
    $('.status', li).textContent = text;
  }

  // Disables the rating buttons of an answer that was replaced or rated.
  function lockVerdict(li, pressed) {
    for (const b of li.querySelectorAll('.like, .dislike')) {
      b.disabled = true;
      if (b === pressed) b.setAttribute('aria-pressed', 'true');
    }
  }

  function markReplaced(li) {
    lockVerdict(li, null);
    for (const b of li.querySelectorAll('.regenerate, .edit')) b.disabled = true;
    li.classList.add('replaced');
  }

  async function sendFeedback(li, kind, extra) {
    const body = Object.assign(
      { impression_id: Number(li.dataset.impression), user_id: userId(), kind: kind },
      extra || {},
    );
    // One event id per click: a retried request is recognised by the server as the same one.
    body.event_id = li.dataset['event_' + kind] || randomId('ev-');
    li.dataset['event_' + kind] = body.event_id;
    return postJson('/v1/feedback', body);
  }

  async function onRate(li, button, kind) {
    hideBanner();
    button.disabled = true;
    try {
      await sendFeedback(li, kind);
      lockVerdict(li, button);
      setStatus(li, kind === 'like' ? '좋아요를 남겼어요. 고마워!' : '별로라고 남겼어요. 더 잘해 볼게.');
    } catch (err) {
      button.disabled = false;
      if (err.code === 'conflict') lockVerdict(li, null);
      showBanner(err);
    }
  }

  async function onRegenerate(li, button) {
    hideBanner();
    button.disabled = true;
    setStatus(li, '다른 답을 만드는 중…');
    try {
      const eventId = li.dataset.event_regenerate || randomId('ev-');
      li.dataset.event_regenerate = eventId;
      await streamAnswer(
        '/v1/chat/' + encodeURIComponent(li.dataset.impression) + '/regenerate',
        { user_id: userId(), event_id: eventId },
        () => {
          markReplaced(li);
          setStatus(li, '새 답으로 바꿨어요.');
        },
      );
    } catch (err) {
      button.disabled = false;
      setStatus(li, '');
      showBanner(err);
    }
  }

  function toggleEdit(li, open) {
    const form = $('.edit-form', li);
    const button = $('.edit', li);
    form.hidden = !open;
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) {
      const area = $('textarea', form);
      area.value = $('.text', li).textContent;
      area.focus();
    } else {
      button.focus();
    }
  }

  async function onEditSubmit(li, ev) {
    ev.preventDefault();
    hideBanner();
    const form = $('.edit-form', li);
    const text = $('textarea', form).value.trim();
    if (!text) return;
    const submit = $('button[type=submit]', form);
    submit.disabled = true;
    try {
      const data = await sendFeedback(li, 'edit', { final_text: text, draft: $('.text', li).textContent });
      form.hidden = true;
      $('.edit', li).disabled = true;
      $('.edit', li).setAttribute('aria-expanded', 'false');
      const value = typeof data.value === 'number' ? ' (보상 ' + data.value + ')' : '';
      setStatus(li, '고쳐 쓴 답을 반영했어요' + value + '.');
    } catch (err) {
      submit.disabled = false;
      showBanner(err);
    }
  }

  // POSTs body with "stream": true and reads the Server-Sent Events as they come: handlers.start
  // (arm, emotions, ids), handlers.delta(text) per piece of the answer; resolves to the "done"
  // event's data (the stored turn) or throws an Error with .code and .status like request().
  async function postStream(url, body, handlers) {
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify(Object.assign({}, body, { stream: true })),
      });
    } catch (e) {
      const err = new Error(String(e && e.message ? e.message : e));
      err.code = 'network';
      throw err;
    }
    const type = res.headers.get('Content-Type') || '';
    if (!res.ok || type.indexOf('text/event-stream') !== 0 || !res.body) {
      let data = null;
      try {
        data = await res.json();
      } catch (e) {
        data = null;
      }
      const info = (data && data.error) || {};
      const err = new Error(info.message || 'HTTP ' + res.status);
      err.code = info.code || 'http_' + res.status;
      err.status = res.status;
      throw err;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = 'message';
        let data = '';
        block.split('\n').forEach((line) => {
          if (line.indexOf('event: ') === 0) name = line.slice(7);
          else if (line.indexOf('data: ') === 0) data += line.slice(6);
        });
        const value = data ? JSON.parse(data) : {};
        if (name === 'start') handlers.start(value);
        else if (name === 'delta') handlers.delta(value.text || '');
        else if (name === 'done') return value;
        else if (name === 'error') {
          const info = value.error || {};
          const err = new Error(info.message || 'the answer failed');
          err.code = info.code || 'stream';
          throw err;
        }
      }
    }
    const err = new Error('the answer stopped before it finished');
    err.code = 'network';
    throw err;
  }

  // Streams an answer into a new message: the message appears with the start event and grows
  // with each delta; resolves to the finished answer. A failure removes the half message.
  async function streamAnswer(url, body, onStart) {
    let li = null;
    let text = '';
    let start = null;
    try {
      const done = await postStream(url, body, {
        start: (s) => {
          start = s;
          if (onStart) onStart(s);
          li = addBotMessage({ impression_id: s.impression_id, arm: s.arm, text: '' });
          li.setAttribute('aria-busy', 'true');
        },
        delta: (t) => {
          text += t;
          if (li) {
            setAnswerText(li, text);
            scrollToEnd();
          }
        },
      });
      const answer = Object.assign({}, start, { reply: done.reply !== undefined ? done.reply : text });
      if (li) {
        li.removeAttribute('aria-busy');
        renderAnswer(li, answer);
      }
      return answer;
    } catch (err) {
      if (li) li.remove();
      throw err;
    }
  }

  // The answer's text; a streamed answer calls this as its text grows.
  function setAnswerText(li, text) {
    $('.text', li).textContent = text;
  }

  // Draws an answer into li: {reply | text, impression_id, arm, feedback: {source: value}}. The
  // one place an answer is put on the page, live or from the history.
  function renderAnswer(li, answer) {
    li.dataset.impression = String(answer.impression_id);
    setAnswerText(li, answer.reply !== undefined ? answer.reply : answer.text || '');
    const meta = $('.meta', li);
    meta.textContent = answer.arm ? '프롬프트 ' + answer.arm : '';
    meta.hidden = !(showArms() && answer.arm);
    const fb = answer.feedback || {};
    if (typeof fb.click === 'number')
      lockVerdict(li, $(fb.click > 0 ? '.like' : '.dislike', li));
    if (fb.regenerate !== undefined) markReplaced(li);
    if (fb.edit !== undefined) $('.edit', li).disabled = true;
  }

  function addBotMessage(answer) {
    const hint = $('#empty-hint');
    if (hint) hint.remove();
    const li = $('#tpl-bot').content.firstElementChild.cloneNode(true);
    const like = $('.like', li);
    const dislike = $('.dislike', li);
    const regen = $('.regenerate', li);
    like.addEventListener('click', () => onRate(li, like, 'like'));
    dislike.addEventListener('click', () => onRate(li, dislike, 'dislike'));
    regen.addEventListener('click', () => onRegenerate(li, regen));
    $('.edit', li).addEventListener('click', () => toggleEdit(li, $('.edit-form', li).hidden));
    $('.edit-form', li).addEventListener('submit', (ev) => onEditSubmit(li, ev));
    $('.edit-form .cancel', li).addEventListener('click', () => toggleEdit(li, false));
    renderAnswer(li, answer);
    $('#messages').appendChild(li);
    scrollToEnd();
    return li;
  }

  async function onSend(ev) {
    ev.preventDefault();
    const box = $('#message');
    const text = box.value.trim();
    if (!text) return;
    hideBanner();
    const send = $('#send');
    send.disabled = true;
    const userLi = addUserMessage(text);
    box.value = '';
    const body = { user_id: userId(), message: text, consent: $('#consent').checked };
    const conversation = sessionStorage.getItem(CONVERSATION_KEY);
    if (conversation) body.conversation_id = conversation;
    const waiting = document.createElement('li');
    waiting.className = 'msg bot waiting';
    waiting.setAttribute('aria-busy', 'true');
    waiting.textContent = '답을 쓰는 중…';
    $('#messages').appendChild(waiting);
    scrollToEnd();
    try {
      // The answer is streamed: it appears as the provider writes it (docs/API.md).
      await streamAnswer('/v1/chat', body, (start) => {
        if (start.conversation_id) sessionStorage.setItem(CONVERSATION_KEY, start.conversation_id);
        $('.emotions', userLi).textContent = emotionText(start.emotions);
        waiting.remove();
      });
      waiting.remove();
      if (body.consent) loadHistoryList();
    } catch (err) {
      waiting.remove();
      userLi.classList.add('failed');
      box.value = text; // give the text back so it can be sent again
      showBanner(err);
    } finally {
      send.disabled = false;
      box.focus();
    }
  }

  function onKey(ev) {
    // Enter sends; Shift+Enter breaks the line; never while a Korean IME is composing.
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      $('#composer').requestSubmit();
    }
  }

  // ---- stored conversations ----

  async function loadConversation(id) {
    const url = '/v1/conversations/' + encodeURIComponent(id) + '?user_id=' + encodeURIComponent(userId());
    try {
      const data = await request('GET', url);
      clearMessages(NOT_STORED);
      for (const m of data.messages || []) {
        if (m.role === 'user') addUserMessage(m.text, m.emotions);
        else if (m.role === 'assistant') addBotMessage(m);
      }
      document.body.dataset.restored = String((data.messages || []).length);
    } catch (err) {
      // 404: nothing was stored for it (no consent, or a fresh id): keep going with an empty list.
      if (err.status === 404) clearMessages(NOT_STORED);
      else showBanner(err);
      document.body.dataset.restored = '0';
    }
  }

  async function loadHistoryList() {
    const select = $('#history');
    try {
      const data = await request('GET', '/v1/conversations?user_id=' + encodeURIComponent(userId()));
      const list = data.conversations || [];
      while (select.options.length > 1) select.remove(1);
      for (const c of list) {
        const opt = document.createElement('option');
        opt.value = c.id;
        const date = new Date(c.last_at * 1000).toLocaleString('ko-KR', {
          month: 'numeric', day: 'numeric', hour: 'numeric', minute: '2-digit' });
        const preview = (c.preview || '').slice(0, 20);
        opt.textContent = date + ' — ' + preview;
        select.appendChild(opt);
      }
      select.value = sessionStorage.getItem(CONVERSATION_KEY) || '';
      select.hidden = list.length === 0;
    } catch (err) {
      select.hidden = true; // the list is a convenience; the chat works without it
    }
  }

  function newConversation() {
    sessionStorage.removeItem(CONVERSATION_KEY);
    hideBanner();
    clearMessages('새 대화예요. 오늘 어떤 일이 있었는지 편하게 말해 줘.');
    $('#history').value = '';
    $('#message').focus();
  }

  document.addEventListener('DOMContentLoaded', async () => {
    $('#composer').addEventListener('submit', onSend);
    $('#message').addEventListener('keydown', onKey);
    $('#consent').checked = localStorage.getItem('pb.consent') === '1';
    $('#consent').addEventListener('change', (e) =>
      localStorage.setItem('pb.consent', e.target.checked ? '1' : '0'),
    );
    $('#new-conversation').addEventListener('click', newConversation);
    $('#history').addEventListener('change', (e) => {
      if (!e.target.value) return;
      sessionStorage.setItem(CONVERSATION_KEY, e.target.value);
      loadConversation(e.target.value);
    });
    $('#message').focus();
    const conversation = sessionStorage.getItem(CONVERSATION_KEY);
    if (conversation) await loadConversation(conversation);
    loadHistoryList();
    document.body.dataset.ready = '1';
  });
})();
