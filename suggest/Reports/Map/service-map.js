// The interactive service map of report.html (suggest/Reports/ServiceMap.cs writes the data blob it reads).
// Plain ES2017, no modules: the page is opened from disk with no network. After each layout the container carries
// data-map-nodes / data-map-edges (what is shown), data-map-plumbing-hidden, data-map-ms (milliseconds from navigation
// start to the first laid-out map) and data-map-ready="1", which the browser test reads; window.flowpolicyMap holds
// the Cytoscape instance and the data (for the test's clicks, and for a curious reader's console).
(function () {
  'use strict';
  var root = document.getElementById('service-map');
  var data = JSON.parse(document.getElementById('smap-data').textContent);
  // Bits as in MapEdgeStatus; the first matching entry gives an edge its colour.
  var STATUSES = [
    { bit: 4, name: 'denied', label: 'denied in the log', color: '#c53030' },
    { bit: 2, name: 'unintended', label: 'unintended (intent does not allow)', color: '#dd6b20' },
    { bit: 8, name: 'new', label: 'new since the last report', color: '#805ad5' },
    { bit: 16, name: 'add', label: 'suggested to add', color: '#3182ce' },
    { bit: 32, name: 'remove', label: 'suggested to remove (left out as noise)', color: '#b83280' },
    { bit: 1, name: 'allowed', label: 'allowed by intent', color: '#38a169' },
    { bit: 0, name: 'observed', label: 'observed (no intent given)', color: '#718096' }
  ];
  function primary(st) {
    for (var i = 0; i < STATUSES.length; i++) if (STATUSES[i].bit === 0 || (st & STATUSES[i].bit)) return STATUSES[i];
  }
  function fmt(n) { return Number(n).toLocaleString('en-US'); }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; }); }

  var maxFlows = 1;
  data.edges.forEach(function (e) { if (e.f > maxFlows) maxFlows = e.f; });
  var groups = {};
  var elements = [];
  data.nodes.forEach(function (n, i) {
    if (!groups[n.g]) { groups[n.g] = true; elements.push({ group: 'nodes', data: { id: 'g:' + n.g, label: n.g, isGroup: 1 } }); }
    elements.push({ group: 'nodes', data: { id: 'n' + i, label: n.n, key: n.id, parent: 'g:' + n.g, ns: n.g, kind: n.k } });
  });
  data.edges.forEach(function (e, i) {
    var p = primary(e.st);
    elements.push({ group: 'edges', data: {
      id: 'e' + i, source: 'n' + e.s, target: 'n' + e.t, idx: i, color: p.color, status: p.name,
      width: 1 + 7 * Math.log(1 + e.f) / Math.log(1 + maxFlows)
    } });
  });

  // Which statuses occur decides the filter boxes: no "allowed" box when no intent was given.
  var present = STATUSES.filter(function (s) {
    return data.edges.some(function (e) { return primary(e.st) === s || (s.bit && (e.st & s.bit)); });
  });
  var statusBox = document.getElementById('smap-status');
  statusBox.innerHTML = present.map(function (s) {
    return '<label><input type="checkbox" data-status="' + s.name + '" checked><span class="smap-swatch" style="background:' + s.color + '"></span>' + esc(s.label) + '</label>';
  }).join('');
  var nsSelect = document.getElementById('smap-namespace');
  Object.keys(groups).sort().forEach(function (g) {
    var o = document.createElement('option'); o.value = g; o.textContent = g; nsSelect.appendChild(o);
  });
  var plumbingBox = document.getElementById('smap-plumbing');
  var plumbingCount = data.edges.filter(function (e) { return e.pl; }).length;
  document.getElementById('smap-plumbing-count').textContent = fmt(plumbingCount);
  if (location.hash.indexOf('plumbing') >= 0) plumbingBox.checked = true;

  cytoscape.use(cytoscapeDagre);
  var cy = cytoscape({
    container: document.getElementById('smap-canvas'),
    elements: elements,
    wheelSensitivity: 0.3,
    hideEdgesOnViewport: data.edges.length > 1500,
    textureOnViewport: data.edges.length > 1500,
    minZoom: 0.05,
    maxZoom: 4,
    style: [
      { selector: 'node', style: { 'label': 'data(label)', 'font-size': 11, 'width': 14, 'height': 14, 'background-color': '#2c5282',
        'text-valign': 'bottom', 'text-margin-y': 3, 'color': '#1f2933', 'text-background-color': '#fff', 'text-background-opacity': 0.8, 'text-background-padding': 1 } },
      { selector: 'node[kind = "Node"]', style: { 'shape': 'round-rectangle', 'background-color': '#718096' } },
      { selector: 'node[kind = "External"], node[kind = "Unknown"]', style: { 'shape': 'diamond', 'background-color': '#a0aec0' } },
      { selector: 'node[?isGroup]', style: { 'shape': 'round-rectangle', 'background-color': '#ebf4ff', 'background-opacity': 0.6, 'border-color': '#90cdf4',
        'border-width': 1, 'text-valign': 'top', 'text-halign': 'center', 'font-size': 13, 'font-weight': 'bold', 'color': '#2c5282', 'padding': 14,
        'text-margin-y': -4, 'text-background-opacity': 0 } },
      { selector: 'edge', style: { 'width': 'data(width)', 'line-color': 'data(color)', 'target-arrow-color': 'data(color)', 'target-arrow-shape': 'triangle',
        'arrow-scale': 0.8, 'curve-style': 'bezier', 'opacity': 0.85 } },
      { selector: '.faded', style: { 'opacity': 0.12 } },
      { selector: '.hidden', style: { 'display': 'none' } },
      { selector: '.hit', style: { 'border-width': 3, 'border-color': '#d69e2e' } },
      { selector: 'edge:selected', style: { 'line-color': '#1a202c', 'target-arrow-color': '#1a202c', 'opacity': 1, 'z-index': 10 } },
      { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#1a202c' } }
    ]
  });

  function statusShown() {
    var on = {};
    statusBox.querySelectorAll('input').forEach(function (b) { on[b.getAttribute('data-status')] = b.checked; });
    return on;
  }
  // Shows what the controls ask for, then lays out what is shown (a hidden edge must not shape the picture).
  function apply() {
    root.setAttribute('data-map-ready', '0');
    var on = statusShown();
    var ns = nsSelect.value;
    var plumbing = plumbingBox.checked;
    // Hidden elements get a class (one stylesheet rule) rather than a style bypass each: bypasses cost a style
    // recalculation per element, which made a 10,000-edge map take twice as long.
    var kept = [], dropped = [];
    cy.edges().forEach(function (edge) {
      var e = data.edges[edge.data('idx')];
      var statusOk = STATUSES.some(function (s) { return on[s.name] && (s.bit ? (e.st & s.bit) : primary(e.st) === s); });
      var nsOk = !ns || edge.source().data('ns') === ns || edge.target().data('ns') === ns;
      (statusOk && nsOk && (plumbing || !e.pl) ? kept : dropped).push(edge);
    });
    var keptEdges = cy.collection(kept);
    var keptNodes = keptEdges.connectedNodes();
    var keptGroups = keptNodes.parent();
    cy.batch(function () {
      cy.elements().removeClass('hidden');
      cy.collection(dropped).addClass('hidden');
      cy.nodes().difference(keptNodes).difference(keptGroups).addClass('hidden');
    });
    var shown = keptEdges.union(keptNodes).union(keptGroups);
    // dagre (layered) reads well but is superlinear: past LARGE shown edges the groups go on a grid instead (linear),
    // and edges are drawn straight, so 1,000 workloads and 10,000 edges still open in seconds.
    var large = shown.edges().length > LARGE;
    // One stylesheet rule for every edge (a per-edge bypass would restyle 10,000 elements one by one).
    if (large !== wasLarge) { cy.style().selector('edge').style('curve-style', large ? 'haystack' : 'bezier').update(); wasLarge = large; }
    var layout = large ? shown.layout({ name: 'preset', positions: gridPositions(shown), fit: true, padding: 20 })
      : shown.layout({ name: 'dagre', rankDir: 'LR', nodeSep: 18, rankSep: 90, edgeSep: 6, animate: false, fit: true, padding: 20 });
    layout.one('layoutstop', function () {
      var nodeCount = shown.nodes().filter(function (n) { return !n.data('isGroup'); }).length;
      var edgeCount = shown.edges().length;
      root.setAttribute('data-map-nodes', nodeCount);
      root.setAttribute('data-map-edges', edgeCount);
      root.setAttribute('data-map-plumbing', plumbing ? '1' : '0');
      root.setAttribute('data-map-plumbing-hidden', plumbing ? 0 : plumbingCount);
      if (!root.hasAttribute('data-map-ms')) root.setAttribute('data-map-ms', Math.round(performance.now()));
      document.getElementById('smap-summary').textContent = fmt(nodeCount) + ' endpoints and ' + fmt(edgeCount) + ' edges shown of ' +
        fmt(data.nodes.length) + ' and ' + fmt(data.edges.length) + ' (an edge is client -> server:port)' +
        (plumbing ? '' : '; ' + fmt(plumbingCount) + ' plumbing edges hidden (tick the box to show them)') +
        (data.left_out ? '; ' + fmt(data.left_out) + ' noise edges (scanners, debug pods) are not drawn, see "Noise left out"' : '') +
        (data.not_drawn ? '; ' + fmt(data.not_drawn) + ' quieter edges are not drawn (the map keeps the busiest ' + fmt(data.edges.length) + ')' : '') + '.';
      search();
      root.setAttribute('data-map-ready', '1');
    });
    layout.run();
  }

  var LARGE = 1500;
  var wasLarge = false;
  // Groups in rows of a square grid, each group's nodes in a square grid of their own.
  function gridPositions(shown) {
    var byGroup = {};
    shown.nodes().forEach(function (n) {
      if (n.data('isGroup')) return;
      (byGroup[n.data('ns')] = byGroup[n.data('ns')] || []).push(n.id());
    });
    var names = Object.keys(byGroup).sort();
    var perRow = Math.ceil(Math.sqrt(names.length));
    var pos = {}, x = 0, y = 0, rowHeight = 0;
    names.forEach(function (g, i) {
      if (i > 0 && i % perRow === 0) { x = 0; y += rowHeight + 80; rowHeight = 0; }
      var ids = byGroup[g], cols = Math.ceil(Math.sqrt(ids.length)), step = 70;
      ids.forEach(function (id, j) { pos[id] = { x: x + (j % cols) * step, y: y + Math.floor(j / cols) * step }; });
      x += cols * step + 80;
      rowHeight = Math.max(rowHeight, Math.ceil(ids.length / cols) * step);
    });
    return function (node) { return pos[node.id()] || { x: 0, y: 0 }; };
  }

  function search() {
    var q = document.getElementById('smap-search').value.trim().toLowerCase();
    cy.batch(function () {
      cy.elements().removeClass('faded hit');
      root.removeAttribute('data-map-search-hits');
      if (!q) return;
      var hits = cy.nodes().filter(function (n) { return !n.data('isGroup') && !n.hasClass('hidden') && n.data('key').toLowerCase().indexOf(q) >= 0; });
      root.setAttribute('data-map-search-hits', hits.length);
      var near = hits.union(hits.connectedEdges()).union(hits.connectedEdges().connectedNodes()).union(hits.ancestors());
      cy.elements().difference(near).addClass('faded');
      hits.addClass('hit');
    });
  }

  var panel = document.getElementById('smap-evidence');
  function row(k, v) { return '<tr><th>' + esc(k) + '</th><td>' + v + '</td></tr>'; }
  function showEdge(edge) {
    var e = data.edges[edge.data('idx')];
    var client = data.nodes[e.s].id, server = data.nodes[e.t].id;
    var labels = STATUSES.filter(function (s) { return s.bit && (e.st & s.bit); }).map(function (s) {
      return '<span class="tag" style="color:' + s.color + '">' + esc(s.label) + '</span>';
    }).join(' ') || '<span class="tag">observed</span>';
    var rule = e.ri === undefined ? null : data.rules[e.ri];
    var suggestion = rule ? '<span class="mono">' + esc(rule.id) + '</span> ' + esc(rule.text) + ' (' + esc(rule.conf) + ' confidence' + (rule.add ? ', to add to the intended policy' : '') + ')'
      : e.lo ? 'none: left out as noise (' + esc(e.lo) + '); the candidate policy blocks it' : data.suggestion ? 'none (outside the policy scope)' : 'not computed (analyze: run suggest for rules)';
    panel.innerHTML = '<h3 id="smap-edge-title">' + esc(client + ' -> ' + server + ':' + e.p) + '</h3><p>' + labels + '</p><table id="smap-edge-evidence">' +
      (e.m ? row('merged', fmt(e.m) + ' edges (bare addresses are one node)') : '') + row('flows', fmt(e.f)) + row('bytes', e.b ? fmt(e.b) : 'not logged') +
      row('verdicts', fmt(e.a) + ' allowed, ' + fmt(e.d) + ' denied, ' + fmt(e.u) + ' unknown') +
      row('first seen', esc(e.fs)) + row('last seen', esc(e.ls)) + row('days seen', fmt(e.days)) + row('client replicas', fmt(e.r)) +
      (data.intent ? row('intended policy', esc(e.why || '')) : '') +
      row('suggested rule', suggestion) +
      (e.pl ? row('plumbing', 'node probe, DNS, API server or node traffic') : '') + '</table>';
  }
  function showNode(node) {
    var edges = node.connectedEdges().not('.hidden');
    var items = edges.map(function (x) {
      var e = data.edges[x.data('idx')];
      return '<li>' + esc(data.nodes[e.s].id + ' -> ' + data.nodes[e.t].id + ':' + e.p) + ' (' + fmt(e.f) + ' flows)</li>';
    });
    panel.innerHTML = '<h3>' + esc(node.data('key')) + '</h3><p>' + fmt(edges.length) + ' edges shown</p><ul>' + items.slice(0, 200).join('') + '</ul>';
  }
  cy.on('tap', 'edge', function (ev) { showEdge(ev.target); });
  cy.on('tap', 'node', function (ev) { if (!ev.target.data('isGroup')) showNode(ev.target); });

  statusBox.addEventListener('change', apply);
  nsSelect.addEventListener('change', apply);
  plumbingBox.addEventListener('change', apply);
  document.getElementById('smap-search').addEventListener('input', search);
  document.getElementById('smap-fit').addEventListener('click', function () { cy.fit(undefined, 20); });
  // Printing opens the static picture again (the canvas does not print well). The map starts once the whole page is parsed: this script sits in the middle of it, and "ready" must mean the
  // page is whole (the static picture below it, the sections after it).
  function staticMap() { return document.querySelector('details.map-static'); }
  window.addEventListener('beforeprint', function () { if (staticMap()) staticMap().open = true; });
  window.flowpolicyMap = { cy: cy, data: data };
  function start() {
    // The static picture is open in the file for readers without scripts; with the map running it folds away.
    if (staticMap()) staticMap().open = false;
    apply();
    // "#edge=N" opens edge N's evidence (a link to one edge).
    var m = /edge=(\d+)/.exec(location.hash);
    if (m && cy.getElementById('e' + m[1]).length) { cy.getElementById('e' + m[1]).select(); showEdge(cy.getElementById('e' + m[1])); }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
