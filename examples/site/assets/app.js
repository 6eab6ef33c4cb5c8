// A small script so the example has a JavaScript asset. Pier stores a
// brotli and a gzip copy of text assets at deploy time and picks one per
// request from Accept-Encoding, so this file travels compressed.
(function () {
  "use strict";

  function describeHost() {
    var host = location.host;
    var preview = host.indexOf("--") > 0;
    return preview
      ? "You are looking at a preview deployment (" + host + ")."
      : "Served at " + host + ".";
  }

  function addFooter() {
    var main = document.querySelector("main");
    if (!main) {
      return;
    }
    var p = document.createElement("p");
    p.className = "served-by";
    p.textContent = describeHost();
    main.appendChild(p);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addFooter);
  } else {
    addFooter();
  }
})();
