/**
 * Syntax highlighting for fenced code blocks: highlight.js core with a few common languages
 * registered explicitly (the full build is ~10× larger). highlight.js escapes the code; the result
 * is still sanitised with the rest of the message (lib/markdown).
 */
import hljs from 'highlight.js/lib/core'
import bash from 'highlight.js/lib/languages/bash'
import c from 'highlight.js/lib/languages/c'
import cpp from 'highlight.js/lib/languages/cpp'
import css from 'highlight.js/lib/languages/css'
import go from 'highlight.js/lib/languages/go'
import java from 'highlight.js/lib/languages/java'
import javascript from 'highlight.js/lib/languages/javascript'
import json from 'highlight.js/lib/languages/json'
import python from 'highlight.js/lib/languages/python'
import rust from 'highlight.js/lib/languages/rust'
import sql from 'highlight.js/lib/languages/sql'
import typescript from 'highlight.js/lib/languages/typescript'
import xml from 'highlight.js/lib/languages/xml'
import yaml from 'highlight.js/lib/languages/yaml'

const LANGUAGES = { bash, c, cpp, css, go, java, javascript, json, python, rust, sql, typescript, xml, yaml }
for (const [name, fn] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, fn)
// Names models often write that the grammars do not alias themselves.
hljs.registerAliases(['sh', 'shell', 'zsh', 'console'], { languageName: 'bash' })
hljs.registerAliases(['vue', 'svg'], { languageName: 'xml' })

/** The language a fence names (`python`, `ts`, `html` …) when it is registered, else null. */
export function knownLanguage(info: string): string | null {
  const name = info.trim().split(/\s+/)[0]?.toLowerCase() ?? ''
  const language = name ? hljs.getLanguage(name) : undefined
  return language ? name : null
}

/** Escaped, highlighted HTML for `code` in `info`'s language; '' when the language is unknown. */
export function highlightCode(code: string, info: string): string {
  const language = knownLanguage(info)
  if (!language) return ''
  try {
    return hljs.highlight(code, { language, ignoreIllegals: true }).value
  } catch {
    return ''
  }
}
