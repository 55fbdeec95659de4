// A notebook in the page: its Markdown rendered, its code cells run in order with their outputs.
// notebook.html?nb=01-values-and-graphs.ipynb (add &run=all to run every cell once loaded).
import { markdown, showOutputs, start } from "./deltagrad.js";

const params = new URLSearchParams(location.search);
const file = params.get("nb") || "";
const cellsBox = document.getElementById("cells");
const status = document.getElementById("status");
const runAll = document.getElementById("run-all");

const stopButton = document.getElementById("stop");

let python = null;
let running = false; // "Run all cells" is going through the cells
let stopped = false;
const codeCells = [];

function sourceOf(cell) {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

function addCodeCell(source) {
  const box = document.createElement("section");
  box.className = "cell code";
  box.dataset.status = "not run";
  const editor = document.createElement("textarea");
  editor.value = source;
  editor.spellcheck = false;
  editor.rows = source.split("\n").length;
  editor.setAttribute("aria-label", `code cell ${codeCells.length + 1}`);
  const run = document.createElement("button");
  run.type = "button";
  run.textContent = "Run";
  const outputs = document.createElement("div");
  outputs.className = "outputs";
  box.append(run, editor, outputs);
  cellsBox.append(box);
  const cell = { box, editor, outputs };
  run.addEventListener("click", () => runCell(cell));
  editor.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.shiftKey) { e.preventDefault(); runCell(cell); }
  });
  codeCells.push(cell);
}

// Run one cell; its status: "ok", "error" or "needs" (a package with no browser build).
async function runCell(cell) {
  if (!python) return "not run";
  cell.box.dataset.status = "running";
  stopButton.disabled = false;
  const outputs = await python.run(cell.editor.value);
  stopButton.disabled = !running;
  cell.outputs.replaceChildren();
  showOutputs(outputs, cell.outputs);
  const needs = outputs.some((o) => o.type === "needs");
  const error = outputs.some((o) => o.type === "error");
  cell.box.dataset.status = error ? "error" : needs ? "needs" : "ok";
  return cell.box.dataset.status;
}

async function runAllCells() {
  runAll.disabled = true;
  const begin = performance.now();
  const counts = { ok: 0, error: 0, needs: 0 };
  running = true;
  stopped = false;
  for (const [k, cell] of codeCells.entries()) {
    status.textContent = `running cell ${k + 1} of ${codeCells.length}…`;
    counts[await runCell(cell)] += 1;
    if (stopped) break;
  }
  running = false;
  stopButton.disabled = true;
  if (stopped) {
    status.textContent = "stopped: Python started again; run the cells from the top";
    runAll.disabled = false;
    return;
  }
  const seconds = (performance.now() - begin) / 1000;
  status.textContent = `${counts.ok} of ${codeCells.length} cells ran` +
    (counts.error ? `, ${counts.error} with an error` : "") +
    (counts.needs ? `, ${counts.needs} need a local install` : "") +
    ` (${seconds.toFixed(1)} s)`;
  document.body.dataset.done = JSON.stringify({ ...counts, cells: codeCells.length, seconds });
  runAll.disabled = false;
}

async function load() {
  if (!/^[\w.-]+\.ipynb$/.test(file)) throw new Error(`no notebook named ${JSON.stringify(file)}`);
  const response = await fetch(`notebooks/${file}`);
  if (!response.ok) throw new Error(`notebooks/${file}: ${response.status}`);
  const notebook = await response.json();
  for (const cell of notebook.cells) {
    if (cell.cell_type === "code") {
      addCodeCell(sourceOf(cell));
    } else if (cell.cell_type === "markdown") {
      const box = document.createElement("section");
      box.className = "cell markdown";
      box.innerHTML = markdown(sourceOf(cell));
      cellsBox.append(box);
    }
  }
  const heading = cellsBox.querySelector("h1");
  if (heading) {
    document.title = `${heading.textContent} · deltagrad`;
    document.getElementById("title").textContent = heading.textContent;
  }
}

const started = start((text) => { status.textContent = text; }); // first: it takes seconds
try {
  await load();
  python = await started;
} catch (error) {
  status.textContent = `${error}`;
  throw error;
}
runAll.disabled = false;
runAll.addEventListener("click", runAllCells);
stopButton.addEventListener("click", async () => { // an endless cell: start Python again
  stopped = true;
  stopButton.disabled = true;
  await python.stop();
});
document.body.dataset.ready = "true";
if (params.get("run") === "all") runAllCells();
