// Typesets the book's TeX into MathJax's CommonHTML for _ext/prerendered_math.py.
//
// Usage: node prerendered_math.js NODE_MODULES/mathjax FONT_URL
//
// The extension starts this once per build and writes one JSON request per line on its stdin;
// each is answered, in order, by one JSON line on stdout:
//   {"tex": "...", "display": true}  ->  {"html": "<mjx-container ...>", "usage": {...}}
//                                    or  {"error": "Missing close brace"}
//   {"usage": {...}}                 ->  {"css": "..."}
// A formula's "usage" lists what MathJax's adaptive stylesheet needs for it (the characters,
// the stretchy delimiters and the kinds of node it drew); the stylesheet for the union of the
// site's usages is byte for byte the one MathJax would write after typesetting every formula
// in one page, but it can be made again without typesetting anything (the extension caches
// each formula's HTML and usage, not the stylesheet).
'use strict';

const readline = require('node:readline');

const [mathjaxPackage, fontURL] = process.argv.slice(2);

// The TeX the browser's tex-chtml.js component reads (input/tex: base, ams, newcommand,
// require, autoload, configmacros, noundefined), less noundefined, which would draw an unknown
// macro in red: here it is an error, as is any other, and the extension fails the build.
const config = {
  loader: {
    load: ['input/tex', 'output/chtml', 'adaptors/liteDOM', 'a11y/assistive-mml'],
    // liteDOM, loaded from Node, has no version to compare; MathJax would say so on stderr.
    versionWarnings: false,
  },
  tex: {
    packages: {'[-]': ['noundefined']},
    formatError(jax, error) {
      throw error;
    },
  },
  // adaptiveCSS: the stylesheet holds only the characters the site uses (32 kB rather than
  // 240 kB).  The fonts are the site's own copy of MathJax's (FONT_URL, relative to the CSS).
  chtml: {fontURL, adaptiveCSS: true},
  startup: {typeset: false},
};

// In the browser MathJax scales each formula so that its x-height matches the surrounding
// text's.  Here there is no text to measure: the formulas are made at scale 1 (an ex of 0.442
// em is the TeX font's own x-height) and a CSS rule of the extension does the matching.
const METRICS = {em: 16, ex: 16 * 0.442, containerWidth: 80 * 16};

function usageOf(output) {
  return {
    wrappers: [...output.wrapperUsage.used],
    chars: [...output.font.charUsage.used],
    delimiters: [...output.font.delimUsage.used],
  };
}

function stylesheet(MathJax, usage) {
  const output = MathJax.startup.output;
  output.clearCache();
  // Usage sets hold their items as JSON text.
  usage.wrappers.forEach((item) => output.wrapperUsage.add(JSON.parse(item)));
  usage.chars.forEach((item) => output.font.charUsage.add(JSON.parse(item)));
  usage.delimiters.forEach((item) => output.font.delimUsage.add(JSON.parse(item)));
  return MathJax.startup.adaptor.textContent(MathJax.chtmlStylesheet());
}

async function answer(MathJax, request) {
  if (request.usage) return {css: stylesheet(MathJax, request.usage)};
  const output = MathJax.startup.output;
  output.clearCache(); // so that the usage read below is this formula's alone
  try {
    // The promise form waits for an extension that autoload fetches (\require, \cancel, ...).
    const node = await MathJax.tex2chtmlPromise(request.tex, {display: request.display, ...METRICS});
    return {html: MathJax.startup.adaptor.outerHTML(node), usage: usageOf(output)};
  } catch (error) {
    return {error: error.message};
  }
}

require(mathjaxPackage).init(config).then(async (MathJax) => {
  // One request at a time, in order: the usage bookkeeping above is per formula.
  for await (const line of readline.createInterface({input: process.stdin})) {
    process.stdout.write(JSON.stringify(await answer(MathJax, JSON.parse(line))) + '\n');
  }
}).catch((error) => {
  console.error(error);
  process.exit(1);
});
