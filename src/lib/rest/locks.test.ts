// The REST layer's locks: writes to one cube in order, to different cubes side by side, reads
// between writes, daemon-wide operations alone.
import { expect, test } from "bun:test";
import { CubeLocks } from "./locks.ts";

/** An operation that runs until released, logging when it starts and ends. */
function op(log: string[], name: string) {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const start = new Promise<void>((r) => (started = r));
  return {
    fn: async () => {
      log.push(`${name}+`);
      started();
      await held;
      log.push(`${name}-`);
    },
    release,
    start,
  };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

test("writes to different cubes overlap; writes to one cube keep their order", async () => {
  const locks = new CubeLocks();
  const log: string[] = [];
  const a1 = op(log, "a1"), a2 = op(log, "a2"), b1 = op(log, "b1");
  const done = [locks.write("a", a1.fn), locks.write("a", a2.fn), locks.write("b", b1.fn)];
  await Promise.all([a1.start, b1.start]);
  await settle();
  expect(log).toEqual(["a1+", "b1+"]); // a2 waits for a1; b1 did not wait
  a2.release();
  b1.release();
  await settle();
  expect(log).toEqual(["a1+", "b1+", "b1-"]);
  a1.release();
  await Promise.all(done);
  expect(log).toEqual(["a1+", "b1+", "b1-", "a1-", "a2+", "a2-"]);
});

test("reads run together between a cube's writes, and a waiting write holds back later reads", async () => {
  const locks = new CubeLocks();
  const log: string[] = [];
  const r1 = op(log, "r1"), r2 = op(log, "r2"), w = op(log, "w"), r3 = op(log, "r3");
  const done = [locks.read("a", r1.fn), locks.read("a", r2.fn), locks.write("a", w.fn), locks.read("a", r3.fn)];
  await Promise.all([r1.start, r2.start]);
  await settle();
  expect(log).toEqual(["r1+", "r2+"]);
  r3.release();
  w.release();
  r1.release();
  await settle();
  expect(log).toEqual(["r1+", "r2+", "r1-"]); // the write waits for r2, r3 for the write
  r2.release();
  await Promise.all(done);
  expect(log).toEqual(["r1+", "r2+", "r1-", "r2-", "w+", "w-", "r3+", "r3-"]);
});

test("a daemon-wide operation runs alone, after earlier cube work and before later", async () => {
  const locks = new CubeLocks();
  const log: string[] = [];
  const a = op(log, "a"), x = op(log, "x"), b = op(log, "b");
  const done = [locks.write("a", a.fn), locks.exclusive(x.fn), locks.read("b", b.fn)];
  await a.start;
  await settle();
  expect(log).toEqual(["a+"]);
  b.release();
  x.release();
  a.release();
  await Promise.all(done);
  expect(log).toEqual(["a+", "a-", "x+", "x-", "b+", "b-"]);
});

test("an operation that throws releases its lock", async () => {
  const locks = new CubeLocks();
  await expect(locks.write("a", async () => {
    throw new Error("refused");
  })).rejects.toThrow("refused");
  expect(await locks.write("a", async () => 1)).toBe(1);
  expect(await locks.exclusive(async () => 2)).toBe(2);
});
