// Files imported as text or as embedded paths (Bun's `with { type: ... }` imports).
declare module "*.proto" {
  const text: string;
  export default text;
}
declare module "*.yang" {
  const text: string;
  export default text;
}
declare module "*.o" {
  const path: string;
  export default path;
}
declare module "*.h" {
  const text: string;
  export default text;
}
