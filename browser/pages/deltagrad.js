// What every page shares: start Python (Pyodide) with deltagrad in it, show a cell's outputs,
// render Markdown with its maths. Every file comes from this site: nothing from the network.
import { marked } from "./vendor/marked.esm.js";
import katex from "./vendor/katex/katex.mjs";

// The local install for what the browser cannot run (NumPy, matplotlib, PyTorch, PNG files).
export const LOCAL_INSTALL = [
  'python3 -m venv .venv && .venv/bin/pip install -e ".[demo,strategies,torch]" jupyterlab',
  ".venv/bin/jupyter lab demos/",
];

const STOPPED = [{ type: "error", name: "Stopped",
                   text: "Stopped: Python was started again, with nothing defined yet." }];

// Python with deltagrad, in a worker (python-worker.js), which starts Python as soon as it is
// created. Resolves, once deltagrad is imported, to {seconds, run(code, fresh) -> Promise of
// outputs, stop() -> Promise}: ``fresh`` runs in an empty namespace; stop() ends the running
// code by starting Python again.
export async function start(report = () => {}) {
  const begin = performance.now();
  report("loading Python (Pyodide)…");
  const waiting = new Map(); // run id -> resolve
  let worker = null;
  let nextId = 1;

  function boot() {
    worker = new Worker(new URL("python-worker.js", import.meta.url), { type: "module" });
    return new Promise((resolve, reject) => {
      worker.onerror = (event) => reject(new Error(event.message || "the Python worker failed"));
      worker.onmessage = ({ data }) => {
        if (data.type === "status") report(data.text);
        if (data.type === "failed") reject(new Error(data.message));
        if (data.type === "ready") {
          // each step's end in seconds since the page began to load, for the measuring script
          globalThis.deltagradSteps = Object.fromEntries(Object.entries(data.steps).map(
            ([step, at]) => [step, (at - performance.timeOrigin) / 1000]));
          globalThis.deltagradSteps["page told"] = performance.now() / 1000;
          resolve(data.version);
        }
        if (data.type === "outputs") {
          waiting.get(data.id)?.(data.outputs);
          waiting.delete(data.id);
        }
      };
    });
  }

  let booted = boot(); // runs wait for it: Stop may be starting Python again
  const version = await booted;
  const seconds = (performance.now() - begin) / 1000;
  globalThis.deltagradReady = seconds; // read by the tests and by the measuring script
  report(`ready: Pyodide ${version} and deltagrad loaded in ${seconds.toFixed(1)} s`);
  return {
    seconds,
    async run(code, fresh = false) {
      await booted;
      const id = nextId++;
      worker.postMessage({ type: "run", id, code, fresh });
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    async stop() {
      worker.terminate();
      for (const resolve of waiting.values()) resolve(STOPPED);
      waiting.clear();
      report("starting Python again…");
      const again = performance.now();
      booted = boot();
      await booted;
      report(`ready again in ${((performance.now() - again) / 1000).toFixed(1)} s`);
    },
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
