// The shared vectors generated from the C++ reference (clients/testdata/flag_vectors.json).
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { bucket, isOn, murmur3_x86_32, parseFlags, type FlagState } from "../src/index";

interface Vectors {
  murmur3: { input: string; hash: number }[];
  cases: { flag: FlagState; tenant: string; bucket: number; isOn: boolean }[];
  documents: { document: string; flags: FlagState[]; errorCount: number }[];
}

// Compiled to build-test/test/, four levels below the repository's clients/.
const vectors = JSON.parse(
  readFileSync(join(__dirname, "..", "..", "..", "testdata", "flag_vectors.json"), "utf8"),
) as Vectors;

test("murmur3_x86_32 matches the C++ header on every vector", () => {
  assert.ok(vectors.murmur3.length >= 16);
  for (const v of vectors.murmur3) {
    assert.equal(murmur3_x86_32(v.input), v.hash, JSON.stringify(v.input));
  }
});

test("bucket and isOn match the C++ header on every vector", () => {
  assert.ok(vectors.cases.length >= 100);
  for (const v of vectors.cases) {
    const what = `${JSON.stringify(v.flag)} tenant ${JSON.stringify(v.tenant)}`;
    assert.equal(bucket(v.flag.key, v.tenant), v.bucket, what);
    assert.equal(isOn(v.flag, v.tenant), v.isOn, what);
  }
});

test("parseFlags keeps and drops the entries the C++ parser does", () => {
  assert.ok(vectors.documents.length >= 15);
  for (const v of vectors.documents) {
    const parsed = parseFlags(v.document);
    const flags = [...parsed.flags.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
    assert.deepEqual(flags, v.flags, v.document);
    assert.equal(parsed.errors.length, v.errorCount, `${v.document}: ${parsed.errors.join("; ")}`);
  }
});

test("a missing flag is off", () => {
  assert.equal(isOn(undefined, "t-1"), false);
});

test("murmur3_x86_32 hashes bytes and honours the seed", () => {
  assert.equal(murmur3_x86_32(new TextEncoder().encode("hello")), murmur3_x86_32("hello"));
  assert.equal(murmur3_x86_32("", 1), 0x514e28b7); // reference value of the empty input, seed 1
});
