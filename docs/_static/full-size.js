// The pictures on these pages are fitted to the text column, where a wide graph's labels get
// tiny: each picture becomes a link that opens it at full size (the file itself, no network).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("article img").forEach(function (img) {
    if (img.closest("a")) { return; }
    var link = document.createElement("a");
    link.href = img.getAttribute("src");
    link.className = "dg-full-size";
    link.title = "open the picture at full size";
    link.target = "_blank";
    link.rel = "noopener";
    img.parentNode.insertBefore(link, img);
    link.appendChild(img);
  });
});
