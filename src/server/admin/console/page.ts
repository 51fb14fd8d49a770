/** The console's page and style sheet: static, no data in them (the script fills them from the API). */

export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ensemble console</title>
<link rel="stylesheet" href="console.css">
<link rel="icon" href="favicon.svg">
<script src="console.js" defer></script>
</head>
<body>
<header>
  <h1>Ensemble</h1>
  <span id="server-info" class="muted"></span>
  <span id="live" class="badge" title="live updates">connecting…</span>
  <span class="grow"></span>
  <form id="sign-in" class="inline">
    <input id="sign-in-user" placeholder="user" autocomplete="username" size="10">
    <input id="sign-in-password" type="password" placeholder="password" autocomplete="current-password" size="10">
    <button type="submit">Sign in</button>
  </form>
  <span id="signed-in" hidden><span id="signed-in-user"></span> <button id="sign-out" type="button">Sign out</button></span>
</header>
<nav>
  <a href="#tree" data-tab="tree">Tree</a>
  <a href="#sessions" data-tab="sessions">Sessions</a>
  <a href="#overview" data-tab="overview">Ensemble &amp; charts</a>
</nav>
<main>
<section id="tab-tree" class="tab">
  <div class="tree-left">
    <form id="search-form" class="inline">
      <input id="search-input" type="search" placeholder="search paths containing…">
      <button type="submit">Search</button>
    </form>
    <div id="search-results" hidden></div>
    <div id="crumbs" class="crumbs"></div>
    <input id="child-filter" type="search" placeholder="filter children by name">
    <div id="children-info" class="muted"></div>
    <ul id="children" class="children"></ul>
    <div class="pager">
      <button id="prev-page" type="button">‹ Previous</button>
      <span id="page-info" class="muted"></span>
      <button id="next-page" type="button">Next ›</button>
    </div>
  </div>
  <div class="tree-right">
    <h2 id="node-path"></h2>
    <div id="node-kind" class="muted"></div>
    <div class="data-head">
      <strong>Data</strong>
      <span class="modes">
        <button type="button" data-mode="text">Text</button>
        <button type="button" data-mode="json">JSON</button>
        <button type="button" data-mode="hex">Hex</button>
      </span>
      <span id="data-note" class="muted"></span>
    </div>
    <pre id="node-data"></pre>
    <div class="tables">
      <div><strong>Stat</strong><table id="node-stat"></table></div>
      <div><strong>ACL</strong><table id="node-acl"></table></div>
    </div>
    <div id="edits" hidden>
      <h3>Edit</h3>
      <p id="edit-status" class="status" role="status"></p>
      <form id="set-form">
        <fieldset>
          <legend>Set this node's data</legend>
          <textarea id="set-data" rows="4" aria-label="new data"></textarea>
          <label>Version <input id="set-version" type="number"></label>
          <button type="submit">Set data</button>
        </fieldset>
      </form>
      <form id="create-form">
        <fieldset>
          <legend>Create a child (persistent)</legend>
          <label>Name <input id="create-name"></label>
          <label>Data <textarea id="create-data" rows="1"></textarea></label>
          <label class="check"><input id="create-sequential" type="checkbox"> sequential</label>
          <button type="submit">Create child</button>
        </fieldset>
      </form>
      <form id="delete-form">
        <fieldset>
          <legend>Delete this node</legend>
          <label>Version <input id="delete-version" type="number"></label>
          <button id="delete-button" type="submit">Delete</button>
        </fieldset>
      </form>
    </div>
  </div>
</section>
<section id="tab-sessions" class="tab" hidden>
  <div id="sessions-info" class="muted"></div>
  <table id="sessions" class="grid"></table>
</section>
<section id="tab-overview" class="tab" hidden>
  <h2>Members</h2>
  <div id="members-info" class="muted"></div>
  <table id="members" class="grid"></table>
  <h2>Counters</h2>
  <div id="counters" class="counters"></div>
  <div class="charts">
    <figure><figcaption>Requests per second <span id="now-rate" class="muted"></span></figcaption><svg id="chart-rate"></svg></figure>
    <figure><figcaption>Average latency, ms <span id="now-latency" class="muted"></span></figcaption><svg id="chart-latency"></svg></figure>
    <figure><figcaption>Outstanding requests <span id="now-outstanding" class="muted"></span></figcaption><svg id="chart-outstanding"></svg></figure>
  </div>
</section>
</main>
</body>
</html>
`;

export const CONSOLE_CSS = `
:root { --fg: #1d2430; --muted: #6b7482; --line: #dde2e8; --bg: #f6f7f9; --accent: #2f6fdf; --bad: #b3261e; --good: #1e7a3c; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 12px; padding: 8px 16px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 16px; margin: 8px 0; word-break: break-all; }
h3 { font-size: 14px; margin: 12px 0 4px; }
.grow { flex: 1; }
.muted { color: var(--muted); }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 10px; background: var(--line); }
.badge.on { background: #d4f0dc; color: var(--good); }
.inline { display: inline-flex; gap: 4px; }
nav { display: flex; gap: 4px; padding: 0 16px; background: #fff; border-bottom: 1px solid var(--line); }
nav a { padding: 8px 12px; color: var(--fg); text-decoration: none; border-bottom: 2px solid transparent; }
nav a.active { border-bottom-color: var(--accent); color: var(--accent); }
main { padding: 12px 16px; }
.tab[hidden] { display: none; }
#tab-tree:not([hidden]) { display: grid; grid-template-columns: minmax(260px, 360px) 1fr; gap: 16px; }
.tree-left, .tree-right { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px; min-width: 0; }
.crumbs { margin: 8px 0; word-break: break-all; }
.crumbs a { color: var(--accent); text-decoration: none; }
#child-filter, #search-input { width: 100%; }
.children { list-style: none; margin: 6px 0; padding: 0; max-height: 60vh; overflow: auto; border-top: 1px solid var(--line); }
.children li { display: flex; justify-content: space-between; gap: 8px; padding: 3px 4px; border-bottom: 1px solid var(--line); }
.children a { color: var(--fg); text-decoration: none; word-break: break-all; }
.children a:hover { color: var(--accent); }
.children .meta { color: var(--muted); font-size: 12px; white-space: nowrap; }
.eph { color: #8a4b00; }
.pager { display: flex; align-items: center; justify-content: space-between; }
#search-results { margin: 6px 0; padding: 6px; background: var(--bg); border-radius: 4px; max-height: 30vh; overflow: auto; }
#search-results a { display: block; color: var(--accent); text-decoration: none; word-break: break-all; }
.data-head { display: flex; align-items: center; gap: 8px; margin-top: 8px; }
.modes button.active { background: var(--accent); color: #fff; border-color: var(--accent); }
pre#node-data:empty { display: none; }
pre#node-data { background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 8px; max-height: 40vh; overflow: auto; white-space: pre-wrap; word-break: break-all; }
.tables { display: flex; gap: 24px; flex-wrap: wrap; }
table { border-collapse: collapse; }
td, th { padding: 2px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
table.grid { background: #fff; border: 1px solid var(--line); min-width: 50%; }
table.grid tr.leader td { font-weight: 600; }
table.grid tr.self td:first-child::after { content: " (this server)"; color: var(--muted); font-weight: normal; }
#edits fieldset { display: flex; align-items: flex-end; gap: 8px; flex-wrap: wrap; margin: 8px 0; border: 1px solid var(--line); border-radius: 6px; }
#edits legend { font-weight: 600; padding: 0 4px; }
#edits label { display: flex; flex-direction: column; gap: 2px; font-size: 12px; color: var(--muted); }
#edits label.check { flex-direction: row; align-items: center; }
#edits input[type=number] { width: 7em; }
#set-data { width: 100%; }
#edits textarea { min-width: 280px; font-family: ui-monospace, monospace; }
.status { min-height: 1.4em; margin: 0; }
.status.bad { color: var(--bad); }
.status.good { color: var(--good); }
.counters { display: flex; gap: 16px; flex-wrap: wrap; }
.counters div { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; }
.counters b { display: block; font-size: 18px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px; margin-top: 12px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
figure svg { width: 100%; height: auto; display: block; }
svg .axis { stroke: var(--line); }
svg .line { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg text { fill: var(--muted); font-size: 10px; }
details summary { cursor: pointer; }
button { font: inherit; padding: 2px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
input, textarea { font: inherit; padding: 2px 6px; border: 1px solid var(--line); border-radius: 4px; }
`;

/** The tab's icon: three linked nodes. */
export const CONSOLE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path d="M8 4v4M8 8l-4 4M8 8l4 4" stroke="#2f6fdf" stroke-width="1.5"/><circle cx="8" cy="3" r="2.2" fill="#2f6fdf"/><circle cx="4" cy="13" r="2.2" fill="#2f6fdf"/><circle cx="12" cy="13" r="2.2" fill="#2f6fdf"/></svg>`;
