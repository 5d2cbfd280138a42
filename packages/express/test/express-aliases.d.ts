// The npm-alias devDependencies that run the suites against other Express versions. They are
// typed with Express 5's types: the tests exercise their runtime, not their typings.
declare module 'express4' {
  import express from 'express';
  export default express;
}
declare module 'express5-0' {
  import express from 'express';
  export default express;
}
