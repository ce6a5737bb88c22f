// The demo page: one EventSource per instance on its `leadership$` (/nodes/<id>/leadership/stream),
// the queue from /nodes/<id>/participants on every change, and the process states from
// /control/events. Plain ES module, no build step.

const $ = sel => document.querySelector(sel);

const state = {
  info: undefined, // { election, ttl, endpoints, nodes: [{ id, value, lang, port, pid, state }] }
  snapshots: new Map(), // instance id -> latest Leadership from its SSE stream
  sources: new Map(), // instance id -> EventSource
  participants: [],
  leader: undefined, // { key, value, revision, lease }
  history: [],
  pending: undefined, // { label, t0 } of the last button pressed, for the page-side latency
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
    refreshParticipants();
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
    updateLeader();
    refreshParticipants();
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

let participantsTimer;
/** Re-reads the queue from any live instance (coalesced: at most one request per 50 ms). */
function refreshParticipants() {
  if (participantsTimer) return;
  participantsTimer = setTimeout(async () => {
    participantsTimer = undefined;
    const reader = liveInstances()[0];
    if (!reader) return;
    try {
      const res = await fetch(`/nodes/${reader.id}/participants`);
      if (!res.ok) return;
      state.participants = await res.json();
      updateLeader();
      render();
    } catch {
      // the instance went away between the check and the request; the next change retries
    }
  }, 50);
}

// ---------------------------------------------------------------------------------------------
// leader and handovers
// ---------------------------------------------------------------------------------------------

/**
 * The leader is the newest term anyone reports: create revisions only grow, so the highest one
 * among the live instances' views (and the queue's head) wins over a stale or frozen view.
 */
function updateLeader() {
  const views = liveInstances().map(n => state.snapshots.get(n.id)?.leader);
  if (state.participants[0]?.leader) views.push(state.participants[0]);
  let newest;
  for (const view of views) {
    if (view && (!newest || BigInt(view.revision) > BigInt(newest.revision))) newest = view;
  }
  if (!newest || newest.key === state.leader?.key) return;
  const from = state.leader;
  state.leader = {
    key: newest.key,
    value: newest.value,
    revision: newest.revision,
    lease: newest.lease,
  };
  if (from) recordHandover(from, state.leader);
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
  const { election, ttl, endpoints, nodes } = state.info;
  $('[data-testid="meta"]').textContent =
    `election “${election}” · etcd ${endpoints.join(', ')} · lease TTL ${ttl} s (ours), 60 s (etcdctl)`;
  renderBanner();
  renderQueue();
  renderNodes(nodes);
  renderHistory();
}

function renderBanner() {
  const leader = state.leader;
  const node = leaderNode();
  const banner = $('[data-testid="leader-banner"]');
  banner.dataset.lang = node?.lang ?? 'none';
  banner.dataset.state = node?.state ?? 'none';
  $('[data-testid="leader-value"]').textContent = leader?.value ?? 'nobody leads';
  $('[data-testid="leader-token"]').textContent = leader?.revision ?? '—';
  $('[data-testid="leader-lease"]').textContent = leader?.lease ?? '—';
  $('[data-testid="leader-lang"]').textContent = leader ? langLabel(leader.value) : '';
  $('[data-testid="leader-lang"]').dataset.lang = langOf(leader?.value ?? '');
  $('[data-testid="leader-note"]').textContent =
    node?.state === 'stopped'
      ? 'Its process is gone, but its lease still holds the key: the next candidate leads when the lease expires.'
      : node?.state === 'paused'
        ? 'Frozen (SIGSTOP): its keep-alives stop, so its lease expires and the next candidate takes over.'
        : '';
  const goLeads = node?.lang === 'go';
  const live = node && node.state === 'running';
  $('[data-testid="btn-resign"]').disabled = !live;
  for (const id of ['btn-kill', 'btn-pause']) {
    const button = $(`[data-testid="${id}"]`);
    button.disabled = !live || goLeads;
    if (goLeads) button.title = 'Only for our instances (etcdctl’s lease lasts 60 s): use resign.';
  }
}

function renderQueue() {
  const rows = state.participants.map((p, i) => {
    const node = state.info.nodes.find(n => n.value === p.value);
    const role = p.leader ? 'leader' : 'waiting';
    const procState = node?.state ?? 'running';
    return `<tr data-testid="queue-row" data-value="${esc(p.value)}" data-role="${role}" data-state="${procState}">
      <td class="pos">${i + 1}</td>
      <td class="value">${esc(p.value)}</td>
      <td><span class="lang-badge" data-lang="${langOf(p.value)}">${langLabel(p.value)}</span></td>
      <td class="num">${esc(p.revision)}</td>
      <td><code>${esc(p.lease)}</code></td>
      <td><span class="role" data-role="${role}">${role}</span>${
        procState !== 'running'
          ? ` <span class="role" data-role="${procState}">${procState}</span>`
          : ''
      }</td>
    </tr>`;
  });
  $('[data-testid="queue-body"]').innerHTML =
    rows.join('') || '<tr><td colspan="6" class="empty">nobody campaigns</td></tr>';
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

function renderHistory() {
  $('[data-testid="history-body"]').innerHTML =
    state.history
      .map(
        h => `<tr data-testid="history-row">
        <td>${h.at.toLocaleTimeString()}</td>
        <td>${esc(h.from)} → <b>${esc(h.to)}</b></td>
        <td class="num">${esc(h.token)}</td>
        <td>${esc(h.cause)}</td>
        <td class="num">${h.libMs === undefined ? '…' : formatMs(h.libMs)}</td>
        <td class="num">${h.pageMs === undefined ? '—' : formatMs(h.pageMs)}</td>
      </tr>`,
      )
      .join('') || '<tr><td colspan="6" class="empty">no handover yet — press a button</td></tr>';
}

// ---------------------------------------------------------------------------------------------
// announcements and helpers
// ---------------------------------------------------------------------------------------------

function announce(text, kind) {
  $('[data-testid="announcer"]').textContent = text;
  const toast = document.createElement('div');
  toast.className = `toast ${kind}`;
  toast.dataset.testid = 'toast';
  toast.textContent = text;
  $('[data-testid="toasts"]').prepend(toast);
  setTimeout(() => toast.classList.add('gone'), 4000);
  setTimeout(() => toast.remove(), 4600);
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

function esc(text) {
  return String(text ?? '').replace(
    /[&<>"']/g,
    c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

wireButtons();
connectControl();
setInterval(refreshParticipants, 1000); // a killed follower leaves no event: its key just expires
render();
