// What `mailroom service install` writes: a systemd user unit (Linux) or a LaunchAgent property list
// (macOS) that runs `mailroom daemon --root R` for one mailroom root. Pure: text from a spec, no IO.
// One service per root: its name carries a hash of the absolute root, so two mailrooms on one machine
// get two services, and installing the same root again replaces (and restarts) the same one.

import { basename, join } from 'node:path';
import { usageError } from '../errors.js';
import { sha256Hex } from '../hash.js';

export type ServicePlatform = 'linux' | 'darwin';

export interface ServiceSpec {
  /** Absolute path of the mailroom root the daemon serves. */
  root: string;
  /** Absolute path of the node binary that runs mailroom (process.execPath at install time). */
  node: string;
  /** Absolute path of mailroom's entry file (dist/bin/mailroom.js). */
  mailroom: string;
  /** PATH for the daemon, so a `notify` command finds the same programs as in the installing shell. */
  path: string;
}

export interface ServiceFiles {
  name: string;
  /** The unit or plist file. */
  file: string;
  /** macOS: the log file (StandardOutPath and StandardErrorPath); Linux logs go to the journal. */
  log?: string;
}

/** `mailroom-<folder name>-<8 hex of sha256(root)>`: readable, and distinct per root. */
export function serviceName(root: string): string {
  const slug =
    basename(root)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 32) || 'root';
  const hash = sha256Hex(root).slice(0, 8);
  return `mailroom-${slug}-${hash}`;
}

/** The launchd label of a service: `local.` is the prefix for agents a user installs themselves. */
export const launchdLabel = (name: string): string => `local.${name}`;

export function serviceFiles(platform: ServicePlatform, home: string, root: string): ServiceFiles {
  const name = serviceName(root);
  if (platform === 'linux') return { name, file: join(home, '.config/systemd/user', `${name}.service`) };
  return {
    name,
    file: join(home, 'Library/LaunchAgents', `${launchdLabel(name)}.plist`),
    log: join(home, 'Library/Logs/mailroom', `${name}.log`),
  };
}

function checkSpec(spec: ServiceSpec): void {
  for (const [what, value] of Object.entries(spec)) {
    // A control character cannot be written safely into either format (and no real path has one).
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is for control characters
    if (/[\u0000-\u001f\u007f]/.test(value))
      throw usageError(
        `the ${what} path ${JSON.stringify(value)} has a control character`,
        'move it to a plain path',
      );
  }
}

/** One word of an ExecStart= line: double-quoted, with systemd's specifiers (%) and variables ($) escaped. */
function systemdWord(word: string): string {
  const escaped = word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return `"${escaped}"`;
}

/** A value of Description= or WorkingDirectory=: only specifiers (%) are expanded there. */
const systemdValue = (value: string): string => value.replace(/%/g, '%%');

/** A quoted Environment= assignment: specifiers expanded, $ kept literally (no variable expansion). */
const systemdAssignment = (text: string): string =>
  `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`;

export function systemdUnit(spec: ServiceSpec): string {
  checkSpec(spec);
  const exec = [spec.node, spec.mailroom, 'daemon', '--root', spec.root].map(systemdWord).join(' ');
  return [
    '# Written by `mailroom service install`; `mailroom service uninstall` removes it.',
    '[Unit]',
    `Description=mailroom daemon for ${systemdValue(spec.root)}`,
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec}`,
    `WorkingDirectory=${systemdValue(spec.root)}`,
    `Environment=${systemdAssignment(`PATH=${spec.path}`)}`,
    // The daemon finishes the pass in flight on SIGTERM and exits 0; a crash or an error restarts it.
    'Restart=on-failure',
    'RestartSec=5s',
    'TimeoutStopSec=60s',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

const xml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function launchdPlist(spec: ServiceSpec, label: string, log: string): string {
  checkSpec(spec);
  const args = [spec.node, spec.mailroom, 'daemon', '--root', spec.root];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<!-- Written by `mailroom service install`; `mailroom service uninstall` removes it. -->',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key>\n  <string>${xml(label)}</string>`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...args.map((a) => `    <string>${xml(a)}</string>`),
    '  </array>',
    `  <key>WorkingDirectory</key>\n  <string>${xml(spec.root)}</string>`,
    '  <key>EnvironmentVariables</key>',
    `  <dict>\n    <key>PATH</key>\n    <string>${xml(spec.path)}</string>\n  </dict>`,
    '  <key>RunAtLoad</key>\n  <true/>',
    // Restarted when it exits with an error; a clean stop (exit 0) stays stopped.
    '  <key>KeepAlive</key>',
    '  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>',
    '  <key>ThrottleInterval</key>\n  <integer>10</integer>',
    '  <key>ProcessType</key>\n  <string>Background</string>',
    `  <key>StandardOutPath</key>\n  <string>${xml(log)}</string>`,
    `  <key>StandardErrorPath</key>\n  <string>${xml(log)}</string>`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
