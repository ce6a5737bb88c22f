// The demo page. One feed is the truth: /control/events, where the demo server sends the
// processes, the election as etcd itself holds it (leader and queue, observed by the server, not
// reported by the replicas) and each replica's scraped /metrics. Each running Nest instance's own
// view (/nodes/<id>/leadership/stream) shows its role. Plain ES module, no build step.

const $ = sel => document.querySelector(sel);

const state = {
  info: undefined, // the server's frame: { election, ttl, endpoints, go, nodes, observed, metrics }
  snapshots: new Map(), // instance id -> latest Leadership from its SSE stream
  sources: new Map(), // instance id -> EventSource
  leader: undefined, // { key, value, revision, lease }, as etcd says
  lastLeader: undefined, // the leader before, while nobody leads
  history: [],
  pending: undefined, // { label, t0 } of the last button pressed, for the page-side latency
  lastEtcdStatus: undefined,
};

// ---------------------------------------------------------------------------------------------
// feeds
// ---------------------------------------------------------------------------------------------

function connectControl() {
  const events = new EventSource('/control/events');
  events.onmessage = message => {
    const previous = state.info?.nodes ?? [];
    state.info = JSON.parse(message.data);
    for (const node of state.info.nodes) {
      const before = previous.find(n => n.id === node.id);
      if (before && before.state !== node.state) announce(`${node.value} is ${node.state}`, 'info');
      if (node.lang === 'nest') syncSource(node);
    }
    const status = state.info.observed?.status;
    if (status !== state.lastEtcdStatus) {
      if (status === 'unreachable') announce('etcd does not answer', 'error');
      else if (status === 'ok' && state.lastEtcdStatus === 'unreachable')
        announce('etcd answers again', 'info');
      state.lastEtcdStatus = status;
    }
    updateLeader(state.info.observed?.leader);
    render();
  };
}

/** Keeps one EventSource open per live instance, and none for stopped ones. */
function syncSource(node) {
  const open = state.sources.get(node.id);
  if (node.state === 'stopped') {
    open?.close();
    state.sources.delete(node.id);
    state.snapshots.delete(node.id);
    return;
  }
  if (open) return;
  const source = new EventSource(`/nodes/${node.id}/leadership/stream`);
  source.onmessage = message => {
    state.snapshots.set(node.id, JSON.parse(message.data));
    render();
  };
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    state.sources.delete(node.id);
    setTimeout(() => {
      const now = nodeById(node.id);
      if (now && now.state !== 'stopped') syncSource(now);
    }, 1000);
  };
  state.sources.set(node.id, source);
}

// ---------------------------------------------------------------------------------------------
// leader and handovers
// ---------------------------------------------------------------------------------------------

/**
 * Takes the leader etcd holds; records a handover when a new key leads after another (with or
 * without a moment of nobody leading in between).
 */
function updateLeader(leader) {
  if (leader?.key === state.leader?.key && leader?.value === state.leader?.value) return;
  if (state.leader) state.lastLeader = state.leader;
  const from = state.lastLeader;
  state.leader = leader && {
    key: leader.key,
    value: leader.value,
    revision: leader.revision,
    lease: leader.lease,
  };
  if (from && leader && from.key !== leader.key) recordHandover(from, state.leader);
}

function recordHandover(from, to) {
  const entry = {
    at: new Date(),
    from: from.value,
    to: to.value,
    key: to.key,
    token: to.revision,
    cause: state.pending?.label ?? 'lease or session',
    pageMs: state.pending ? performance.now() - state.pending.t0 : undefined,
    libMs: undefined,
  };
  state.pending = undefined;
  state.history.unshift(entry);
  state.history.length = Math.min(state.history.length, 12);
  const after =
    entry.pageMs === undefined ? '' : ` — ${formatMs(entry.pageMs)} after “${entry.cause}”`;
  announce(`${to.value} leads now (token ${to.revision})${after}`, 'leader');
  flash($('[data-testid="leader-banner"]'));
  setTimeout(() => fetchLibraryLatency(entry), 300);
}

/** Reads `stats.lastHandover` of the instances that saw this handover. */
async function fetchLibraryLatency(entry) {
  for (const node of liveInstances()) {
    try {
      const res = await fetch(`/nodes/${node.id}/leadership`);
      const handover = (await res.json()).stats?.lastHandover;
      if (handover?.to?.key === entry.key) {
        entry.libMs = handover.ms;
        render();
        return;
      }
    } catch {
      // try the next one
    }
  }
  if (entry.libMs === undefined) {
    entry.libMs = null; // no running instance of ours saw it
    render();
  }
}

// ---------------------------------------------------------------------------------------------
// actions
// ---------------------------------------------------------------------------------------------

async function post(url, label) {
  state.pending = { label, t0: performance.now() };
  const res = await fetch(url, { method: 'POST' });
  if (!res.ok) {
    state.pending = undefined;
    const body = await res.json().catch(() => ({}));
    announce(`${label} failed: ${body.error ?? res.status}`, 'error');
  }
}

function leaderNode() {
  return state.info?.nodes.find(n => n.value === state.leader?.value);
}

const leaderActions = {
  resign: node =>
    node.lang === 'go'
      ? post('/control/go/resign', 'resign')
      : post(`/nodes/${node.id}/resign`, 'resign'),
  kill: node => post(`/control/${node.id}/kill`, 'kill'),
  pause: node => post(`/control/${node.id}/pause`, 'pause'),
};

function wireButtons() {
  for (const button of document.querySelectorAll('.actions button')) {
    button.addEventListener('click', () => {
      const node = leaderNode();
      if (node) void leaderActions[button.dataset.action](node);
    });
  }
  $('[data-testid="nodes"]').addEventListener('click', event => {
    const button = event.target.closest('button[data-node]');
    if (!button) return;
    const { node, action } = button.dataset;
    void post(`/control/${node}/${action}`, `${action} ${nodeById(node)?.value ?? node}`);
  });
}

// ---------------------------------------------------------------------------------------------
// rendering
// ---------------------------------------------------------------------------------------------

function render() {
  if (!state.info) return;
  const { election, ttl, endpoints, nodes, go } = state.info;
  $('[data-testid="subtitle"]').textContent = go?.available
    ? 'NestJS + Go, one queue'
    : 'NestJS only: no Go peer (etcdctl missing)';
  $('[data-testid="meta"]').textContent =
    `election “${election}” · etcd ${endpoints.join(', ')} · lease TTL ${ttl} s (ours)` +
    (go?.available ? ', 60 s (etcdctl)' : '');
  renderNotices();
  renderBanner();
  renderQueue();
  renderNodes(nodes);
  renderMetrics();
  renderJobs();
  renderHistory();
}

function renderNotices() {
  const notices = [];
  const observed = state.info.observed;
  if (observed?.status === 'unreachable') {
    notices.push({ id: 'etcd-down', kind: 'error', text: observed.message });
  }
  if (state.info.go && !state.info.go.available) {
    notices.push({ id: 'go-missing', kind: 'warn', text: state.info.go.message });
  }
  $('[data-testid="notices"]').innerHTML = notices
    .map(
      n =>
        `<p class="notice ${n.kind}" role="status" data-testid="notice-${n.id}">${esc(n.text)}</p>`,
    )
    .join('');
}

function renderBanner() {
  const leader = state.leader;
  const node = leaderNode();
  const banner = $('[data-testid="leader-banner"]');
  banner.dataset.lang = node?.lang ?? (leader ? langOf(leader.value) : 'none');
  banner.dataset.state = node?.state ?? 'none';
  $('[data-testid="leader-value"]').textContent =
    leader?.value ?? (state.info.observed?.status === 'ok' ? 'nobody leads' : 'etcd not answering');
  $('[data-testid="leader-token"]').textContent = leader?.revision ?? '—';
  $('[data-testid="leader-lease"]').textContent = leader?.lease ?? '—';
  $('[data-testid="leader-lang"]').textContent = leader ? langLabel(leader.value) : '';
  $('[data-testid="leader-lang"]').dataset.lang = langOf(leader?.value ?? '');
  $('[data-testid="leader-note"]').textContent =
    node?.state === 'stopped'
      ? 'Its process is gone, but its lease still holds the key: the next candidate leads when the lease expires.'
      : node?.state === 'paused'
        ? 'Frozen (SIGSTOP): its keep-alives stop, so its lease expires and the next candidate takes over.'
        : leader && !node
          ? 'A candidate the demo did not start: read from etcd.'
          : '';
  const goLeads = node?.lang === 'go';
  const live = node && node.state === 'running';
  $('[data-testid="btn-resign"]').disabled = !live;
  for (const id of ['btn-kill', 'btn-pause']) {
    const button = $(`[data-testid="${id}"]`);
    button.disabled = !live || goLeads;
    button.title = goLeads
      ? 'Only for our instances (etcdctl’s lease lasts 60 s): use resign.'
      : button.dataset.title || button.title;
  }
}

function renderQueue() {
  const participants = state.info.observed?.participants ?? [];
  const rows = participants.map((p, i) => {
    const node = state.info.nodes.find(n => n.value === p.value);
    const role = p.leader ? 'leader' : 'waiting';
    const procState = node?.state ?? 'running';
    return `<tr data-testid="queue-row" data-value="${esc(p.value)}" data-role="${role}" data-state="${procState}">
      <td class="pos">${i + 1}</td>
      <td class="value">${esc(p.value)}</td>
      <td class="lang"><span class="lang-badge" data-lang="${langOf(p.value)}">${langLabel(p.value)}</span></td>
      <td class="num" data-label="revision">${esc(p.revision)}</td>
      <td class="lease" data-label="lease"><code>${esc(p.lease)}</code></td>
      <td class="roles"><span class="role" data-role="${role}">${role}</span>${
        procState !== 'running'
          ? `<span class="role" data-role="${procState}">process ${procState}</span>`
          : ''
      }</td>
    </tr>`;
  });
  const empty =
    state.info.observed?.status === 'ok' ? 'nobody campaigns' : 'waiting for etcd to answer';
  $('[data-testid="queue-body"]').innerHTML =
    rows.join('') || `<tr><td colspan="6" class="empty">${empty}</td></tr>`;
}

function renderNodes(nodes) {
  $('[data-testid="nodes"]').innerHTML = nodes
    .map(node => {
      const snapshot = state.snapshots.get(node.id);
      const role =
        node.state !== 'running'
          ? node.state
          : node.lang === 'go'
            ? state.leader?.value === node.value
              ? 'leader'
              : 'follower'
            : (snapshot?.role ?? 'starting');
      const buttons =
        node.state === 'stopped'
          ? [['restart', 'Restart']]
          : node.lang === 'go'
            ? [['resign', 'Resign (SIGINT)']]
            : node.state === 'paused'
              ? [
                  ['resume', 'Resume'],
                  ['kill', 'Kill'],
                ]
              : [
                  ['pause', 'Pause'],
                  ['kill', 'Kill'],
                ];
      return `<li class="node" data-testid="node-${node.id}" data-role="${role}" data-state="${node.state}">
        <span class="dot" aria-hidden="true"></span>
        <span class="node-value">${esc(node.value)}</span>
        <span class="lang-badge" data-lang="${node.lang}">${node.lang === 'go' ? 'Go · etcdctl' : 'ours · Nest'}</span>
        <span class="role" data-role="${role}">${role}</span>
        <span class="pid">pid ${node.pid ?? '—'}${node.port ? ` · :${node.port}` : ''}</span>
        <span class="node-actions">${buttons
          .map(
            ([action, label]) =>
              `<button class="small" data-node="${node.id}" data-action="${action}" data-testid="btn-${action}-${node.id}">${label}</button>`,
          )
          .join('')}</span>
      </li>`;
    })
    .join('');
}

function renderMetrics() {
  const metrics = state.info.metrics ?? {};
  const nest = state.info.nodes.filter(n => n.lang === 'nest');
  $('[data-testid="metrics-body"]').innerHTML = nest
    .map(node => {
      const m = metrics[node.id];
      const cell = (value, testid) =>
        `<td class="num" data-testid="${testid}-${node.id}">${m ? value : '—'}</td>`;
      return `<tr data-testid="metrics-row" data-node="${node.id}" data-fresh="${m?.fresh ?? false}">
        <td class="value">${esc(node.value)}${m && !m.fresh ? ' <span class="stale">stale</span>' : ''}</td>
        ${cell(m?.isLeader, 'metric-is-leader')}
        ${cell(m?.hasSession, 'metric-has-session')}
        ${cell(m?.termsWon, 'metric-terms-won')}
        ${cell(m?.sessionLosses, 'metric-session-losses')}
      </tr>`;
    })
    .join('');
  renderHistogram(metrics);
}

/** The handover histogram of the live replica that has observed the most handovers. */
function renderHistogram(metrics) {
  const [id, source] =
    Object.entries(metrics)
      .filter(([nodeId, m]) => m.fresh && nodeById(nodeId)?.state === 'running')
      .sort(([, a], [, b]) => b.handover.count - a.handover.count)[0] ?? [];
  const histogram = $('[data-testid="histogram"]');
  if (!source) {
    $('[data-testid="histogram-source"]').textContent = '';
    histogram.innerHTML = '<p class="empty">no replica to scrape</p>';
    return;
  }
  const { buckets, count, sum } = source.handover;
  $('[data-testid="histogram-source"]').textContent =
    `etcd_election_handover_seconds on ${nodeById(id)?.value ?? id}: ${count} observed` +
    (count ? `, mean ${formatMs((sum / count) * 1000)}` : '');
  if (!buckets.length) {
    histogram.innerHTML =
      '<p class="empty">no handover observed yet: resign or kill the leader</p>';
    return;
  }
  // cumulative → per bucket; show the buckets up to the highest one in use (at least 8)
  const bars = buckets.map((b, i) => ({
    le: b.le,
    n: b.count - (i > 0 ? buckets[i - 1].count : 0),
  }));
  const last = Math.max(7, ...bars.map((b, i) => (b.n > 0 ? i : 0)));
  const shown = bars.slice(0, last + 1);
  const max = Math.max(1, ...shown.map(b => b.n));
  histogram.innerHTML = shown
    .map(
      b => `<div class="bar" data-testid="histogram-bar" data-le="${b.le}" data-count="${b.n}">
        <span class="bar-count">${b.n || ''}</span>
        <span class="bar-fill" style="height:${Math.round((b.n / max) * 100)}%"></span>
        <span class="bar-label">${b.le === '+Inf' ? '∞' : `≤${formatSeconds(Number(b.le))}`}</span>
      </div>`,
    )
    .join('');
}

/**
 * The spread of the balanced jobs: one row per replica (every one of ours, plus any other value
 * that leads a job), with how many jobs it leads and which.
 */
function renderJobs() {
  const jobs = state.info.observed?.jobs ?? [];
  const values = state.info.nodes.filter(n => n.lang === 'nest').map(n => n.value);
  for (const job of jobs) if (!values.includes(job.leader)) values.push(job.leader);
  const rows = values.map(value => {
    const node = state.info.nodes.find(n => n.value === value);
    const led = jobs.filter(j => j.leader === value);
    return { value, state: node?.state ?? 'running', led };
  });
  $('[data-testid="spread-summary"]').textContent = jobs.length
    ? `${jobs.length} jobs led by ${rows.filter(r => r.led.length).length} replicas`
    : state.info.observed?.status === 'ok'
      ? 'no @OnOneInstance job campaigns'
      : 'waiting for etcd to answer';
  $('[data-testid="spread"]').innerHTML = rows
    .map(
      r => `<li class="spread-row" data-testid="spread-row" data-value="${esc(r.value)}" data-state="${r.state}" data-count="${r.led.length}">
        <span class="spread-value">${esc(r.value)}</span>
        <span class="spread-count" data-testid="spread-count">${r.led.length}</span>
        <span class="spread-jobs">${
          r.led
            .map(
              j =>
                `<span class="job" data-testid="job" data-job="${esc(j.name)}" data-leader="${esc(j.leader)}" title="${esc(j.name)}: ${j.candidates} in its queue">${esc(shortJob(j.name))}</span>`,
            )
            .join('') || '<span class="empty">none</span>'
        }</span>
      </li>`,
    )
    .join('');
}

/** `Class.method` → `method`; a name given with `{ name }` stays whole. */
function shortJob(name) {
  return /^[\w$]+\.[\w$]+$/.test(name) ? name.slice(name.indexOf('.') + 1) : name;
}

function renderHistory() {
  $('[data-testid="history-body"]').innerHTML =
    state.history
      .map(
        h => `<tr data-testid="history-row">
        <td>${h.at.toLocaleTimeString()}</td>
        <td>${esc(h.from)} → <b>${esc(h.to)}</b></td>
        <td class="num" data-label="token">${esc(h.token)}</td>
        <td data-label="after">${esc(h.cause)}</td>
        <td class="num" data-label="library">${h.libMs === undefined ? '…' : h.libMs === null ? '—' : formatMs(h.libMs)}</td>
        <td class="num" data-label="page">${h.pageMs === undefined ? '—' : formatMs(h.pageMs)}</td>
      </tr>`,
      )
      .join('') || '<tr><td colspan="6" class="empty">no handover yet — press a button</td></tr>';
}

// ---------------------------------------------------------------------------------------------
// announcements and helpers
// ---------------------------------------------------------------------------------------------

/**
 * The latest event, in the line under the header: in the flow, so it never covers the page, and
 * it stays until the next one.
 */
function announce(text, kind) {
  $('[data-testid="announcer"]').textContent = text;
  const toast = document.createElement('div');
  toast.className = `toast ${kind}`;
  toast.dataset.testid = 'toast';
  toast.textContent = `${new Date().toLocaleTimeString()} · ${text}`;
  $('[data-testid="toasts"]').replaceChildren(toast);
}

function flash(element) {
  element.classList.remove('flash');
  void element.offsetWidth; // restart the animation
  element.classList.add('flash');
}

function liveInstances() {
  return (state.info?.nodes ?? []).filter(n => n.lang === 'nest' && n.state === 'running');
}

function nodeById(id) {
  return state.info?.nodes.find(n => n.id === id);
}

/** Go's candidates are the etcdctl ones we started, or any value starting with `go-`. */
function langOf(value) {
  const node = state.info?.nodes.find(n => n.value === value);
  if (node) return node.lang;
  return value.startsWith('go-') ? 'go' : 'other';
}

function langLabel(value) {
  return { nest: 'ours · Nest', go: 'Go · etcdctl', other: 'unknown' }[langOf(value)];
}

function formatMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

function formatSeconds(s) {
  return s >= 1 ? `${s} s` : `${Math.round(s * 1000 * 10) / 10} ms`;
}

function esc(text) {
  return String(text ?? '').replace(
    /[&<>"']/g,
    c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

for (const button of document.querySelectorAll('.actions button')) {
  button.dataset.title = button.title;
}
wireButtons();
connectControl();
render();
