// The flags of a ConfigMap mounted as a volume, re-read when the kubelet updates it.
//
// The kubelet updates a ConfigMap volume (not a `subPath` mount, which never changes) by
// writing a new directory and swapping the `..data` symlink, so the file's path stays and
// what it resolves to changes. FlagFile checks the resolved file's identity (inode, size,
// modification time) at most once per `checkIntervalMs`, on a lookup -- no timer, no
// watcher thread -- and re-reads the document when it changed.
import { readFileSync, statSync } from "node:fs";

import { bucket, isOn, type FlagState } from "./evaluate";
import { parseFlags } from "./parse";

// A ConfigMap holds at most 1 MiB; anything far larger is not a flags document.
const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

export interface FlagFileOptions {
  /** How often a lookup may check the file for a change, in ms (default 1000). */
  checkIntervalMs?: number;
  /** Receives the problems of each read that had any (unreadable file, bad JSON, bad entries). */
  onError?: (errors: readonly string[]) => void;
}

export class FlagFile {
  private readonly checkIntervalMs: number;
  private readonly onError?: (errors: readonly string[]) => void;
  private flags = new Map<string, FlagState>();
  private problems: readonly string[] = [];
  private identity = "";
  private checkedAt = -Infinity;

  /** `path` is the document, e.g. `/etc/feature-flags/flags.json`. */
  constructor(
    readonly path: string,
    options: FlagFileOptions = {},
  ) {
    this.checkIntervalMs = options.checkIntervalMs ?? 1000;
    this.onError = options.onError;
    this.refresh();
  }

  /** Whether the flag is on for the tenant; a flag missing from the document is off. */
  isOn(flagKey: string, tenantId: string): boolean {
    return isOn(this.flag(flagKey), tenantId);
  }

  /** The tenant's bucket for the flag, 0..99 (independent of the document). */
  bucket(flagKey: string, tenantId: string): number {
    return bucket(flagKey, tenantId);
  }

  /** The flag's current entry, or undefined when the document has none. */
  flag(flagKey: string): FlagState | undefined {
    if (Date.now() - this.checkedAt >= this.checkIntervalMs) this.refresh();
    return this.flags.get(flagKey);
  }

  /** The problems of the last read; empty when it was clean. */
  get errors(): readonly string[] {
    return this.problems;
  }

  /**
   * Re-reads the document now if it changed. An unreadable file or a document that is not
   * a JSON object keeps the flags last read (a missing file on the first read: all off);
   * a malformed entry is left out and the others are used.
   */
  refresh(): void {
    this.checkedAt = Date.now();
    let identity: string;
    let document: string;
    try {
      const stat = statSync(this.path);
      identity = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      if (identity === this.identity) return;
      if (stat.size > MAX_DOCUMENT_BYTES) {
        throw new Error(`larger than ${MAX_DOCUMENT_BYTES} bytes (${stat.size}); not read`);
      }
      document = readFileSync(this.path, "utf8");
    } catch (error) {
      this.report([`${this.path}: ${(error as Error).message}`]);
      return;
    }
    const parsed = parseFlags(document);
    if (parsed.readable) this.flags = parsed.flags;
    this.identity = identity;
    this.report(parsed.errors.map((error) => `${this.path}: ${error}`));
  }

  // Tells onError about new problems only, not the same ones at every check.
  private report(errors: readonly string[]): void {
    const same =
      errors.length === this.problems.length && errors.every((e, i) => e === this.problems[i]);
    this.problems = errors;
    if (errors.length > 0 && !same) this.onError?.(errors);
  }
}
