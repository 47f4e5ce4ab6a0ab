// The book's small behaviours: a click on a figure opens it full size; search snippets show math
// rendered (MathJax) rather than the raw TeX of the page sources.
(function () {
  "use strict";

  function fullSizeLinks() {
    document.querySelectorAll("div.cell_output img, figure img").forEach(function (img) {
      if (img.closest("a")) return;
      var a = document.createElement("a");
      a.href = img.currentSrc || img.src;
      a.className = "seleak-full-size";
      a.title = "open the figure full size";
      img.parentNode.insertBefore(a, img);
      a.appendChild(img);
    });
  }

  // TeX that a snippet cut in half (or that MathJax could not read) is shown as plain text
  var SYMBOLS = {
    le: "≤", ge: "≥", leq: "≤", geq: "≥", ne: "≠", approx: "≈", times: "×", cdot: "·", dots: "…",
    ldots: "…", infty: "∞", to: "→", oplus: "⊕", wedge: "∧", psi: "ψ", rho: "ρ", alpha: "α",
    Sigma: "Σ", sum: "Σ", log: "log", quad: " ", qquad: " ", mid: "|", lVert: "‖", rVert: "‖"
  };
  function plainTex(text) {
    return text
      .replace(/\\[()\[\]]/g, "")
      .replace(/\$\$?/g, "")
      .replace(/\\(?:mathrm|text|mathbf|mathit|operatorname|big|Big|left|right)\b\{?([^{}]*)\}?/g, "$1")
      .replace(/\\([A-Za-z]+)/g, function (m, name) { return SYMBOLS[name] !== undefined ? SYMBOLS[name] : name; })
      .replace(/\\[,;!: ]/g, " ")
      .replace(/[{}]/g, "");
  }
  function cleanText(root) {
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        return node.parentElement && node.parentElement.closest("mjx-container")
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      }
    });
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (n) {
      if (/\\[()\[\]A-Za-z]|\$/.test(n.nodeValue)) n.nodeValue = plainTex(n.nodeValue);
    });
  }

  var mathjax = null;
  function loadMathJax() {
    if (window.MathJax && window.MathJax.typesetPromise) return Promise.resolve();
    if (mathjax) return mathjax;
    var root = document.documentElement.dataset.content_root || "./";
    window.MathJax = {
      tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]] },
      startup: { typeset: false }
    };
    mathjax = new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = root + "_static/mathjax/tex-chtml.js";
      s.onload = function () { window.MathJax.startup.promise.then(resolve, reject); };
      s.onerror = reject;
      document.head.appendChild(s);
    });
    return mathjax;
  }

  function renderSnippets(results) {
    var snippets = Array.from(results.querySelectorAll("p.context")).filter(function (p) {
      return !p.dataset.seleakMath;
    });
    if (!snippets.length) return;
    snippets.forEach(function (p) { p.dataset.seleakMath = "1"; });
    loadMathJax()
      .then(function () { return window.MathJax.typesetPromise(snippets); })
      .catch(function () { /* no MathJax: plain text below */ })
      .then(function () { snippets.forEach(cleanText); });
  }

  function watchSearch() {
    var results = document.getElementById("search-results");
    if (!results) return;
    var timer = null;
    new MutationObserver(function () {
      clearTimeout(timer);
      timer = setTimeout(function () { renderSnippets(results); }, 150);
    }).observe(results, { childList: true, subtree: true });
  }

  document.addEventListener("DOMContentLoaded", function () {
    fullSizeLinks();
    watchSearch();
  });
})();
