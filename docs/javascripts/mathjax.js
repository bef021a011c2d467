// MathJax 3 for the Markdown pages (pymdownx.arithmatex, generic mode: \( \) and \[ \] inside
// .arithmatex) and for the lessons' Markdown cells ($ and $$, rendered by mkdocs-jupyter
// inside .jp-RenderedMarkdown). Everything else on a page is left alone.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown"
  }
};

document$.subscribe(() => {
  MathJax.startup.output.clearCache()
  MathJax.typesetClear()
  MathJax.texReset()
  MathJax.typesetPromise()
})
