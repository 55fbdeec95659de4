// Python (Pyodide) with deltagrad, in a Web Worker: a long or endless cell never freezes the
// page, and the page can stop it by ending this worker and starting another.
// Messages in: {type: "start", wheels}, {type: "run", id, code, fresh}.
// Messages out: {type: "status", text}, {type: "ready", version}, {type: "failed", message},
// {type: "outputs", id, outputs} (run_cell.py's list).
import { loadPyodide } from "./vendor/pyodide/pyodide.mjs";
import { instance as vizInstance } from "./vendor/viz.js";

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return response;
}

// Pyodide, the wheels unpacked into its site-packages, viz.js as globalThis.deltagradViz (the
// renderer engine.pictures.render uses in the browser), deltagrad imported; run_cell's module.
async function boot(wheelNames) {
  const wheels = wheelNames.map((name) => fetchOk(`wheels/${name}`).then((r) => r.arrayBuffer()));
  const runner = fetchOk("run_cell.py").then((r) => r.text());
  const viz = vizInstance();
  const pyodide = await loadPyodide({ indexURL: new URL("vendor/pyodide/", import.meta.url).href });
  postMessage({ type: "status", text: "installing deltagrad…" });
  const sitePackages = pyodide.runPython("import sysconfig; sysconfig.get_path('purelib')");
  for (const buffer of await Promise.all(wheels)) {
    pyodide.unpackArchive(buffer, "wheel", { extractDir: sitePackages });
  }
  pyodide.FS.writeFile(`${sitePackages}/run_cell.py`, await runner);
  globalThis.deltagradViz = await viz;
  pyodide.runPython("import engine, nn, run_cell");
  return { cells: pyodide.pyimport("run_cell"), version: pyodide.version };
}

let cells = null;
self.onmessage = async ({ data }) => {
  if (data.type === "start") {
    try {
      const python = await boot(data.wheels);
      cells = python.cells;
      postMessage({ type: "ready", version: python.version });
    } catch (error) {
      postMessage({ type: "failed", message: String(error) });
    }
  } else if (data.type === "run") {
    let outputs;
    try {
      if (data.fresh) cells.reset();
      outputs = JSON.parse(cells.run(data.code));
    } catch (error) { // Pyodide itself failed (run_cell catches every Python error)
      outputs = [{ type: "error", name: "Fatal",
                   text: `Python stopped working: ${error}\nPress Stop to start it again.` }];
    }
    postMessage({ type: "outputs", id: data.id, outputs });
  }
};
