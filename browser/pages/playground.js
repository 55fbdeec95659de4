// The playground: an editor, starter examples, Run, and a link that carries the code.
import { showOutputs, start } from "./deltagrad.js";

const code = document.getElementById("code");
const runButton = document.getElementById("run");
const stopButton = document.getElementById("stop");
const output = document.getElementById("output");
const status = document.getElementById("status");
const picker = document.getElementById("example");

// Python starts first: it takes seconds, everything else a moment.
const started = start((text) => { status.textContent = text; });

// The code in a link: #code=<base64url of the UTF-8 text>.
function encode(text) {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}
function decode(fragment) {
  const base64 = fragment.replace(/-/g, "+").replace(/_/g, "/");
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}
function codeFromLink() {
  const match = location.hash.match(/^#code=([A-Za-z0-9_-]*)$/);
  if (!match) return null;
  try { return decode(match[1]); } catch { return null; }
}

let python = null;

async function run() {
  if (!python || runButton.disabled) return;
  runButton.disabled = true;
  stopButton.disabled = false;
  status.textContent = "running…";
  output.replaceChildren();
  const begin = performance.now();
  const outputs = await python.run(code.value, true); // each run starts from nothing
  showOutputs(outputs, output);
  const failed = outputs.some((o) => o.type === "error" || o.type === "needs");
  if (!stopping) {
    status.textContent = `${failed ? "stopped with an error" : "done"} in ` +
      `${((performance.now() - begin) / 1000).toFixed(1)} s`;
  }
  output.dataset.runs = String(Number(output.dataset.runs || 0) + 1); // for the tests
  stopButton.disabled = true;
  runButton.disabled = stopping;
}

// Stop a run that takes too long (an endless loop): Python starts again, in a few seconds.
let stopping = false;
async function stop() {
  stopping = true;
  stopButton.disabled = true;
  await python.stop();
  stopping = false;
  runButton.disabled = false;
}

code.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    run();
  } else if (e.key === "Tab" && !e.shiftKey) { // indent, not leave the editor
    e.preventDefault();
    code.setRangeText("    ", code.selectionStart, code.selectionEnd, "end");
  }
});
runButton.addEventListener("click", run);
stopButton.addEventListener("click", stop);
document.getElementById("share").addEventListener("click", async () => {
  history.replaceState(null, "", `#code=${encode(code.value)}`);
  let copied = false;
  try { await navigator.clipboard.writeText(location.href); copied = true; } catch { /* */ }
  document.getElementById("shared").textContent = copied
    ? "link copied" : "the address bar now holds the code";
});

// The examples come with the site, not with Python: they show while Python starts.
const response = await fetch("site.json");
if (!response.ok) throw new Error(`site.json: ${response.status}`);
const { examples } = await response.json();
for (const name of Object.keys(examples)) {
  picker.append(new Option(name.replace(/_/g, " "), name));
}
picker.addEventListener("change", () => {
  code.value = examples[picker.value];
  history.replaceState(null, "", location.pathname + location.search);
});
const linked = codeFromLink();
if (linked === null) {
  picker.value = "neuron" in examples ? "neuron" : Object.keys(examples)[0];
  code.value = examples[picker.value];
} else {
  picker.value = "";
  code.value = linked;
}
window.addEventListener("hashchange", () => { // a shared link pasted into this tab
  const linked = codeFromLink();
  if (linked !== null) { code.value = linked; picker.value = ""; }
});
try {
  python = await started;
} catch (error) {
  status.textContent = `Python could not start: ${error}`;
  throw error;
}
runButton.disabled = false;
document.body.dataset.ready = "true";
