// Markdown to DOM nodes for task bodies and results, safely: every piece of text becomes a text node
// (never markup), and only http, https and mailto links become links. A link with any other scheme
// (javascript:, data:, vbscript:, a relative path) is shown as the text it was written as.
// The subset: headings, paragraphs, lists, block quotes, fenced code, inline code, bold, italics, links.

const SAFE_SCHEMES = ['http:', 'https:', 'mailto:'];

/** The URL as a safe absolute link target, or null. */
export function safeHref(raw) {
  const href = raw.trim();
  if (!/^(https?:\/\/|mailto:)/i.test(href)) return null;
  try {
    const url = new URL(href);
    return SAFE_SCHEMES.includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

const INLINE = [
  { kind: 'code', re: /`([^`\n]+)`/ },
  { kind: 'link', re: /\[([^\]\n]*)\]\(([^()\s]*)\)/ },
  { kind: 'auto', re: /<((?:https?:\/\/|mailto:)[^<>\s]+)>/i },
  { kind: 'strong', re: /\*\*([^*\n]+)\*\*/ },
  { kind: 'em', re: /\*([^*\n]+)\*|\b_([^_\n]+)_\b/ },
];

/** Inline Markdown of one block into `parent`. */
function inline(doc, parent, text) {
  let rest = text;
  while (rest.length > 0) {
    let best = null;
    for (const p of INLINE) {
      const m = p.re.exec(rest);
      if (m && (best === null || m.index < best.m.index)) best = { kind: p.kind, m };
    }
    if (best === null) {
      parent.append(doc.createTextNode(rest));
      return;
    }
    const { kind, m } = best;
    if (m.index > 0) parent.append(doc.createTextNode(rest.slice(0, m.index)));
    parent.append(inlineNode(doc, kind, m));
    rest = rest.slice(m.index + m[0].length);
  }
}

function inlineNode(doc, kind, m) {
  if (kind === 'code') {
    const code = doc.createElement('code');
    code.textContent = m[1];
    return code;
  }
  if (kind === 'link' || kind === 'auto') {
    const href = safeHref(kind === 'link' ? m[2] : m[1]);
    if (href === null) return doc.createTextNode(m[0]);
    const a = doc.createElement('a');
    a.href = href;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    if (kind === 'link') inline(doc, a, m[1] || href);
    else a.textContent = m[1];
    return a;
  }
  const el = doc.createElement(kind);
  inline(doc, el, m[1] ?? m[2] ?? '');
  return el;
}

/** Markdown text -> a DocumentFragment. */
export function renderMarkdown(text, doc = document) {
  const frag = doc.createDocumentFragment();
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  let para = [];
  const flush = () => {
    if (para.length === 0) return;
    const p = doc.createElement('p');
    inline(doc, p, para.join(' '));
    frag.append(p);
    para = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      flush();
      const code = [];
      for (i++; i < lines.length && !lines[i].trimStart().startsWith(fence[1]); i++) code.push(lines[i]);
      i++;
      const pre = doc.createElement('pre');
      const c = doc.createElement('code');
      c.textContent = code.join('\n');
      pre.append(c);
      frag.append(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      const h = doc.createElement(`h${Math.min(heading[1].length + 2, 6)}`);
      inline(doc, h, heading[2]);
      frag.append(h);
      i++;
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+/.exec(line);
    if (item) {
      flush();
      const ordered = /\d/.test(item[1]);
      const list = doc.createElement(ordered ? 'ol' : 'ul');
      while (i < lines.length) {
        const m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i]);
        if (!m) break;
        const li = doc.createElement('li');
        inline(doc, li, m[2]);
        list.append(li);
        i++;
      }
      frag.append(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      flush();
      const quoted = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) quoted.push(lines[i].replace(/^\s*>\s?/, ''));
      const q = doc.createElement('blockquote');
      q.append(renderMarkdown(quoted.join('\n'), doc));
      frag.append(q);
      continue;
    }
    if (line.trim() === '') flush();
    else para.push(line.trim());
    i++;
  }
  flush();
  return frag;
}
