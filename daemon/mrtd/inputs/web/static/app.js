// mrtd's web control surface. Plain JavaScript, no build step, no outside assets.
// Every control sends an OSC-vocabulary message {address, args} over the WebSocket;
// what it shows comes only from the daemon's state pushes, so a fader never lies.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
  const COLOURS = ["#4fc3a1", "#6ea8fe", "#f0b429", "#e5534b", "#c39bff", "#7fd0f0", "#ff9f6e", "#b5d36e"];
  const state = {};          // address -> args, as the daemon pushed them
  let scene = { name: "", positions: {}, cues: [], axes: [], layout: null, params: {} };
  let status = {};
  let ws = null, standby = null, latch = false, nextId = 1;
  const mrtd = (window.mrtd = { state, get scene() { return scene; }, get status() { return status; }, errors: [], frames: 0, send });

  // -- connection ---------------------------------------------------------------
  const token = new URLSearchParams(location.search).get("token");
  function connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws${token ? "?token=" + encodeURIComponent(token) : ""}`;
    ws = new WebSocket(url);
    ws.onopen = () => { $("conn").className = "dot on"; underrunsSeen = null; };  // a restarted daemon counts afresh
    ws.onclose = () => { $("conn").className = "dot off"; setTimeout(connect, 1000); };
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.state) { mrtd.frames++; for (const [address, args] of Object.entries(message.state)) apply(address, args); }
      if (message.reply) replied(message.reply);
    };
  }
  function send(address, ...args) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ address, args }));
  }
  function replied(reply) {
    if (reply.address === "/mrt/record/stopped" && reply.args[0]) recordingSaved(fullPath(reply.args[0]));
    if (reply.address === "/mrt/state/bank") bankSaid(...reply.args);
    if (reply.address !== "/mrt/error") return;
    const [address, reason] = reply.args;
    showError(`${address || "message"}: ${reason}`);
  }
  function showError(text) {
    mrtd.errors.push(text);
    const box = el("div", "error", text);
    $("errors").append(box);
    while ($("errors").children.length > 4) $("errors").firstChild.remove();
    setTimeout(() => box.remove(), 6000);
  }

  // -- a touch fader: sends at most once per animation frame ----------------------
  function fader(label, low, high, format, onChange) {
    const root = el("div", "fader"), fill = el("div", "fill"), name = el("span", "label", label), shown = el("span", "value");
    root.append(fill, name, shown);
    let value = low, dragging = false, pending = null, remote = null;
    const draw = (v) => { fill.style.width = `${(100 * (v - low)) / (high - low || 1)}%`; shown.textContent = format(v); };
    const at = (event) => { const r = root.getBoundingClientRect(); return low + Math.min(1, Math.max(0, (event.clientX - r.left) / r.width)) * (high - low); };
    const flush = () => { if (pending != null) { onChange(pending); pending = null; } };
    root.addEventListener("pointerdown", (e) => { dragging = true; root.setPointerCapture(e.pointerId); move(e); });
    root.addEventListener("pointermove", (e) => { if (dragging) move(e); });
    const up = () => { if (!dragging) return; dragging = false; flush(); if (remote != null) { draw(remote); remote = null; } };
    root.addEventListener("pointerup", up); root.addEventListener("pointercancel", up);
    function move(e) { value = at(e); draw(value); if (pending == null) requestAnimationFrame(flush); pending = value; }
    draw(low);
    return {
      root,
      set(v) { if (dragging) remote = v; else { value = v; draw(v); } },
      range(l, h) { low = l; high = h; draw(value); },
    };
  }
  const fmt = (digits, unit = "") => (v) => `${Number(v).toFixed(digits)}${unit}`;

  // -- parameters --------------------------------------------------------------------
  const PARAMS = [
    ["temperature", "/mrt/temperature", "Temperature", fmt(2)],
    ["top_k", "/mrt/topk", "Top-k", fmt(0), true],
    ["cfg_style", "/mrt/cfg/style", "Guidance: style", fmt(2)],
    ["cfg_notes", "/mrt/cfg/notes", "Guidance: notes", fmt(2)],
    ["cfg_drums", "/mrt/cfg/drums", "Guidance: drums", fmt(2)],
    ["tempo", "/mrt/tempo", "Tempo", fmt(1, " BPM")],
    ["volume", "/mrt/volume", "Volume", fmt(1, " dB")],
  ];
  const faders = {};
  for (const [name, address, label, format, whole] of PARAMS) {
    const f = fader(label, 0, 1, format, (v) => send(address, whole ? Math.round(v) : Number(v.toFixed(3))));
    f.root.dataset.address = address;
    faders[address] = f;
    $("params").append(f.root);
  }
  function applyRanges() {
    for (const [name, address] of PARAMS) {
      const p = scene.params[name];
      if (p) faders[address].range(p.low, name === "top_k" ? Math.min(p.high, 400) : p.high);
    }
    if (reducedVolume && scene.params.volume) reducedVolume.range(scene.params.volume.low, scene.params.volume.high);
  }

  // -- prompts --------------------------------------------------------------------------
  const promptRows = {};
  // /mrt/mix carries the raw weights (what a fader sets); the engine hears them normalised over
  // the prompts above zero. A fader shows both, the surface the share: one number, one meaning.
  function mixShares(weights) {
    const total = Object.values(weights).reduce((a, b) => a + Math.max(0, b), 0);
    return Object.fromEntries(Object.entries(weights).map(([n, w]) => [n, total > 1e-9 ? Math.max(0, w) / total : 0]));
  }
  const percent = (share) => `${(100 * share).toFixed(0)}%`;
  function pairs(args) { const out = []; for (let i = 0; i + 1 < args.length; i += 2) out.push([args[i], args[i + 1]]); return out; }
  function drawPrompts() {
    const texts = Object.fromEntries(pairs(state["/mrt/prompts"] || []));
    const weights = Object.fromEntries(pairs(state["/mrt/mix"] || []));
    const shares = mixShares(weights);
    const names = Object.keys(texts).sort();
    for (const name of Object.keys(promptRows)) if (!(name in texts)) { promptRows[name].root.remove(); delete promptRows[name]; }
    names.forEach((name, i) => {
      let row = promptRows[name];
      if (!row) {
        const root = el("div", "prompt"), acts = el("span", "acts"), text = el("span", "text");
        const edit = el("button", "small", "Edit"), remove = el("button", "small", "✕");
        remove.title = `remove ${name}`;
        edit.onclick = () => { $("new-name").value = name; $("new-text").value = texts[name] || ""; $("new-text").focus(); };
        remove.onclick = () => send("/mrt/prompt/clear", name);
        acts.append(edit, remove);
        const weight = fader(name, 0, 1, fmt(2), (v) => send("/mrt/weight", name, Number(v.toFixed(3))));
        const share = el("span", "share");
        share.title = "its share of the mix heard";
        weight.root.append(share);
        root.dataset.prompt = name;
        root.append(weight.root, acts, text);
        $("prompts").append(root);
        row = promptRows[name] = { root, text, weight, share };
      }
      row.text.textContent = texts[name];
      row.weight.set(weights[name] || 0);
      row.share.textContent = percent(shares[name] || 0);
      row.root.style.borderLeft = `4px solid ${COLOURS[i % COLOURS.length]}`;
    });
    $("mixbar").replaceChildren(...names.filter((n) => shares[n] > 0).map((n) => {
      const bar = el("i"); bar.style.width = `${100 * shares[n]}%`; bar.style.background = COLOURS[names.indexOf(n) % COLOURS.length]; bar.title = `${n} ${percent(shares[n])}`; return bar;
    }));
    redraw(drawXY);
  }
  $("add-prompt").onsubmit = (e) => {
    e.preventDefault();
    // No weight: a new prompt comes in at 1, an edited one keeps the weight its fader has.
    send("/mrt/prompt", $("new-name").value.trim(), $("new-text").value);
    $("new-name").value = ""; $("new-text").value = "";
  };

  // -- the XY surface: prompt positions, a draggable point, the weights it gives --------------
  const canvas = $("xy-canvas");
  let xyDrag = false, xyPending = null, xyLocal = null;
  function bounds() {
    const points = Object.values(scene.positions);
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    if (x1 - x0 < 1e-9) { x0 -= 0.5; x1 += 0.5; } if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
    const px = (x1 - x0) * 0.08, py = (y1 - y0) * 0.08;
    return [x0 - px, x1 + px, y0 - py, y1 + py];
  }
  function toScreen([x, y], w, h) { const [x0, x1, y0, y1] = bounds(); return [((x - x0) / (x1 - x0)) * w, h - ((y - y0) / (y1 - y0)) * h]; }
  function fromScreen(sx, sy, w, h) { const [x0, x1, y0, y1] = bounds(); return [x0 + (sx / w) * (x1 - x0), y0 + ((h - sy) / h) * (y1 - y0)]; }
  // Redraws wait for the next animation frame, once each however many pushes arrive (a tablet's
  // battery, and on a shared machine the generator's CPU).
  const redraws = new Set();
  function redraw(draw) {
    if (!redraws.size) requestAnimationFrame(() => { const due = [...redraws]; redraws.clear(); for (const d of due) d(); });
    redraws.add(draw);
  }
  // Where the mix is on the surface. A cue, a fader or OSC may set a mix after the point was
  // dragged; then the point last sent no longer says what plays. The daemon blends a point by
  // inverse-distance weighting (style/space.py's set_xy: w_i = d_i^-p / sum d_j^-p), so the page
  // looks for the point whose weights are the mix: the last point sent if it still matches, else
  // a search of the surface. A mix no point gives (a prompt off the surface sounds, or an even
  // blend of two corners) is shown as off the surface until a finger places the point again.
  const XY_TOLERANCE = 0.02;  // largest difference in any prompt's share that still counts as the same mix
  function idwShares([x, y], names, power) {
    const squared = names.map((n) => (x - scene.positions[n][0]) ** 2 + (y - scene.positions[n][1]) ** 2);
    const at = squared.findIndex((d) => d < 1e-18);
    if (at >= 0) return squared.map((_, i) => (i === at ? 1 : 0));
    const w = squared.map((d) => d ** (-0.5 * power)), sum = w.reduce((a, b) => a + b, 0);
    return w.map((v) => v / sum);
  }
  let xyFound = { key: null, shown: { point: null, from: null } };
  function mixPoint() {
    const names = Object.keys(scene.positions);
    const weights = Object.fromEntries(pairs(state["/mrt/mix"] || []));
    const sent = state["/mrt/xy"] || null;
    const key = JSON.stringify([weights, sent, scene.positions, scene.surface_power]);
    if (xyFound.key === key) return xyFound.shown;
    const off = Object.entries(weights).some(([n, w]) => w > 0 && !(n in scene.positions));
    const total = names.reduce((a, n) => a + Math.max(0, weights[n] || 0), 0);
    let shown = { point: null, from: null };
    if (!off && total > 1e-9) {
      const target = names.map((n) => Math.max(0, weights[n] || 0) / total), power = scene.surface_power || 2;
      const miss = (p) => Math.max(...idwShares(p, names, power).map((v, i) => Math.abs(v - target[i])));
      if (sent && miss(sent) <= XY_TOLERANCE) shown = { point: [sent[0], sent[1]], from: "xy" };
      else {
        const [x0, x1, y0, y1] = bounds();
        let best = null, bestMiss = Infinity;
        const consider = (p) => { const m = miss(p); if (m < bestMiss) { best = p; bestMiss = m; } };
        for (const n of names) consider(scene.positions[n]);
        const cells = 32;
        for (let i = 0; i <= cells; i++) for (let j = 0; j <= cells; j++) consider([x0 + ((x1 - x0) * i) / cells, y0 + ((y1 - y0) * j) / cells]);
        for (let step = (x1 - x0) / cells; step > 1e-5; ) {  // a pattern search down from the best cell
          const [bx, by] = best, before = bestMiss;
          for (const [dx, dy] of [[step, 0], [-step, 0], [0, step], [0, -step]]) consider([bx + dx, by + dy]);
          if (bestMiss >= before) step /= 2;
        }
        if (bestMiss <= XY_TOLERANCE) shown = { point: best, from: "mix" };
      }
    }
    xyFound = { key, shown };
    return shown;
  }
  function drawXY() {
    const has = Object.keys(scene.positions).length > 0;
    $("xy-none").hidden = has;
    if (!has) { $("xy-labels").replaceChildren(); $("xy-read").textContent = ""; mrtd.xyShown = { point: null, from: null }; }
    const ratio = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    canvas.width = w * ratio; canvas.height = h * ratio;
    const g = canvas.getContext("2d"); g.setTransform(ratio, 0, 0, ratio, 0, 0); g.clearRect(0, 0, w, h);
    if (!has) return;
    g.strokeStyle = "#2a2f37"; g.lineWidth = 1;
    for (let i = 1; i < 4; i++) { g.beginPath(); g.moveTo((w * i) / 4, 0); g.lineTo((w * i) / 4, h); g.moveTo(0, (h * i) / 4); g.lineTo(w, (h * i) / 4); g.stroke(); }
    const shares = mixShares(Object.fromEntries(pairs(state["/mrt/mix"] || [])));
    const names = Object.keys(Object.fromEntries(pairs(state["/mrt/prompts"] || []))).sort();
    const labels = [];
    for (const [name, pos] of Object.entries(scene.positions)) {
      const [sx, sy] = toScreen(pos, w, h), share = shares[name] || 0;
      const colour = COLOURS[Math.max(0, names.indexOf(name)) % COLOURS.length];
      g.fillStyle = colour + "33"; g.beginPath(); g.arc(sx, sy, 14 + 46 * share, 0, 7); g.fill();
      g.fillStyle = colour; g.beginPath(); g.arc(sx, sy, 8, 0, 7); g.fill();
      // The label is text on the page (not pixels), the same share the prompt's fader shows.
      const label = el("span", "xy-label", `${name} ${percent(share)}`);
      label.dataset.prompt = name; label.style.color = colour;
      if (sx > w / 2) label.style.right = `${w - sx + 14}px`; else label.style.left = `${sx + 14}px`;
      if (sy > h / 2) label.style.bottom = `${h - sy + 8}px`; else label.style.top = `${sy + 8}px`;
      labels.push(label);
    }
    $("xy-labels").replaceChildren(...labels);
    const shown = xyLocal ? { point: xyLocal, from: "finger" } : mixPoint();
    mrtd.xyShown = shown;
    const point = shown.point;
    $("xy").classList.toggle("off", !point);
    if (point) {
      const [px, py] = toScreen(point, w, h);
      g.strokeStyle = "#fff"; g.lineWidth = 3; g.beginPath(); g.arc(px, py, 18, 0, 7); g.stroke();
      g.fillStyle = "#ffffffcc"; g.beginPath(); g.arc(px, py, 6, 0, 7); g.fill();
      $("xy-read").textContent = `x ${point[0].toFixed(2)} · y ${point[1].toFixed(2)}` + (shown.from === "mix" ? " (where the mix is)" : "");
    } else $("xy-read").textContent = "off the surface: touch to place";
  }
  function xyMove(e) {
    const r = canvas.getBoundingClientRect();
    xyLocal = fromScreen(Math.min(r.width, Math.max(0, e.clientX - r.left)), Math.min(r.height, Math.max(0, e.clientY - r.top)), r.width, r.height);
    if (xyPending == null) requestAnimationFrame(() => { send("/mrt/xy", Number(xyPending[0].toFixed(4)), Number(xyPending[1].toFixed(4))); xyPending = null; });
    xyPending = xyLocal;
    redraw(drawXY);
  }
  canvas.addEventListener("pointerdown", (e) => { if (!Object.keys(scene.positions).length) return; xyDrag = true; canvas.setPointerCapture(e.pointerId); xyMove(e); });
  canvas.addEventListener("pointermove", (e) => { if (xyDrag) xyMove(e); });
  const xyUp = () => { xyDrag = false; xyLocal = null; };
  canvas.addEventListener("pointerup", xyUp); canvas.addEventListener("pointercancel", xyUp);
  window.addEventListener("resize", drawXY);

  // -- axes --------------------------------------------------------------------------------
  const axisFaders = {};
  function axisFader(key) {
    if (axisFaders[key]) return axisFaders[key];
    const f = fader(/^\d+$/.test(key) ? `PCA ${key}` : `axis ${key}`, -3, 3, fmt(2), (v) => send("/mrt/axis", /^\d+$/.test(key) ? Number(key) : key, Number(v.toFixed(3))));
    f.set(0);
    $("axes").append(f.root);
    return (axisFaders[key] = f);
  }

  // -- state banks: the same /mrt/state/* requests as OSC; the reply says what was accepted -----------
  // (a save is written, and a load crossfades in, a moment later; a failure then is in the log).
  for (const button of $("banks").querySelectorAll("[data-save]")) button.onclick = () => send("/mrt/state/save", Number(button.dataset.save));
  for (const button of $("banks").querySelectorAll("[data-load]")) button.onclick = () => send("/mrt/state/load", Number(button.dataset.load));
  $("bank-factory").onclick = () => send("/mrt/state/factory");
  function bankSaid(action, bank) {
    $("bank-said").textContent = action === "factory" ? "back to factory" : `${action === "save" ? "saving to" : "loading"} bank ${bank}`;
  }

  // -- drums, mute, notes ---------------------------------------------------------------------
  for (const b of $("drums").children) b.onclick = () => send("/mrt/drums", Number(b.dataset.v));
  $("mute").onclick = () => send("/mrt/mute", state["/mrt/mute"] && state["/mrt/mute"][0] ? 0 : 1);
  $("latch").onclick = () => { latch = !latch; $("latch").classList.toggle("on", latch); if (!latch) send("/mrt/notes/clear"); };
  $("notes-clear").onclick = () => send("/mrt/notes/clear");
  // -- listening: three switches (style switches the listen prompt's weight between 1 and 0) ----------
  const isOn = (address) => !!(state[address] && state[address][0]);
  $("listen-notes").onclick = () => send("/mrt/listen/notes", isOn("/mrt/listen/notes") ? 0 : 1);
  $("listen-tempo").onclick = () => send("/mrt/listen/tempo", isOn("/mrt/listen/tempo") ? 0 : 1);
  $("listen-style").onclick = () => send("/mrt/listen/style", isOn("/mrt/listen/style") ? 0 : 1);
  function showListening(heard) {
    $("listen").hidden = !heard;
    if (!heard) return;
    const level = heard.level_db <= -119 ? "silent" : `${heard.level_db.toFixed(0)} dB`;
    $("listen-heard").textContent = `${level} · ${heard.chord || "no chord"} · ${heard.bpm ? heard.bpm.toFixed(1) + " BPM" : "no beat"}`;
  }
  const keys = {};
  const LOW = 48, HIGH = 72; // C3 to C5
  for (let pitch = LOW; pitch <= HIGH; pitch++) {
    const black = [1, 3, 6, 8, 10].includes(pitch % 12);
    const key = el("div", "key" + (black ? " black" : "") + (pitch > 60 ? " upper" : ""));  // a phone shows one octave
    key.dataset.pitch = pitch;
    key.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      const held = (state["/mrt/notes"] || []).includes(pitch);
      if (latch && held) { send("/mrt/note/off", pitch); return; }
      send("/mrt/note/on", pitch, 100);
      if (!latch) { const off = () => { send("/mrt/note/off", pitch); key.removeEventListener("pointerup", off); key.removeEventListener("pointerleave", off); }; key.addEventListener("pointerup", off); key.addEventListener("pointerleave", off); }
    });
    keys[pitch] = key;
    $("keys").append(key);
  }

  // -- cues ------------------------------------------------------------------------------------
  function drawCues() {
    const current = (state["/mrt/cue"] || [""])[0];
    const index = scene.cues.indexOf(current);
    if (standby == null || standby === current || !scene.cues.includes(standby)) standby = scene.cues[(index + 1) % Math.max(1, scene.cues.length)] || null;
    $("cues").replaceChildren(...scene.cues.map((name) => {
      const li = el("li", (name === current ? "current " : "") + (name === standby ? "standby" : ""), name);
      li.title = name;
      if (name === standby && name !== current) li.append(el("small", "", " ← next"));
      li.onclick = () => { standby = name; drawCues(); };
      return li;
    }));
    $("go").disabled = $("next").disabled = !scene.cues.length;
  }
  $("go").onclick = () => { if (standby) send("/mrt/cue", standby); };
  $("next").onclick = () => send("/mrt/cue/next");

  // -- record: where the take goes, and where it went ---------------------------------------------
  $("rec").onclick = () => send(status.recording ? "/mrt/record/stop" : "/mrt/record/start");
  const baseName = (path) => path.split(/[\\/]/).pop();
  let recordingShown = "", recordingLast = "";
  function fullPath(name) {  // the reply names the file; status knows the folder
    if (recordingLast && baseName(recordingLast) === name) return recordingLast;
    return status.record_dir ? `${status.record_dir.replace(/[\\/]$/, "")}/${name}` : name;
  }
  function showRecording(path) {  // from each status: the take being written, and the one just ended
    if (path) { recordingLast = path; $("rec-file").textContent = baseName(path); $("rec-file").title = path; $("notices").replaceChildren(); }
    else if (recordingShown) recordingSaved(recordingShown);  // stopped from here, elsewhere or by OSC
    $("rec-file").hidden = !path;
    recordingShown = path;
  }
  function recordingSaved(path) {
    if ($("notices").dataset.saved === path) return;
    $("notices").dataset.saved = path;
    const note = el("div", "saved", "Recording saved: "), where = el("code", "", path), close = el("button", "small", "✕");
    close.title = "dismiss"; close.onclick = () => $("notices").replaceChildren();
    note.append(where, close);
    $("notices").replaceChildren(note);
  }

  // -- underruns: red while recent, the total always there ------------------------------------------
  // Counted on the daemon's audio clock (status.frames, 25 a second), so a tab left in the background
  // or a slow tablet does not stretch "recent". One underrun at start is news for a while, not forever.
  const UNDERRUN_RECENT_FRAMES = 10 * 25;
  let underrunsSeen = null;  // {count, frame}: the count as last seen, and the frame it last rose at
  function showUnderruns(s) {
    if (underrunsSeen == null || s.underruns < underrunsSeen.count || s.frames < underrunsSeen.at) {
      // First status from this daemon: underruns it already had are recent only while it is young.
      underrunsSeen = { count: s.underruns, frame: s.underruns > 0 && s.frames < UNDERRUN_RECENT_FRAMES ? s.frames : -Infinity, at: s.frames };
    } else if (s.underruns > underrunsSeen.count) underrunsSeen = { count: s.underruns, frame: s.frames, at: s.frames };
    else underrunsSeen.at = s.frames;
    const ago = (s.frames - underrunsSeen.frame) / 25, recent = ago < UNDERRUN_RECENT_FRAMES / 25;
    const box = $("underruns");
    box.textContent = `${s.underruns} underrun${s.underruns === 1 ? "" : "s"}`;
    box.classList.toggle("bad", recent);
    box.classList.toggle("muted", s.underruns === 0);
    box.title = s.underruns === 0 ? "no underrun since start" : Number.isFinite(ago) ? `the last one ${ago.toFixed(0)} s ago` : "none lately";
  }

  // -- the reduced layout a scene may ask for ----------------------------------------------------
  let reducedVolume = null;
  function momentary(button, address) {  // 1 while pressed, 0 on release: what a scene's button mapping expects
    let down = false;
    button.addEventListener("pointerdown", (e) => { e.preventDefault(); down = true; button.classList.add("on"); send(address, 1); });
    const up = () => { if (!down) return; down = false; button.classList.remove("on"); send(address, 0); };
    button.addEventListener("pointerup", up); button.addEventListener("pointerleave", up); button.addEventListener("pointercancel", up);
  }
  // Stop fades the music out to silence and the engine rests (/mrt/stop); Play fades it back
  // in (/mrt/start). Which one the button offers comes from the daemon's status (`resting`), so a
  // page that opens while the music rests says so.
  let resting = false;
  $("stop-play").onclick = () => send(resting ? "/mrt/start" : "/mrt/stop");
  function drawNowPlaying() {
    const cue = (state["/mrt/cue"] || [""])[0];
    $("now-cue").textContent = resting ? "nothing: resting" : cue || "the opening mix";
    $("stop-play").textContent = resting ? "▶ Play" : "■ Stop";
    $("stop-play").classList.toggle("resting", resting);
  }
  function drawLayout() {
    const layout = scene.layout;
    const reduced = !!(layout && layout.layout === "buttons");
    document.body.classList.toggle("reduced", reduced);
    $("full").hidden = reduced; $("reduced").hidden = !reduced;
    for (const id of ["engine", "meter", "step", "to-sound", "underruns", "rec", "clock"]) $(id).hidden = reduced;
    if (!reduced) return;
    $("big-buttons").replaceChildren(...layout.buttons.map((b) => { const button = el("button", "", b.label); momentary(button, b.address); return button; }));
    $("reduced-volume").replaceChildren();
    reducedVolume = null;
    if (layout.volume) {
      const p = scene.params.volume;
      reducedVolume = fader("Volume", p.low, p.high, fmt(0, " dB"), (v) => send("/mrt/volume", Number(v.toFixed(1))));
      reducedVolume.root.dataset.address = "/mrt/volume";
      $("reduced-volume").append(reducedVolume.root);
      if (state["/mrt/volume"]) reducedVolume.set(state["/mrt/volume"][0]);
    }
  }

  // -- applying the daemon's state ------------------------------------------------------------------
  function apply(address, args) {
    state[address] = args;
    if (faders[address]) faders[address].set(args[0]);
    if (address === "/mrt/volume" && reducedVolume) reducedVolume.set(args[0]);
    if (address === "/mrt/mix" || address === "/mrt/prompts") redraw(drawPrompts);
    else if (address === "/mrt/xy") redraw(drawXY);
    else if (address.startsWith("/mrt/axis/")) axisFader(address.slice(10)).set(args[0]);
    else if (address === "/mrt/cue") { drawCues(); drawNowPlaying(); }
    else if (address === "/mrt/mute") $("mute").classList.toggle("on", !!args[0]);
    else if (address.startsWith("/mrt/listen/")) $("listen-" + address.slice(12)).classList.toggle("on", !!args[0]);
    else if (address === "/mrt/drums") for (const b of $("drums").children) b.classList.toggle("on", Number(b.dataset.v) === args[0]);
    else if (address === "/mrt/notes") for (const [pitch, key] of Object.entries(keys)) key.classList.toggle("held", args.includes(Number(pitch)));
    else if (address === "/mrt/beat") { $("bar-no").textContent = args[0]; $("beat-no").textContent = args[1]; $("tempo").textContent = Number(args[3]).toFixed(0); }
    else if (address === "/mrt/web/scene") {
      scene = JSON.parse(args[0]);
      $("scene-name").textContent = scene.name || "mrtd";
      for (const name of scene.axes) axisFader(name);
      drawLayout(); applyRanges(); drawCues(); drawXY();
    } else if (address === "/mrt/web/status") showStatus(JSON.parse(args[0]));
  }
  function showStatus(s) {
    status = s;
    $("engine").textContent = `${s.engine} · ${s.embedder}`;
    $("engine").title = $("engine").textContent;  // the header cuts it short; the whole line on hover
    // The model's source and verdict ("random weights · offline only"), never cut off: a rehearsal
    // with random weights must not pass for the real model.
    $("model").textContent = s.model || "";
    $("model").hidden = !s.model;
    $("model").classList.toggle("warn", s.model_source === "random-weights" || s.model_verdict === "offline-only");
    const [l, r] = s.peak;
    $("meter-l").style.width = `${Math.min(100, l * 100)}%`; $("meter-r").style.width = `${Math.min(100, r * 100)}%`;
    $("step-ms").textContent = `${s.step_ms.toFixed(1)} / ${s.budget_ms.toFixed(0)} ms`;
    $("step-bar").firstElementChild.style.width = `${Math.min(100, (100 * s.step_ms) / s.budget_ms)}%`;
    $("step").classList.toggle("slow", s.step_ms > s.budget_ms);
    // Control to sound at the present pacing, and the margin it keeps (wider after trouble).
    $("to-sound").textContent = `${s.control_latency_ms.toFixed(0)} ms to sound`;
    $("to-sound").title = `a move is heard at most ${s.control_latency_ms.toFixed(0)} ms later; margin ${s.margin_ms.toFixed(1)} ms`
      + (s.margin_widened ? ` (widened: ${s.margin_widened})` : "");
    $("to-sound").classList.toggle("warn", !!s.margin_widened);
    showUnderruns(s);
    $("hours").textContent = s.hours || "";  // opening hours: "closed until 10:00", "" when none
    $("hours").hidden = !s.hours;
    resting = !!s.resting;
    drawNowPlaying();
    $("warnings").replaceChildren(...s.warnings.map((w) => el("div", "", "⚠ " + w)));
    $("rec").classList.toggle("on", !!s.recording);
    $("rec").textContent = s.recording ? "■ Stop" : "● Rec";
    showRecording(s.recording || "");
    // A take that ended by itself (disk full, free-space floor, maximum length) says why on the Rec control.
    $("rec").title = s.record_error ? `Last take ended: ${s.record_error}` : "";
    $("rec").classList.toggle("failed", !s.recording && !!s.record_error);
    $("rec-error").textContent = s.recording ? "" : (s.record_error || "");
    $("rec-error").hidden = !!s.recording || !s.record_error;
    $("fade").firstElementChild.style.width = `${s.fade ? 100 * s.fade.progress : 0}%`;
    showListening(s.listen);
    $("banks").hidden = !s.state_banks;  // banks need the daemon's state folder
  }

  connect();
})();
