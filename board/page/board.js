// The board page. Everything shown comes from files anyone with access to the mailroom can write, so
// it is put on the page only as text nodes (textContent, never innerHTML) and task bodies go through
// markdown.js. Live: an EventSource on api/live says when something changed; the page then fetches
// what it shows. EventSource reconnects by itself; the pill in the header says whether it is live.

import { renderMarkdown } from './markdown.js';

const STATES = ['queued', 'acked', 'running', 'done', 'failed'];
const $ = (id) => document.getElementById(id);
const view = { snapshot: null, taskId: null, agent: '', text: '' };

/** An element with text children only: strings become text nodes. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k.startsWith('data-')) el.dataset[k.slice(5)] = v;
    else if (k === 'title' || k === 'type' || k === 'value' || k === 'placeholder' || k === 'datetime')
      el[k] = v;
    else throw new Error(`attribute ${k} not allowed`);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return el;
}

function age(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

async function api(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error ?? res.statusText);
  return res.json();
}

function say(text, kind = 'info') {
  const m = $('message');
  m.textContent = text;
  m.dataset.kind = kind;
  m.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => {
    m.hidden = true;
  }, 4000);
}

/** Every change goes through the CLI's own operations on the server. */
async function act(body, done) {
  try {
    const res = await fetch('api/action', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const r = await res.json();
    if (!res.ok) throw new Error(r.hint ? `${r.error} (${r.hint})` : r.error);
    say(`${body.op}: done (${r.id})`);
    done?.(r);
    await refresh();
  } catch (err) {
    say(`${body.op} failed: ${err.message}`, 'error');
  }
}

function reassignControl(id, suggestions) {
  const select = h('select', { title: 'reassign to' });
  for (const s of suggestions) select.append(h('option', { value: s.name }, `${s.name} — ${s.why}`));
  return h(
    'span',
    { class: 'actions' },
    select,
    h('button', { type: 'button', onclick: () => act({ op: 'reassign', id, to: select.value }) }, 'Reassign'),
  );
}

function textAction(id, op, label, placeholder) {
  const input = h(op === 'answer' ? 'textarea' : 'input', { placeholder, 'data-op': op });
  const button = h(
    'button',
    {
      type: 'button',
      class: op === 'answer' ? 'primary' : undefined,
      onclick: () => act({ op, id, text: input.value }, () => (input.value = '')),
    },
    label,
  );
  return h('span', { class: 'actions', 'data-action': op }, input, button);
}

/** The buttons for a task: the verbs the server said apply (item.actions) or all that can. */
function taskActions(id, actions, suggestions) {
  const out = [];
  if (actions.includes('answer')) out.push(textAction(id, 'answer', 'Answer', 'your answer (Markdown)'));
  if (actions.includes('retry'))
    out.push(h('button', { type: 'button', onclick: () => act({ op: 'retry', id }) }, 'Retry'));
  if (actions.includes('reassign') && suggestions?.length) out.push(reassignControl(id, suggestions));
  if (actions.includes('archive'))
    out.push(h('button', { type: 'button', onclick: () => act({ op: 'archive', id }) }, 'Archive'));
  if (actions.includes('note')) out.push(textAction(id, 'note', 'Add note', 'a note for the history'));
  return out;
}

/** Whom a task held by `holder` for `worker` could go to: its role mates first, people last. */
function suggestionsFor(worker, holder) {
  const s = view.snapshot;
  const role = s.agentNames.find((a) => a.name === worker)?.role;
  const rank = (x) =>
    x.why.startsWith('same') ? 0 : x.why === 'a person' ? 3 : x.why === 'its worker' ? 1 : 2;
  return s.agentNames
    .filter((a) => a.name !== holder)
    .map((a) => {
      if (a.name === worker) return { name: a.name, why: 'its worker' };
      if (s.humans.includes(a.name)) return { name: a.name, why: 'a person' };
      return {
        name: a.name,
        why: role && a.role === role ? `same role (${role})` : a.role ? `role ${a.role}` : 'no role',
      };
    })
    .sort((a, b) => rank(a) - rank(b));
}

function renderNeeds(needs) {
  $('needs-count').textContent = needs.length ? String(needs.length) : '';
  $('needs-empty').hidden = needs.length > 0;
  const list = $('needs');
  // Keep what a person is typing: an item whose inputs hold text is left in place.
  const typing = new Set(
    [...list.querySelectorAll('input, textarea')]
      .filter((i) => i.value)
      .map((i) => i.closest('li').dataset.key),
  );
  const keep = new Map(
    [...list.children].filter((li) => typing.has(li.dataset.key)).map((li) => [li.dataset.key, li]),
  );
  const items = needs.map((n) => {
    const key = `${n.kind}:${n.id ?? n.path}`;
    if (keep.has(key)) return keep.get(key);
    const label = n.id
      ? h('button', { type: 'button', class: 'link', onclick: () => openTask(n.id) }, n.title ?? n.id)
      : h('code', {}, n.path);
    return h(
      'li',
      { class: 'card', 'data-kind': n.kind, 'data-key': key, 'data-id': n.id },
      h(
        'div',
        { class: 'head' },
        h('span', { class: 'kind' }, n.kind),
        label,
        n.agent ? h('span', { class: 'muted' }, `in ${n.agent}'s inbox`) : null,
        h('span', { class: 'muted' }, n.since ? `since ${age(n.since)} ago` : ''),
      ),
      h('div', { class: 'why' }, n.why),
      h('div', { class: 'actions' }, n.id ? taskActions(n.id, n.actions, suggestionsFor(n.to, n.agent)) : []),
    );
  });
  list.replaceChildren(...items);
}

function renderAgents(agents) {
  $('agents').tBodies[0].replaceChildren(
    ...agents.map((a) =>
      h(
        'tr',
        { 'data-agent': a.name },
        h('td', {}, a.name, a.role ? h('span', { class: 'muted' }, ` (${a.role})`) : null),
        h('td', {}, h('span', { class: 'state', 'data-state': a.state, title: a.downWhy ?? '' }, a.state)),
        h(
          'td',
          {},
          a.current
            ? h(
                'button',
                { type: 'button', class: 'link', onclick: () => openTask(a.current.id) },
                a.current.title,
              )
            : '–',
        ),
        h('td', {}, String(a.queue)),
        h('td', {}, a.lastSeen ? `${age(a.lastSeen)} ago` : 'never'),
        h('td', {}, a.host),
      ),
    ),
  );
}

function renderHosts(hosts) {
  $('hosts-empty').hidden = hosts.length > 0;
  $('hosts').hidden = hosts.length === 0;
  $('hosts').tBodies[0].replaceChildren(
    ...hosts.map((x) =>
      h(
        'tr',
        {},
        h('td', {}, x.name, h('div', { class: 'muted' }, `${x.ssh}:${x.root}`)),
        h('td', {}, x.transport === 'agent' ? 'far mailroom (agent)' : 'SFTP'),
        h('td', {}, x.lastSync ? `${age(x.lastSync)} ago` : 'never'),
        h('td', {}, x.lagMs === null ? '–' : age(new Date(Date.now() - x.lagMs).toISOString())),
        h('td', {}, x.error ?? '–'),
      ),
    ),
  );
}

function renderFilters(s) {
  const pick = (select, names, keepFirst) => {
    const value = select.value;
    select.replaceChildren(
      ...(keepFirst ? [select.options[0]] : []),
      ...names.map((n) => h('option', { value: n }, n)),
    );
    if (value) select.value = value;
  };
  if ($('filter-agent').options.length !== s.agentNames.length + 1)
    pick(
      $('filter-agent'),
      s.agentNames.map((a) => a.name),
      true,
    );
  if ($('send-to').options.length !== s.agentNames.length)
    pick(
      $('send-to'),
      s.agentNames.map((a) => a.name),
      false,
    );
}

async function renderTasks() {
  const q = new URLSearchParams({ agent: view.agent, q: view.text, limit: '50' });
  const cols = await api(`api/tasks?${q}`);
  $('columns').replaceChildren(
    ...STATES.map((state) =>
      h(
        'div',
        { class: 'column', 'data-state': state },
        h('h3', {}, `${state} `, h('span', { class: 'muted' }, String(cols[state].total))),
        h(
          'ul',
          {},
          cols[state].items.map((t) =>
            h(
              'li',
              { 'data-id': t.id, onclick: () => openTask(t.id) },
              h('div', { class: `title prio-${t.priority}` }, t.title),
              h('div', { class: 'meta' }, `${t.from} → ${t.to} · ${t.priority} · ${age(t.updated)} ago`),
            ),
          ),
          cols[state].total > cols[state].items.length
            ? h(
                'li',
                { class: 'muted' },
                `… ${cols[state].total - cols[state].items.length} more (filter to narrow)`,
              )
            : null,
        ),
      ),
    ),
  );
}

function timeline(history) {
  return h(
    'ol',
    { class: 'timeline' },
    history.map((e) =>
      h(
        'li',
        {},
        h('time', { datetime: e.at }, e.at.replace('T', ' ').replace('Z', '')),
        h('b', {}, e.state),
        ` by ${e.by}`,
        e.note ? ` — ${e.note}` : '',
      ),
    ),
  );
}

async function renderTask() {
  const section = $('task-section');
  if (!view.taskId) {
    section.hidden = true;
    return;
  }
  let t;
  try {
    t = await api(`api/task/${encodeURIComponent(view.taskId)}`);
  } catch (err) {
    $('task').replaceChildren(h('p', { class: 'muted' }, `${view.taskId}: ${err.message}`));
    section.hidden = false;
    return;
  }
  const s = t.summary;
  const actions =
    s.state === 'failed'
      ? ['retry', 'archive', 'note']
      : s.state === 'done'
        ? ['archive', 'note']
        : ['reassign', 'note'];
  if (s.kind === 'question' && view.snapshot.humans.includes(s.to) && !['done', 'failed'].includes(s.state))
    actions.unshift('answer');
  const md = (text) => h('div', { class: 'md' }, renderMarkdown(text));
  const fields = [
    ['id', s.id],
    ['from → to', `${s.from} → ${s.to}`],
    ['state', `${s.state} (in ${s.agent}'s ${s.box})`],
    ['priority', s.priority],
    ['created', s.created],
    ['attempt', `${s.attempt} of ${s.max_attempts}`],
    ['deadlines', `ack within ${t.deadlines.ack_timeout}, no progress for ${t.deadlines.run_timeout}`],
  ];
  if (s.escalated) fields.push(['escalated', s.escalated]);
  const parts = [
    h('h3', { 'data-field': 'title' }, s.title),
    h(
      'dl',
      {},
      fields.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    ),
    h('div', { class: 'actions' }, taskActions(s.id, actions, t.suggestions)),
    t.error
      ? h(
          'div',
          { class: 'error' },
          h('b', {}, 'Error: '),
          t.error.message,
          t.error.retryable === undefined
            ? null
            : h('div', {}, `retryable: ${t.error.retryable ? 'yes' : 'no'}`),
          t.error.tried ? h('div', {}, `tried: ${t.error.tried}`) : null,
        )
      : null,
    h('h4', {}, 'Request'),
    md(t.body),
    t.result === null ? null : h('h4', {}, 'Result'),
    t.result === null ? null : md(t.result),
    h('h4', {}, 'History'),
    timeline(t.history),
  ];
  $('task').replaceChildren(...parts.filter(Boolean));
  section.hidden = false;
}

function openTask(id) {
  view.taskId = id;
  history.replaceState(null, '', `#task=${encodeURIComponent(id)}`);
  renderTask().then(() => $('task-section').scrollIntoView({ block: 'start' }));
}

async function refresh() {
  const s = await api('api/board');
  view.snapshot = s;
  $('root').textContent = s.root;
  const d = s.daemon;
  $('daemon').textContent = d.running
    ? `daemon running (last pass ${age(d.lastPassAt)} ago)`
    : 'daemon NOT running';
  $('daemon').dataset.state = d.running ? 'live' : 'down';
  renderNeeds(s.needs);
  renderAgents(s.agents);
  renderHosts(s.hosts);
  renderFilters(s);
  await Promise.all([renderTasks(), renderTask()]);
  document.body.dataset.version = s.version;
}

function connect() {
  const pill = $('live');
  const es = new EventSource('api/live');
  es.addEventListener('open', () => {
    pill.dataset.state = 'live';
    pill.textContent = 'live';
  });
  es.addEventListener('change', () => {
    refresh().catch((err) => say(`refresh failed: ${err.message}`, 'error'));
  });
  es.addEventListener('error', () => {
    pill.dataset.state = 'reconnecting';
    pill.textContent = 'reconnecting…';
  });
}

/** `#task=<id>` opens a task (a link someone shared, the back button). */
function taskFromHash() {
  const m = /^#task=(.+)$/.exec(location.hash);
  view.taskId = m ? decodeURIComponent(m[1]) : null;
}

function wire() {
  taskFromHash();
  window.addEventListener('hashchange', () => {
    taskFromHash();
    renderTask();
  });
  $('task-close').addEventListener('click', () => {
    view.taskId = null;
    history.replaceState(null, '', location.pathname);
    renderTask();
  });
  $('filter-agent').addEventListener('change', (e) => {
    view.agent = e.target.value;
    renderTasks();
  });
  $('filter-text').addEventListener('input', (e) => {
    view.text = e.target.value;
    clearTimeout(wire.timer);
    wire.timer = setTimeout(renderTasks, 150);
  });
  $('send').addEventListener('submit', (e) => {
    e.preventDefault();
    const body = {
      op: 'send',
      to: $('send-to').value,
      title: $('send-title').value,
      body: $('send-body').value,
      priority: $('send-priority').value,
    };
    act(body, () => {
      $('send-title').value = '';
      $('send-body').value = '';
    });
  });
}

wire();
refresh().catch((err) => say(`could not load the board: ${err.message}`, 'error'));
connect();
