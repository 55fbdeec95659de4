// Python (Pyodide) with deltagrad, in a Web Worker: a long or endless cell never freezes the
// page, and the page can stop it by ending this worker and starting another.
// The worker starts Python as soon as it is created; it needs no message to begin.
// Messages in: {type: "run", id, code, fresh}.
// Messages out: {type: "status", text}, {type: "ready", version, steps}, {type: "failed", message},
// {type: "outputs", id, outputs} (run_cell.py's list).
import { loadPyodide } from "./vendor/pyodide/pyodide.mjs";

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return response;
}

const bytesOf = async (url) => (await fetchOk(url)).arrayBuffer();

// When each step of the start ended, in milliseconds since 1970 (the page's clock differs).
const steps = { "worker started": performance.timeOrigin + performance.now() };
const stepDone = (name) => { steps[name] = performance.timeOrigin + performance.now(); };

// Ready as soon as deltagrad is imported: Pyodide, deltagrad's own wheel unpacked into its
// site-packages with its modules' bytecode (compiled at build time: Pyodide would compile each
// module at every start), `import engine, nn, run_cell`. Starting Pyodide takes most of the
// time, so it begins at once and everything else is fetched meanwhile.
async function startPython() {
  const starting = loadPyodide({ indexURL: new URL("vendor/pyodide/", import.meta.url).href });
  const runner = fetchOk("run_cell.py").then((response) => response.text());
  const { wheels, bytecode } = await (await fetchOk("site.json")).json();
  const ownName = wheels.find((name) => name.startsWith("deltagrad-"));
  const own = bytesOf(`wheels/${ownName}`);
  const compiled = bytesOf(bytecode);
  const others = wheels.filter((name) => name !== ownName).map((name) => bytesOf(`wheels/${name}`));
  const pyodide = await starting;
  stepDone("Pyodide started");
  postMessage({ type: "status", text: "importing deltagrad…" });
  const sitePackages = pyodide.runPython("import sysconfig; sysconfig.get_path('purelib')");
  pyodide.unpackArchive(await own, "wheel", { extractDir: sitePackages });
  pyodide.unpackArchive(await compiled, "zip", { extractDir: sitePackages });
  pyodide.FS.writeFile(`${sitePackages}/run_cell.py`, await runner);
  stepDone("deltagrad unpacked");
  pyodide.runPython("import engine, nn, run_cell");
  stepDone("deltagrad imported");
  return { pyodide, sitePackages, others, cells: pyodide.pyimport("run_cell") };
}

// What only a run needs, once the page knows Python is ready: the other wheels (graphviz, tqdm,
// hypothesis, sortedcontainers) and viz.js as globalThis.deltagradViz (the renderer
// engine.pictures.render uses in the browser).
async function loadTheRest({ pyodide, sitePackages, others }) {
  for (const wheel of await Promise.all(others)) {
    pyodide.unpackArchive(wheel, "wheel", { extractDir: sitePackages });
  }
  const viz = await import("./vendor/viz.js");
  globalThis.deltagradViz = await viz.instance();
}

const python = startPython();
python.then(
  ({ pyodide }) => postMessage({ type: "ready", version: pyodide.version, steps }),
  (error) => postMessage({ type: "failed", message: String(error) }));
const rest = python.then(loadTheRest); // runs after the "ready" message: it was queued first

self.onmessage = async ({ data }) => {
  if (data.type !== "run") return;
  let outputs;
  try {
    const { cells } = await python;
    await rest;
    if (data.fresh) cells.reset();
    outputs = JSON.parse(cells.run(data.code));
  } catch (error) { // Pyodide itself failed (run_cell catches every Python error)
    outputs = [{ type: "error", name: "Fatal",
                 text: `Python stopped working: ${error}\nPress Stop to start it again.` }];
  }
  postMessage({ type: "outputs", id: data.id, outputs });
};
