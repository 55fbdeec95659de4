// deltagrad's modules compiled by the browser's own Python, at build time (browser/build.py runs
// it): node compile_bytecode.mjs WHEEL OUT.zip. OUT.zip holds each module's __pycache__ file,
// to unpack beside the wheel's sources, so that `import engine` in the page reads bytecode
// instead of compiling every module (Pyodide never writes bytecode itself). The files are
// hash-checked: Python uses one only while it matches its source.
import { readFileSync, writeFileSync } from "node:fs";
import { loadPyodide } from "pyodide";

const [wheel, out] = process.argv.slice(2);
const pyodide = await loadPyodide();
pyodide.unpackArchive(new Uint8Array(readFileSync(wheel)), "wheel", { extractDir: "/wheel" });
pyodide.runPython(`
import compileall, py_compile, zipfile
from pathlib import Path

root = Path("/wheel")
if not compileall.compile_dir(root, quiet=1,
                              invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH):
    raise SystemExit("a module of the wheel does not compile")
with zipfile.ZipFile("/bytecode.zip", "w", zipfile.ZIP_DEFLATED) as archive:
    for path in sorted(root.rglob("*.pyc")):
        archive.write(path, path.relative_to(root).as_posix())
`);
writeFileSync(out, pyodide.FS.readFile("/bytecode.zip"));
