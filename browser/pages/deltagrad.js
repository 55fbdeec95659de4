// What every page shares: start Python (Pyodide) with deltagrad in it, show a cell's outputs,
// render Markdown with its maths. Every file comes from this site: nothing from the network.
import { loadPyodide } from "./vendor/pyodide/pyodide.mjs";
import { instance as vizInstance } from "./vendor/viz.js";
import { marked } from "./vendor/marked.esm.js";
import katex from "./vendor/katex/katex.mjs";

// The local install for what the browser cannot run (NumPy, matplotlib, PyTorch, PNG files).
export const LOCAL_INSTALL = [
  'python3 -m venv .venv && .venv/bin/pip install -e ".[demo,strategies,torch]" jupyterlab',
  ".venv/bin/jupyter lab demos/",
];

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return response;
}

// Python with deltagrad imported, and viz.js as globalThis.deltagradViz (engine's renderer in
// the browser). Resolves to {run(code) -> outputs, reset(), seconds}.
export async function start(report = () => {}) {
  const begin = performance.now();
  report("loading Python (Pyodide)…");
  const manifest = await (await fetchOk("site.json")).json();
  const wheels = manifest.wheels.map(
    (name) => fetchOk(`wheels/${name}`).then((r) => r.arrayBuffer()));
  const runner = fetchOk("run_cell.py").then((r) => r.text());
  const viz = vizInstance();
  const pyodide = await loadPyodide({ indexURL: new URL("vendor/pyodide/", document.baseURI).href });
  performance.mark("deltagrad: Pyodide loaded");
  report("installing deltagrad…");
  const sitePackages = pyodide.runPython("import sysconfig; sysconfig.get_path('purelib')");
  for (const buffer of await Promise.all(wheels)) {
    pyodide.unpackArchive(buffer, "wheel", { extractDir: sitePackages });
  }
  pyodide.FS.writeFile(`${sitePackages}/run_cell.py`, await runner);
  globalThis.deltagradViz = await viz;
  performance.mark("deltagrad: wheels unpacked, viz.js ready");
  pyodide.runPython("import engine, nn, run_cell");
  const cells = pyodide.pyimport("run_cell");
  const seconds = (performance.now() - begin) / 1000;
  globalThis.deltagradReady = seconds; // read by the tests and by the measuring script
  report(`ready: Pyodide ${pyodide.version} and deltagrad loaded in ${seconds.toFixed(1)} s`);
  return {
    manifest,
    seconds,
    run: (code) => JSON.parse(cells.run(code)),
    reset: () => cells.reset(),
  };
}

// Markdown with $inline$ and $$display$$ maths (KaTeX), as the notebooks write it.
export function markdown(text) {
  const maths = [];
  const stash = (tex, displayMode) => {
    maths.push(katex.renderToString(tex, { displayMode, throwOnError: false }));
    return `%%MATH${maths.length - 1}%%`;
  };
  const source = text
    .replace(/\$\$([\s\S]+?)\$\$/g, (_, tex) => stash(tex, true))
    .replace(/\$((?:\\.|[^$\\])+?)\$/g, (_, tex) => stash(tex, false));
  return marked.parse(source).replace(/%%MATH(\d+)%%/g, (_, k) => maths[Number(k)]);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// A note for a cell that needs a package the browser does not have.
export function localInstallNote(what) {
  const note = element("div", "needs");
  note.append(element("p", "", `This needs ${what}, which does not run in the browser. ` +
    "Run it on your machine, from a clone of the repository:"));
  note.append(element("pre", "", LOCAL_INSTALL.join("\n")));
  return note;
}

// Append a cell's outputs to `into`: text as text, pictures as SVG, HTML with its scripts run
// (the film-strip player), an error with its traceback.
export function showOutputs(outputs, into) {
  for (const out of outputs) {
    let box;
    if (out.type === "display" && out.mime === "text/html") {
      box = element("div", "output html");
      box.innerHTML = out.data;
    } else if (out.type === "display" && out.mime === "image/svg+xml") {
      box = element("div", "output svg");
      box.innerHTML = out.data;
    } else if (out.type === "display" && out.mime === "text/markdown") {
      box = element("div", "output markdown");
      box.innerHTML = markdown(out.data);
    } else if (out.type === "needs") {
      box = localInstallNote(out.package);
      box.classList.add("output");
    } else {
      box = element("pre", `output ${out.type === "display" ? "text" : out.type}`,
        out.type === "display" ? out.data : out.text);
    }
    into.append(box);
    for (const old of box.querySelectorAll("script")) { // innerHTML never runs scripts
      const script = document.createElement("script");
      script.textContent = old.textContent;
      old.replaceWith(script);
    }
  }
}

// Let the page paint (a status line) before a long synchronous Python run.
export function paint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
