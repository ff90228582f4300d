// The CLI baseline: `bun build --compile` of this file is the smallest Bun executable.
console.log("hello");
