// FlagFile against a directory laid out as the kubelet lays out a ConfigMap volume:
// flags.json -> ..data/flags.json, ..data -> ..<timestamp>/, swapped atomically on update.
import * as assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";

import { FlagFile } from "../src/index";

let volume = "";
let generation = 0;

// Writes a new ..<n> directory with the document and swaps ..data to it, as the kubelet does.
function publish(document: string): void {
  const dir = `..${++generation}`;
  mkdirSync(join(volume, dir));
  writeFileSync(join(volume, dir, "flags.json"), document);
  symlinkSync(dir, join(volume, "..data_tmp"));
  renameSync(join(volume, "..data_tmp"), join(volume, "..data"));
}

const flag = (percentage: number, extra = {}) =>
  JSON.stringify({ voice_agent_v2: { enabled: true, percentage, ...extra } });

beforeEach(() => {
  volume = mkdtempSync(join(tmpdir(), "flag-file-"));
  generation = 0;
  publish(flag(0));
  symlinkSync(join("..data", "flags.json"), join(volume, "flags.json"));
});

afterEach(() => rmSync(volume, { recursive: true, force: true }));

test("sees the kubelet's symlink swap after the check interval", () => {
  const flags = new FlagFile(join(volume, "flags.json"), { checkIntervalMs: 0 });
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), false); // 0 %
  publish(flag(100));
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), true);
  publish(flag(100, { disabledTenants: ["tenant-0001"] }));
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), false);
  assert.deepEqual(flags.errors, []);
});

test("does not look at the file again within the check interval", () => {
  const flags = new FlagFile(join(volume, "flags.json"), { checkIntervalMs: 60_000 });
  publish(flag(100));
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), false);
  flags.refresh();
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), true);
});

test("keeps the last flags when the document turns unreadable, and reports it once", () => {
  const reported: string[][] = [];
  const flags = new FlagFile(join(volume, "flags.json"), {
    checkIntervalMs: 0,
    onError: (errors) => reported.push([...errors]),
  });
  publish(flag(100));
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), true);
  publish("{not json");
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), true);
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), true);
  assert.equal(reported.length, 1);
  assert.match(reported[0][0], /not valid JSON/);
  publish(JSON.stringify({ voice_agent_v2: { enabled: true, percentage: 140 }, other: {} }));
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), false); // the bad entry is left out
  assert.match(flags.errors[0], /voice_agent_v2\.percentage/);
});

test("a missing file is all off, with an error", () => {
  const flags = new FlagFile(join(volume, "absent.json"), { checkIntervalMs: 0 });
  assert.equal(flags.isOn("voice_agent_v2", "tenant-0001"), false);
  assert.match(flags.errors[0], /absent\.json/);
});
