// A small, strict reader of XML property lists (the subset launchd files use: dict, array, string,
// integer, true, false), for checking the LaunchAgent mailroom writes where plutil does not exist.
// Anything outside that subset, an unknown entity, or a stray character is an error, not a skip.

export type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  if (/[<>]/.test(text)) throw new Error(`markup inside text: ${text}`);
  return text.replace(/&([a-z]+);|&/g, (m, name: string | undefined) => {
    const v = name === undefined ? undefined : ENTITIES[name];
    if (v === undefined) throw new Error(`bad entity ${m}`);
    return v;
  });
}

export function parsePlist(xml: string): PlistValue {
  const header =
    /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1\.0\/\/EN" "http:\/\/www\.apple\.com\/DTDs\/PropertyList-1\.0\.dtd">\s*(?:<!--[\s\S]*?-->\s*)?<plist version="1\.0">/;
  const m = header.exec(xml);
  if (!m) throw new Error('not an XML property list header');
  let pos = m[0].length;
  const skip = () => {
    while (/\s/.test(xml[pos] ?? '')) pos++;
  };
  const expect = (token: string) => {
    skip();
    if (!xml.startsWith(token, pos))
      throw new Error(`expected ${token} at ${pos}: ${xml.slice(pos, pos + 30)}`);
    pos += token.length;
  };
  const text = (tag: string): string => {
    expect(`<${tag}>`);
    const end = xml.indexOf(`</${tag}>`, pos);
    if (end < 0) throw new Error(`unclosed <${tag}>`);
    const raw = xml.slice(pos, end);
    pos = end + tag.length + 3;
    return decode(raw);
  };
  const value = (): PlistValue => {
    skip();
    if (xml.startsWith('<string>', pos)) return text('string');
    if (xml.startsWith('<integer>', pos)) {
      const t = text('integer');
      if (!/^-?\d+$/.test(t)) throw new Error(`bad integer ${t}`);
      return Number(t);
    }
    for (const [token, flag] of [
      ['<true/>', true],
      ['<false/>', false],
    ] as const) {
      if (xml.startsWith(token, pos)) {
        expect(token);
        return flag;
      }
    }
    if (xml.startsWith('<array>', pos)) {
      expect('<array>');
      const out: PlistValue[] = [];
      for (skip(); !xml.startsWith('</array>', pos); skip()) out.push(value());
      expect('</array>');
      return out;
    }
    if (xml.startsWith('<dict>', pos)) {
      expect('<dict>');
      const out: { [key: string]: PlistValue } = {};
      for (skip(); !xml.startsWith('</dict>', pos); skip()) {
        const key = text('key');
        if (key in out) throw new Error(`duplicate key ${key}`);
        out[key] = value();
      }
      expect('</dict>');
      return out;
    }
    throw new Error(`unexpected at ${pos}: ${xml.slice(pos, pos + 30)}`);
  };
  const root = value();
  expect('</plist>');
  skip();
  if (pos !== xml.length) throw new Error('trailing content after </plist>');
  return root;
}
