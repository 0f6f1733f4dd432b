// Express 4 is installed under the alias `express4` (npm:express@^4) so that every behavioural
// test runs against both majors; its API is typed like Express 5's where the tests touch it.
declare module 'express4' {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the `export =` form Express's types use
  import express = require('express');
  export = express;
}
