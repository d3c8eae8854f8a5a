"""The report page's stylesheet and script, inlined into every page (no network at view time).

The script only shows, hides and opens parts of the page; it never reads run data, so nothing from
a run can reach it. The page's Content-Security-Policy allows this script alone (by its hash).
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["CSS", "JS", "script_hash"]

CSS = """
:root { --ok:#1a9850; --rej:#e0a526; --bug:#d73027; --fin:#5e3c99; --ink:#1f2328;
  --mute:#656d76; --line:#d0d7de; --bg:#f6f8fa; --link:#0969da; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:#fff; }
main { max-width:1240px; margin:0 auto; padding:20px 24px 60px; }
h1 { font-size:22px; margin:0 0 4px; overflow-wrap:anywhere; }
h2 { font-size:17px; margin:28px 0 10px; padding-bottom:4px; border-bottom:1px solid var(--line); }
h3 { font-size:14px; margin:14px 0 6px; }
a { color:var(--link); text-decoration:none; } a:hover { text-decoration:underline; }
.sub { color:var(--mute); margin:0 0 12px; }
nav { position:sticky; top:0; background:#fffe; border-bottom:1px solid var(--line);
  padding:6px 0; z-index:2; font-size:13px; }
nav a { margin-right:14px; }
nav .nav { max-width:1240px; margin:0 auto; padding:0 24px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(150px,1fr)); gap:10px; }
.card { border:1px solid var(--line); border-radius:6px; padding:8px 12px; background:var(--bg); }
.card .k { color:var(--mute); font-size:12px; }
.card .v { font-size:18px; font-weight:600; overflow-wrap:anywhere; }
.card .d { font-size:12px; color:var(--mute); }
table { border-collapse:collapse; margin:6px 0; font-size:13px; }
th, td { border:1px solid var(--line); padding:3px 8px; text-align:left; vertical-align:top; }
th { background:var(--bg); font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tr.chosen td { background:#f0ebf8; font-weight:600; }
pre { background:var(--bg); border:1px solid var(--line); border-radius:4px; padding:8px;
  overflow:auto; max-height:420px; font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;
  white-space:pre; margin:4px 0; }
pre.wrap { white-space:pre-wrap; word-break:break-word; }
pre.diff { max-height:640px; }
.diff .add { background:#dafbe1; display:block; } .diff .del { background:#ffebe9; display:block; }
.diff .hunk { color:#8250df; display:block; } .diff .file { font-weight:700; display:block; }
.badge { display:inline-block; border-radius:10px; padding:0 8px; font-size:12px; color:#fff;
  font-weight:600; line-height:18px; vertical-align:1px; }
.b-accepted, .b-improved { background:var(--ok); } .b-rejected, .b-valid { background:var(--rej); }
.b-buggy { background:var(--bug); } .b-final { background:var(--fin); }
.b-running { background:#fff; color:var(--ink); border:1px dashed var(--mute); }
.b-pass { background:var(--ok); } .b-fail { background:var(--bug); }
.b-gold { background:#c9a400; } .b-silver { background:#8a8f98; } .b-bronze { background:#a0522d; }
.b-none { background:#8c959f; } .b-median { background:#2f81f7; }
.legend { font-size:12px; color:var(--mute); margin:4px 0 0; }
.legend .key { margin-right:14px; white-space:nowrap; }
.legend i { display:inline-block; width:11px; height:11px; border-radius:50%; margin-right:4px;
  vertical-align:-1px; font-style:normal; }
.legend i.hollow { border:2px solid var(--mute); background:#fff; }
.legend i.cross { color:var(--bug); width:auto; height:auto; font-weight:700; }
.legend i.ring { border:3px solid var(--fin); background:#fff; }
.legend i.o-accepted, .legend i.o-improved { background:var(--ok); }
.legend i.o-rejected, .legend i.o-valid { background:var(--rej); border-radius:0;
  width:9px; height:9px; transform:rotate(45deg); margin:0 6px 0 2px; }
.legend i.o-buggy { background:var(--bug); border-radius:1px; color:#fff; font-size:10px;
  line-height:11px; text-align:center; font-weight:700; }
.legend i.o-buggy::after { content:"×"; }
.legend i.o-running { border:1.5px dashed var(--mute); background:#fff; }
.scroll { overflow-x:auto; border:1px solid var(--line); border-radius:6px; padding:6px; }
svg text { font:11px system-ui,sans-serif; fill:var(--ink); }
svg .group { font-weight:700; fill:var(--mute); }
svg .edge { fill:none; stroke:#8c959f; stroke-width:1.4; }
svg .edge.extra { stroke-dasharray:4 3; } svg .root { fill:#8c959f; }
svg .dot { stroke:#fff; stroke-width:1.5; }
svg .o-accepted, svg .o-improved { fill:var(--ok); }
svg .o-rejected, svg .o-valid { fill:var(--rej); }
svg .o-buggy { fill:var(--bug); }
svg .o-running { fill:#fff; stroke:var(--mute); stroke-dasharray:3 2; }
svg .cross { stroke:#fff; stroke-width:2; pointer-events:none; }
svg .resume { stroke:var(--fin); stroke-dasharray:5 4; opacity:.6; }
svg .final-ring { fill:none; stroke:var(--fin); stroke-width:3; }
svg .node:hover .dot, svg .point:hover circle { stroke:#000; }
svg .grid { stroke:#eaeef2; } svg .frame { fill:none; stroke:var(--line); }
svg .tick { fill:var(--mute); font-size:10px; } svg .axis { fill:var(--mute); }
svg .best { fill:none; stroke-width:2; opacity:.75; }
svg .buggy-mark { stroke:var(--bug); stroke-width:2; }
details.step { border:1px solid var(--line); border-left:5px solid var(--line); border-radius:6px;
  margin:6px 0; background:#fff; }
details.step.o-accepted, details.step.o-improved { border-left-color:var(--ok); }
details.step.o-rejected, details.step.o-valid { border-left-color:var(--rej); }
details.step.o-buggy { border-left-color:var(--bug); }
details.step.o-running { border-left-style:dashed; border-left-color:var(--mute); }
details.step > summary .vs { color:var(--mute); font-size:12px; margin-left:4px; }
.vs .d-better { color:var(--ok); font-weight:600; } .vs .d-worse { color:var(--bug); }
.timeline { font-size:13px; color:var(--mute); margin:8px 0 0; }
details.step.final { box-shadow:0 0 0 2px var(--fin); }
details.step > summary { cursor:pointer; padding:6px 10px; list-style-position:inside; }
details.step > summary .meta { color:var(--mute); font-size:12px; margin-left:6px; }
details.step > summary .hyp { display:block; color:var(--ink); font-size:12.5px;
  margin:2px 0 0 18px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
details.step[open] > summary { border-bottom:1px solid var(--line); background:var(--bg); }
.body { padding:4px 14px 12px; }
.grid2 { display:grid; grid-template-columns:minmax(0,1fr) minmax(0,1fr); gap:12px; }
@media (max-width:900px) { .grid2 { grid-template-columns:minmax(0,1fr); } }
details.sub > summary { cursor:pointer; color:var(--link); margin:6px 0; }
ul.problems { margin:4px 0; padding-left:20px; } ul.problems li { margin:3px 0; }
.muted { color:var(--mute); } p.lead { font-weight:600; margin:10px 0 4px; }
section, details.step { scroll-margin-top:40px; } .empty { color:var(--mute); font-style:italic; }
.toolbar { margin:6px 0 8px; }
.toolbar button { font:12px system-ui,sans-serif; margin:0 4px 4px 0; padding:3px 10px;
  border:1px solid var(--line); border-radius:12px; background:#fff; cursor:pointer; }
.toolbar button.active { background:var(--ink); color:#fff; border-color:var(--ink); }
.crit { color:var(--bug); font-weight:600; }
footer { margin-top:40px; color:var(--mute); font-size:12px; }
"""

JS = """
(function () {
  "use strict";
  var steps = document.querySelectorAll("details.step");
  var buttons = document.querySelectorAll("[data-filter]");
  function filter(want) {
    buttons.forEach(function (b) {
      var on = b.getAttribute("data-filter") === want;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    steps.forEach(function (step) {
      var show = want === "all" || step.getAttribute("data-outcome") === want ||
        (want === "final" && step.classList.contains("final"));
      step.hidden = !show;
    });
  }
  function reveal(id) {
    var el = id && document.getElementById(id);
    if (!el || el.tagName !== "DETAILS") { return; }
    if (el.hidden) { filter("all"); }  /* the toolbar must not claim a filter it broke */
    el.open = true;
    el.scrollIntoView({block: "start"});
  }
  function fromHash() { reveal(decodeURIComponent(location.hash.slice(1))); }
  window.addEventListener("hashchange", fromHash);
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest ? ev.target.closest("a") : null;
    if (!link) { return; }
    var href = link.getAttribute("href") || "";
    if (href.charAt(0) === "#" && href.slice(1) === decodeURIComponent(location.hash.slice(1))) {
      reveal(href.slice(1));  /* the same link again: no hashchange fires */
    }
  });
  buttons.forEach(function (button) {
    button.addEventListener("click", function () { filter(button.getAttribute("data-filter")); });
  });
  document.querySelectorAll("[data-expand]").forEach(function (button) {
    button.addEventListener("click", function () {
      var open = button.getAttribute("data-expand") === "open";
      steps.forEach(function (step) { if (!step.hidden) { step.open = open; } });
    });
  });
  document.querySelectorAll(".toolbar").forEach(function (t) { t.hidden = false; });
  fromHash();
})();
"""


def script_hash(script: str = JS) -> str:
    """The CSP source that allows exactly ``script`` inline (``'sha256-...'``)."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"
