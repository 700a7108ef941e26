// Sizes as people write them in mailroom.yaml: 512KB, 4MB, 1GB (powers of 1024), or plain bytes.

const UNIT = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as const;
const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?$/i;

/** Bytes, or undefined when the text is not a size. */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? 'B').toUpperCase() as keyof typeof UNIT;
  return Math.floor(Number(m[1]) * UNIT[unit]);
}

export const isSize = (text: string): boolean => parseSize(text) !== undefined;

/** 5.0 GB, 4.0 MB, 812 B: for messages. */
export function formatSize(bytes: number): string {
  if (bytes >= UNIT.GB) return `${(bytes / UNIT.GB).toFixed(1)} GB`;
  if (bytes >= UNIT.MB) return `${(bytes / UNIT.MB).toFixed(1)} MB`;
  if (bytes >= UNIT.KB) return `${(bytes / UNIT.KB).toFixed(1)} KB`;
  return `${bytes} B`;
}
