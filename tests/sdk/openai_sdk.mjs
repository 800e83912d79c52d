// openai_sdk.mjs — the official openai npm package (pinned in package.json) against
// POST /v1/chat/completions and GET /v1/models, unchanged but for base URL, key and model:
// models.list; a completion and a stream (include_usage) whose ids give working feedback; the
// provider's 429 as RateLimitError with its Retry-After, a provider 500 as InternalServerError
// (502), a failure inside a stream as APIError, an unknown model as NotFoundError, a wrong key as
// AuthenticationError; a stream the client aborts storing nothing (feedback on its id is 404).
// Environment: PB_URL (the service), PB_TOKEN (a user token), PB_ADMIN_TOKEN. Exits non-zero
// on the first failed check.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const url = process.env.PB_URL;
const token = process.env.PB_TOKEN;
assert.ok(url && token, 'PB_URL and PB_TOKEN must be set (tests/e2e_service_openai_sdk.sh)');

// The three lines an application changes: base URL, key, model.
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: token, maxRetries: 0, timeout: 30000 });
const model = 'promptbandit/default';

let passed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    console.error(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  }
}

async function feedback(id) {
  const r = await fetch(`${url}/v1/feedback`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ impression_id: id, kind: 'like' }),
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

// The error the promise rejects with (fails when it resolves).
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected an error');
}

await check('models.list names the experiments', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes(model), `models: ${ids.join(', ')}`);
});

await check('a completion, its impression header, and feedback with its id', async () => {
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content: '오늘 힘든 하루였어' }] })
    .withResponse();
  assert.match(data.id, /^chatcmpl-pb-[1-9][0-9]*$/);
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.model, model);
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.ok(data.choices[0].message.content.length > 0);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.ok(data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0);
  assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
  assert.equal(`chatcmpl-pb-${response.headers.get('x-promptbandit-impression')}`, data.id);
  const fb = await feedback(data.id);
  assert.equal(fb.status, 200, JSON.stringify(fb.body));
  assert.equal(`chatcmpl-pb-${fb.body.impression_id}`, data.id);
  assert.equal(fb.body.arm, response.headers.get('x-promptbandit-arm'));
});

await check('a stream with include_usage, and feedback with its id', async () => {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: '잠이 안 와' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let id = null;
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    id = id || chunk.id;
    assert.equal(chunk.id, id);
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.choices.length) {
      text += chunk.choices[0].delta.content || '';
      finish = chunk.choices[0].finish_reason || finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.match(id, /^chatcmpl-pb-[1-9][0-9]*$/);
  assert.ok(text.length > 0);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens > 0, JSON.stringify(usage));
  const fb = await feedback(id);
  assert.equal(fb.status, 200, JSON.stringify(fb.body));
});

await check("the provider's 429 is a RateLimitError with its Retry-After", async () => {
  const e = await rejection(
    client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'hi [[fake:429:retry-after=3]]' }],
    }),
  );
  assert.ok(e instanceof OpenAI.RateLimitError, `got ${e && e.constructor.name}: ${e}`);
  assert.equal(e.status, 429);
  assert.equal(e.headers['retry-after'], '3');
  assert.equal(e.error.type, 'rate_limit_error');
});

await check("the provider's 500 is an InternalServerError (502)", async () => {
  const e = await rejection(
    client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi [[fake:500]]' }] }),
  );
  assert.ok(e instanceof OpenAI.InternalServerError, `got ${e && e.constructor.name}: ${e}`);
  assert.equal(e.status, 502);
});

await check('a failure inside a stream is an APIError', async () => {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'hi [[fake:500]]' }],
    stream: true,
  });
  const e = await rejection(
    (async () => {
      for await (const chunk of stream) void chunk;
    })(),
  );
  assert.ok(e instanceof OpenAI.APIError, `got ${e && e.constructor.name}: ${e}`);
});

await check('an unknown model is a NotFoundError naming the models', async () => {
  const e = await rejection(
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  );
  assert.ok(e instanceof OpenAI.NotFoundError, `got ${e && e.constructor.name}: ${e}`);
  assert.equal(e.code, 'model_not_found');
  assert.match(e.message, /promptbandit\/default/);
});

await check('a wrong key is an AuthenticationError', async () => {
  const other = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'not-a-token', maxRetries: 0 });
  const e = await rejection(other.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }));
  assert.ok(e instanceof OpenAI.AuthenticationError || e instanceof OpenAI.PermissionDeniedError,
    `got ${e && e.constructor.name}: ${e}`);
});

await check('a stream the client aborts stores nothing', async () => {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: '잠이 안 와 [[fake:stream-delay=100]]' }],
    stream: true,
  });
  let id = null;
  for await (const chunk of stream) {
    id = chunk.id;
    stream.controller.abort(); // the client goes away after the first chunk
    break;
  }
  assert.match(id, /^chatcmpl-pb-[1-9][0-9]*$/);
  // Had the turn gone on, the fake would have finished (about 2 s) and the turn been stored.
  await new Promise((r) => setTimeout(r, 3500));
  const fb = await feedback(id);
  assert.equal(fb.status, 404, JSON.stringify(fb.body));
});

console.log(`sdk tests: ${passed} passed`);
