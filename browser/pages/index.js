// The home page: the notebooks, each with a link to run it here or what it needs locally.
import { LOCAL_INSTALL } from "./deltagrad.js";

document.getElementById("install").textContent = LOCAL_INSTALL.join("\n");
const list = document.getElementById("notebooks");
const manifest = await (await fetch("site.json")).json();
for (const notebook of manifest.notebooks) {
  const item = document.createElement("li");
  if (notebook.needs) {
    item.append(`${notebook.title}: needs ${notebook.needs}, so it runs after the local ` +
      "install (below), not here.");
    item.className = "local";
  } else {
    const link = document.createElement("a");
    link.href = `notebook.html?nb=${encodeURIComponent(notebook.file)}`;
    link.textContent = notebook.title;
    item.append(link, ": runs here, every cell.");
  }
  item.dataset.file = notebook.file;
  list.append(item);
}
