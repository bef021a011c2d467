// MathJax 3 for the Markdown pages (pymdownx.arithmatex, generic mode: \( \) and \[ \] inside
// .arithmatex) and for the lessons' Markdown cells ($ and $$, rendered by mkdocs-jupyter
// inside .jp-RenderedMarkdown). Everything else on a page is left alone. MathJax itself is
// served by the site (javascripts/mathjax/, copied in by docs/hooks.py): no network needed.
window.MathJax = {
  loader: {
    load: ["[tex]/textmacros"]     // \_ and friends inside \text{} and \texttt{} (conv\_transpose2d)
  },
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
    packages: {"[+]": ["textmacros"]}
  },
  options: {
    // Ignore every element with a class (Material's whole page) except these two; an element
    // without a class (the <p> and <li> of a notebook's Markdown) inherits its parent's choice.
    // (".*|" would also match the empty class and so skip the text inside those <p>.)
    ignoreHtmlClass: ".+",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown|mathjax-process"
  },
  startup: {
    // Material wraps each table in <div class="md-typeset__scrollwrap"><div class="md-typeset__table">;
    // those classes would hide a notebook table's formulas ($s$ in lesson 7's table) from MathJax.
    pageReady() {
      document.querySelectorAll(".jp-RenderedMarkdown .md-typeset__scrollwrap, .jp-RenderedMarkdown .md-typeset__table")
        .forEach(e => e.classList.add("mathjax-process"))
      return MathJax.startup.defaultPageReady()
    }
  }
};

// Material's instant navigation swaps pages without a reload: typeset each new page. The first
// page is typeset by MathJax's own startup (before it, MathJax.startup.output does not exist yet).
document$.subscribe(() => {
  if (!(MathJax.startup && MathJax.startup.output)) return
  MathJax.startup.output.clearCache()
  MathJax.typesetClear()
  MathJax.texReset()
  MathJax.typesetPromise()
})
